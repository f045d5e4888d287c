"""The configuration reference's block is the file with every default: it must name every setting and nothing else, at its default."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from streams.settings import Settings, load_settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "configuration.md"


def defaults_block() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) == 1, "the configuration page holds one YAML block: the file with every default"
    return blocks[0]


def yaml_paths(value: Any, model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted paths of the settings in a mapping of sections (a mapping-valued setting such as ``{}`` is one setting)."""
    found: set[str] = set()
    fields = {field.alias or name: field for name, field in model.model_fields.items()}
    for name, item in value.items():
        field = fields.get(name)
        annotation = field.annotation if field is not None else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(item, dict):
            found |= yaml_paths(item, annotation, f"{prefix}{name}.")
        else:
            found.add(f"{prefix}{name}")
    return found


def test_the_block_names_every_setting_and_no_other() -> None:
    written = yaml_paths(yaml.safe_load(defaults_block()), Settings)
    defaults = yaml_paths(Settings().model_dump(mode="json", by_alias=True), Settings)
    assert sorted(defaults - written) == [], "settings missing from the configuration page's block"
    assert sorted(written - defaults) == [], "the configuration page's block names settings that do not exist"


def test_the_block_is_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("STREAMMON_"):
            monkeypatch.delenv(name)
    config = tmp_path / "defaults.yaml"
    config.write_text(defaults_block(), encoding="utf-8")
    assert load_settings(config) == Settings()
