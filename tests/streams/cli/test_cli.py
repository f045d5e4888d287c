import subprocess
import sys

import pytest

COMMANDS = [
    [],
    ["broker"],
    ["broker", "start"],
    ["broker", "stop"],
    ["broker", "status"],
    ["worker"],
    ["publish"],
    ["alerts"],
    ["alerts", "firing"],
    ["alerts", "silence"],
    ["alerts", "unsilence"],
    ["alerts", "silences"],
    ["calibrate"],
    ["demo"],
]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=60, env=env)


def test_top_level_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("broker", "worker", "publish", "alerts", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "streammon")
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_a_config_error_exits_2_with_one_line_naming_the_setting() -> None:
    import os

    env = {**os.environ, "STREAMMON_WINDOW__SIZE": "-1"}
    result = run("broker", "status", env=env)
    assert result.returncode == 2
    assert "window.size (STREAMMON_WINDOW__SIZE)" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_publish_kind_is_a_usage_error(tmp_path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("{}\n")
    result = run("publish", str(events), "--kind", "nonsense")
    assert result.returncode == 2 and "--kind" in result.stderr
