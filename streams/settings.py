"""streammon's one configuration object.

Settings come from, highest priority first: environment variables (prefix
``STREAMMON_``, nested fields joined with ``__``, e.g.
``STREAMMON_WINDOW__SIZE=5000``), a YAML file (``--config`` or
``STREAMMON_CONFIG``), and the defaults below, which work for the demo on the
local broker. They are read once, at the CLI entry point, and passed down.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from streams.errors import ConfigError

ENV_PREFIX = "STREAMMON_"
CONFIG_ENV = "STREAMMON_CONFIG"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """Where the broker is and what the topics are called."""

    bootstrap_servers: str = "127.0.0.1:9092"
    predictions_topic: str = "streammon.predictions"
    features_topic: str = "streammon.features"
    labels_topic: str = "streammon.labels"
    reports_topic: str = "streammon.reports"
    alerts_topic: str = "streammon.alerts"
    dead_letter_topic: str = "streammon.dead-letter"
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    group_id: str = "streammon-worker"

    def namespaced(self, prefix: str) -> KafkaSettings:
        """A copy whose topics are ``<prefix>.<role>`` and whose group is ``streammon-<prefix>``.

        Gives a run (a demo, a test) topics and a consumer group of its own.
        """
        return self.model_copy(
            update={
                "predictions_topic": f"{prefix}.predictions",
                "features_topic": f"{prefix}.features",
                "labels_topic": f"{prefix}.labels",
                "reports_topic": f"{prefix}.reports",
                "alerts_topic": f"{prefix}.alerts",
                "dead_letter_topic": f"{prefix}.dead-letter",
                "group_id": f"streammon-{prefix}",
            }
        )


class BrokerSettings(_Section):
    """The local Apache Kafka broker that ``streammon broker start`` provisions."""

    home: Path = Path.home() / ".cache" / "streammon"
    port: int = Field(default=9092, ge=1, le=65535)
    controller_port: int = Field(default=9093, ge=1, le=65535)
    heap: str = "512m"


class WindowSettings(_Section):
    """Tumbling windows per model: a window closes at ``size`` events or ``duration_s`` of event time."""

    size: int = Field(default=1000, ge=10)
    duration_s: float = Field(default=300.0, gt=0)


class ReferenceSettings(_Section):
    """What each window is compared with: a file, or the first ``size`` events of each model."""

    path: Path | None = None
    size: int = Field(default=2000, ge=10)

    @field_validator("path")
    @classmethod
    def _readable_table(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        if path.suffix.lower() not in {".csv", ".parquet", ".pq"}:
            raise ValueError(f"must be a .csv or .parquet file, got {path.name!r}")
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return path


class DriftSettings(_Section):
    """How each window is tested for drift.

    ``num_method`` / ``cat_method`` name Evidently stattests (``null`` keeps
    Evidently's size-aware defaults). ``alpha`` is the family-wise false-alarm
    level of one window: p-value thresholds are ``alpha / columns tested``.
    """

    num_method: str | None = "ks"
    cat_method: str | None = "chi2_homogeneity"
    alpha: float | None = Field(default=0.01, gt=0, lt=1)
    per_feature_method: dict[str, str] = Field(default_factory=dict)
    per_feature_threshold: dict[str, float] = Field(default_factory=dict)
    max_rows: int = Field(default=5000, ge=100)


class AlertSettings(_Section):
    """When a window's drift becomes an alert."""

    min_drifted_features: int = Field(default=1, ge=1)
    critical_share: float = Field(default=0.5, gt=0, le=1)
    prediction_drift: bool = True


class WorkspaceSettings(_Section):
    """The local Evidently workspace that receives one snapshot per window."""

    path: Path = Path("streammon-workspace")
    project: str = "streammon"


class WorkerSettings(_Section):
    """The stream worker process."""

    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.5, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    state_dir: Path = Path(".streammon")
    join_capacity: int = Field(default=100_000, ge=1)


class Settings(BaseSettings):
    """Everything streammon can be told, in one frozen object."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    kafka: KafkaSettings = KafkaSettings()
    broker: BrokerSettings = BrokerSettings()
    window: WindowSettings = WindowSettings()
    reference: ReferenceSettings = ReferenceSettings()
    drift: DriftSettings = DriftSettings()
    alerts: AlertSettings = AlertSettings()
    workspace: WorkspaceSettings = WorkspaceSettings()
    worker: WorkerSettings = WorkerSettings()

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        if self.broker.port == self.broker.controller_port:
            raise ValueError("broker.port and broker.controller_port must differ")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # load_settings passes the YAML file's content as init arguments; the
        # environment must still win over it.
        return (env_settings, init_settings)


def load_settings(config_file: Path | None = None) -> Settings:
    """Read the settings once, failing fast with the name of each bad setting.

    Parameters
    ----------
    config_file
        A YAML file; when omitted, ``STREAMMON_CONFIG`` names one, if set.

    Raises
    ------
    ConfigError
        When the file is missing or unreadable, or a value is invalid. The
        message names the setting both as a dotted YAML path and as its
        environment variable.
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    from_file = _read_yaml(config_file) if config_file is not None else {}
    try:
        return Settings(**from_file)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        path = [str(part) for part in error["loc"]]
        dotted = ".".join(path) or "(root)"
        env = ENV_PREFIX + "__".join(part.upper() for part in path)
        lines.append(f"{dotted} ({env}): {error['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)

