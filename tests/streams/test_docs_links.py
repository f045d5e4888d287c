"""What the README and the pages under docs/ name exists: links and their anchors, code paths and modules, commands and options, make targets.

The docs name things in three ways: Markdown links, code spans (`` `streams/worker/` ``) and
fenced code blocks. Links are read from the prose only; paths, modules, commands and
targets from code spans and code blocks, where the docs quote them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import typer

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
SPAN = re.compile(r"`([^`]+)`")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", flags=re.MULTILINE)
# A path into the repository's code, tests or assets, as the docs write it: from the repository's root.
PATH = re.compile(r"(?<![\w./$<>-])((?:monitors|streams|tests|bench|scripts|grafana|deploy|examples|\.ci)/[\w./-]*)(?![\w./:-])")
MODULE = re.compile(r"(?<![\w./-])((?:monitors|streams)(?:\.\w+)+)")
COMMAND = re.compile(r"(?:^|(?<=[\s/`]))streammon[ \t]+([^`#\n]*)")
MAKE = re.compile(r"(?:^|(?<=\s))make[ \t]+([A-Za-z][\w.-]*)")


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def quoted(text: str) -> Iterator[str]:
    """Every code span of the prose (whitespace folded) and every line of the code blocks."""
    for span in SPAN.findall(prose(text)):
        yield " ".join(span.split())
    for block in FENCE.findall(text):
        yield from block.splitlines()


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, without punctuation, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def heading_anchors(text: str) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, title in HEADING.findall(prose(text)):
        base = slug(title)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


@cache
def anchors(page: Path) -> frozenset[str]:
    return heading_anchors(page.read_text(encoding="utf-8"))


def link_problems(page: Path, text: str) -> list[str]:
    """Relative links whose file does not exist, or whose anchor is no heading of its page."""
    problems = []
    for target in LINK.findall(prose(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:: not checked here
            continue
        path_part, _, anchor = target.partition("#")
        if not path_part:
            if anchor not in heading_anchors(text):
                problems.append(f"{target}: no such heading on this page")
            continue
        resolved = (page.parent / path_part).resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    return problems


def path_problems(text: str) -> list[str]:
    """Repository paths and dotted ``monitors``/``streams`` names, quoted in code, that do not exist."""
    problems = []
    for snippet in quoted(text):
        for path in PATH.findall(snippet):
            if not (ROOT / path.rstrip(".")).exists():
                problems.append(f"{path}: no such file or folder")
        for name in MODULE.findall(snippet):
            if not module_or_member_exists(name.rstrip(".")):
                problems.append(f"{name}: no such module (or name in it)")
    return problems


def module_or_member_exists(dotted: str) -> bool:
    """A module's file, or a name defined at the top of one (``package.module.Name``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        if source.is_file():
            rest = parts[cut:]
            return not rest or (len(rest) == 1 and rest[0] in top_level_names(source))
    return False


@cache
def top_level_names(source: Path) -> frozenset[str]:
    names = set()
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name for alias in node.names}
    return frozenset(names)


# typer builds its commands with the click it carries, so they are told apart by what they
# have (a group its ``commands``, an option its ``opts``), not by click's classes.
Command = Any


