"""The configuration file of :func:`streams.settings.load_settings`: YAML, with secrets referred to, never written out.

A secret (a ``SecretStr`` setting, however deep) is written in the file as
``${NAME}`` and read from the environment variable ``NAME``; one written out,
or referring to an unset variable, is a configuration error. Errors name the
setting both as a dotted YAML path and as its environment variable, never a
secret's value.
"""

from __future__ import annotations

import os
import re
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from streams.errors import ConfigError

__all__ = ["ENV_PREFIX", "describe_errors", "invalid", "read_yaml", "resolve_secrets"]

ENV_PREFIX = "STREAMMON_"
"""The prefix of every environment variable that sets a setting."""

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def read_yaml(path: Path) -> dict[str, Any]:
    """The sections of the YAML file at ``path``; :class:`ConfigError` if it cannot be read or is not a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        # Not str(exc), nor chained: it quotes the offending lines, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path} is not valid YAML: {problem}{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def resolve_secrets(value: Any, annotation: Any, problems: list[str]) -> Any:
    """``value``, read from the file for a setting of type ``annotation``, with each secret's ``${NAME}`` replaced by the variable's value.

    Each secret written out, or referring to an unset variable, adds a line to ``problems``.
    """
    return _resolve(value, annotation, (), problems)


def _resolve(value: Any, annotation: Any, path: tuple[str | int, ...], problems: list[str]) -> Any:
    # Walks the file's data along the settings' types, so that every SecretStr,
    # however deep (a receiver's header), is found.
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is SecretStr:
        return _secret_reference(value, path, problems)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not isinstance(value, dict):
            return value  # the model's own validation reports it
        fields = {**annotation.model_fields, **{f.alias: f for f in annotation.model_fields.values() if f.alias}}
        return {
            key: _resolve(item, fields[key].annotation, (*path, key), problems) if key in fields else item
            for key, item in value.items()
        }
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        arms = [arm for arm in args if arm is not type(None)]
        return _resolve(value, arms[0], path, problems) if len(arms) == 1 else value
    if origin is list and args[0] is SecretStr and isinstance(value, str):
        # One reference to a variable that holds the whole list (state_keys: ${STATE_KEYS}).
        return _secret_reference(value, path, problems)
    if origin is list and isinstance(value, list):
        return [_resolve(item, args[0], (*path, i), problems) for i, item in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {key: _resolve(item, args[1], (*path, key), problems) for key, item in value.items()}
    return value


def _secret_reference(value: Any, path: tuple[str | int, ...], problems: list[str]) -> Any:
    if value is None:
        return None
    found = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
    if found is not None and found.group(1) in os.environ:
        return os.environ[found.group(1)]
    # Pydantic-settings cannot address an item of a list (a receiver) by a variable of its own.
    settable = not any(isinstance(part, int) for part in path)
    where = f"{_dotted(path)} ({_env_name(path)})" if settable else _dotted(path)
    if found is not None:
        problems.append(f"{where}: refers to the environment variable {found.group(1)}, which is not set")
    else:
        instead = f"set {_env_name(path)}, or write" if settable else "write"
        problems.append(
            f"{where}: a secret cannot be written in the config file; {instead} ${{NAME}} to read it from the environment variable NAME"
        )
    return value


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in path) or "(root)"


def _env_name(path: tuple[str | int, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in path)


def invalid(problems: list[str]) -> str:
    """One error message listing ``problems``, a line each."""
    return "invalid configuration:\n  " + "\n  ".join(problems)


def describe_errors(exc: ValidationError) -> str:
    """The settings' validation errors, each naming its setting as a dotted path and as an environment variable."""
    return invalid([f"{_dotted(error['loc'])} ({_env_name(error['loc'])}): {error['msg']}" for error in exc.errors()])
