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
