"""The README's demo, `streammon demo`, end to end on the local broker: every one of its checks passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli.demo import run_demo
from streams.settings import Settings

pytestmark = pytest.mark.integration


def test_the_demo_passes_every_check_before_its_deadline(bootstrap_servers: str, tmp_path: Path) -> None:
    # The demo runs on the local broker of the default settings, the one `make test` starts.
    settings = Settings(workspace={"path": str(tmp_path / "workspace")}, worker={"state_dir": str(tmp_path / "state")})
    assert run_demo(settings, timeout_s=120), "a check of the demo failed (its output above says which)"
