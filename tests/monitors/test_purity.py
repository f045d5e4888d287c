"""monitors/ is pure computation: it imports no Kafka, Faust, network or I/O library."""

import ast
from pathlib import Path

import monitors

FORBIDDEN = {
    "kafka",
    "aiokafka",
    "faust",
    "mode",
    "socket",
    "requests",
    "httpx",
    "urllib",
    "http",
    "os",
    "subprocess",
    "pathlib",
    "streams",
    "prometheus_client",
    "time",
}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_monitors_import_nothing_forbidden() -> None:
    root = Path(monitors.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 30
    offenders = {str(f.relative_to(root)): sorted(imported_roots(f) & FORBIDDEN) for f in files}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


# The concepts of monitors/ from the bottom up, as docs/code-map.md lists them: each
# imports only those before it, so the layers read one way and no cycle can form.
LAYERS = ["alerting", "evidently", "windows", "intake", "drift", "quality", "labels", "online", "workspace", "partition"]


def concept_imports(path: Path) -> set[str]:
    """The concepts of monitors/ that ``path`` imports (its own included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name.split(".")[1] for name in names if name.startswith("monitors.") and name.count(".") >= 1)
    return found & set(LAYERS)


def test_each_concept_imports_only_the_concepts_below_it() -> None:
    root = Path(monitors.__file__).parent
    assert sorted(LAYERS) == sorted(
        p.stem if p.is_file() else p.name for p in root.iterdir() if p.name in set(LAYERS) | {"partition.py"}
    )
    upward = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        concept = relative.parts[0].removesuffix(".py")
        if concept not in LAYERS:
            continue
        above = {c for c in concept_imports(path) if LAYERS.index(c) > LAYERS.index(concept)}
        if above:
            upward[str(relative)] = sorted(above)
    assert upward == {}