@cache
def cli() -> Command:
    """The command group behind the ``streammon`` entry point of pyproject.toml (its typer app)."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module = import_module(scripts["streammon"].split(":")[0])
    command = typer.main.get_command(module.app)
    assert is_group(command), "the streammon command is a group of commands"
    return command


def is_group(command: Command) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def option(command: Command, token: str) -> Any:
    """The option of ``command`` that ``token`` (``--name`` or ``--name=value``) names, or None."""
    name = token.split("=", 1)[0]
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def command_problems(text: str) -> list[str]:
    """``streammon …`` quoted in code whose commands or options do not exist."""
    return [problem for snippet in quoted(text) for rest in COMMAND.findall(snippet) for problem in check_command(rest)]


def check_command(rest: str) -> list[str]:
    """What is wrong with ``streammon <rest>``: commands and options that do not exist."""
    return walk_command(rest)[0]


def walk_command(rest: str) -> tuple[list[str], list[str]]:
    """Walk ``streammon <rest>`` as click would: options of each command, subcommands of each group.

    Square brackets (optional parts) are read through; ``a | b`` after a subcommand names
    alternatives of the same group (``broker start | stop | status``). Returns what is
    wrong and the commands named (``streammon broker start``, ``streammon broker stop``…).
    """
    tokens = [token.strip("[]") for token in rest.replace("\\|", " | ").split()]
    tokens = [token for token in tokens if token]
    said = f"streammon {rest.strip()}"
    command = cli()
    path = ["streammon"]
    named: list[str] = []
    parent = None
    problems = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "|" and parent is not None and i + 1 < len(tokens):
            if tokens[i + 1] not in parent.commands:
                problems.append(f"{said}: no command {tokens[i + 1]!r} in {parent.name!r}")
            named.append(" ".join([*path[:-1], tokens[i + 1]]))
            i += 2
            continue
        if token.startswith("-") and token != "-":
            found = option(command, token)
            if found is None and token != "--help":
                problems.append(f"{said}: {command.name!r} has no option {token}")
            takes_value = found is not None and not found.is_flag and not found.count and "=" not in token
            i += 2 if takes_value else 1
            continue
        if is_group(command) and re.fullmatch(r"[A-Za-z][\w-]*", token):
            if token not in command.commands:
                problems.append(f"{said}: no command {token!r} in {command.name!r}")
                return problems, named
            parent, command = command, command.commands[token]
            path.append(token)
            i += 1
            continue
        parent = None  # an argument: what follows are its command's options and arguments
        i += 1
    return problems, [" ".join(path), *named]


@cache
def make_targets() -> frozenset[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", makefile, flags=re.MULTILINE))


def make_problems(text: str) -> list[str]:
    return [
        f"make {target}: no such target in the Makefile"
        for snippet in quoted(text)
        for target in MAKE.findall(snippet)
        if target not in make_targets()
    ]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_link_resolves(page: Path) -> None:
    assert link_problems(page, page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_path_and_module_named_exists(page: Path) -> None:
    assert path_problems(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_and_option_named_exists(page: Path) -> None:
    assert command_problems(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_make_target_named_exists(page: Path) -> None:
    assert make_problems(page.read_text(encoding="utf-8")) == []


def test_the_docs_are_found() -> None:
    assert len(PAGES) > 10, "README.md and the pages under docs/"
    assert "streammon" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_checks_see_what_is_broken() -> None:
    """Each check reports a page that names what does not exist (and passes its real twin)."""
    page = ROOT / "docs" / "index.md"
    broken = "\n".join(
        [
            "# Title",
            "[gone](concepts/gone.md), [bad anchor](concepts/drift.md#no-such-heading), [ok](#title)",
            "`monitors/nowhere.py`, `streams.nowhere`, `monitors.partition.Nowhere`",
            "`streammon nowhere`, `streammon alerts nowhere`, `streammon models export M --nowhere x`",
            "```sh",
            "streammon broker start | halt",
            "make nowhere",
            "```",
        ]
    )
    assert link_problems(page, broken) == [
        "concepts/gone.md: no such file",
        "concepts/drift.md#no-such-heading: no heading #no-such-heading in docs/concepts/drift.md",
    ]
    assert path_problems(broken) == [
        "monitors/nowhere.py: no such file or folder",
        "streams.nowhere: no such module (or name in it)",
        "monitors.partition.Nowhere: no such module (or name in it)",
    ]
    assert command_problems(broken) == [
        "streammon nowhere: no command 'nowhere' in 'streammon'",
        "streammon alerts nowhere: no command 'nowhere' in 'alerts'",
        "streammon models export M --nowhere x: 'export' has no option --nowhere",
        "streammon broker start | halt: no command 'halt' in 'broker'",
    ]
    assert make_problems(broken) == ["make nowhere: no such target in the Makefile"]
    fine = "[ok](concepts/drift.md#multivariate-drift) `monitors.partition.PartitionMonitor` `streammon alerts silence -m a=b --duration 2h` `make test`"
    assert (link_problems(page, fine), path_problems(fine), command_problems(fine), make_problems(fine)) == ([], [], [], [])
