"""streammon's one configuration object.

Settings come from, highest priority first: environment variables (prefix
``STREAMMON_``, nested fields joined with ``__``, e.g.
``STREAMMON_WINDOW__SIZE=5000``), a YAML file (``--config`` or
``STREAMMON_CONFIG``), and the defaults below, which work for the demo on the
local broker. They are read once, at the CLI entry point, and passed down.

Secrets (every ``SecretStr`` setting: Kafka passwords, receivers' URLs and
headers) come from the environment only. In the YAML file a secret is written
as a reference, ``${NAME}``, replaced at load by the environment variable
``NAME``; a secret written out in the file is rejected, since files get copied,
committed and shown. Kafka's secrets can also be set directly, e.g.
``STREAMMON_KAFKA__SASL_PASSWORD``. Reading the file and its secret references
is :mod:`streams.config_file`'s part.
"""

# Over 500 lines on purpose: this is the schema of the one configuration object,
# section after section of fields with their bounds and descriptions, kept in one
# module so that it reads in the order of the README's configuration block and a
# new setting has one place to go. How the settings are read is in streams/config_file.py.

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from monitors.alerting.matchers import parse_matchers
from monitors.alerting.routing import Route, RouteConfig
from monitors.workspace.retention import Retention
from streams.config_file import ENV_PREFIX, describe_errors, invalid, read_yaml, resolve_secrets
from streams.errors import ConfigError
from streams.receiver_settings import ReceiverConfig

CONFIG_ENV = "STREAMMON_CONFIG"

# A path as a shell would read it: a YAML file's ``~/.cache/streammon`` is the user's home, not a folder named "~".
UserPath = Annotated[Path, AfterValidator(Path.expanduser)]


class _Section(BaseModel):
    # hide_input_in_errors: a rejected value may be a password or a webhook URL.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
SSL_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


class KafkaSettings(_Section):
    """Where the broker is, how to authenticate to it, and what the topics are called.

    ``security_protocol`` is Kafka's own (``PLAINTEXT``, ``SSL``,
    ``SASL_PLAINTEXT``, ``SASL_SSL``); the SASL protocols need
    ``sasl_mechanism``, ``sasl_username`` and ``sasl_password``, the SSL ones
    may name a CA file and a client certificate and key. Every Kafka client
    streammon creates gets them (see :mod:`streams.kafka_clients`).
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: SecurityProtocol = "PLAINTEXT"
    # validate_default: a SASL protocol with a missing credential must fail
    # even though the credential was never given.
    sasl_mechanism: SaslMechanism | None = Field(default=None, validate_default=True)
    sasl_username: str | None = Field(default=None, validate_default=True)
    sasl_password: SecretStr | None = Field(default=None, validate_default=True)
    ssl_cafile: UserPath | None = Field(
        default=None, description="CA certificates (PEM) to verify the brokers; default: the system's"
    )
    ssl_certfile: UserPath | None = Field(default=None, description="client certificate (PEM), for brokers that require one")
    ssl_keyfile: UserPath | None = Field(default=None, description="the client certificate's private key (PEM)")
    ssl_password: SecretStr | None = Field(default=None, description="password of an encrypted ssl_keyfile")
    ssl_check_hostname: bool = True
    predictions_topic: str = "streammon.predictions"
    features_topic: str = "streammon.features"
    labels_topic: str = "streammon.labels"
    reports_topic: str = "streammon.reports"
    alerts_topic: str = "streammon.alerts"
    dead_letter_topic: str = "streammon.dead-letter"
    silences_topic: str = "streammon.silences"
    alert_state_topic: str = "streammon.alert-state"
    state_topic: str = "streammon.worker-state"
    model_status_topic: str = "streammon.model-status"
    model_updates_topic: str = "streammon.model-updates"
    control_topic: str = "streammon.control"
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    group_id: str = "streammon-worker"

    @field_validator("sasl_mechanism", "sasl_username", "sasl_password")
    @classmethod
    def _sasl_with_sasl_protocols(cls, value: object, info: ValidationInfo) -> object:
        protocol = info.data.get("security_protocol")
        if protocol is None:
            return value  # the protocol itself is invalid and reported
        if protocol in SASL_PROTOCOLS and value is None:
            raise ValueError(f"security_protocol {protocol} needs it")
        if protocol not in SASL_PROTOCOLS and value is not None:
            raise ValueError(f"only used with SASL_PLAINTEXT or SASL_SSL, but security_protocol is {protocol}")
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password")
    @classmethod
    def _ssl_with_ssl_protocols(cls, value: object, info: ValidationInfo) -> object:
        protocol = info.data.get("security_protocol")
        if value is None or protocol is None:
            return value
        if protocol not in SSL_PROTOCOLS:
            raise ValueError(f"only used with SSL or SASL_SSL, but security_protocol is {protocol}")
        if isinstance(value, Path) and not value.is_file():
            raise ValueError(f"file not found: {value}")
        # A certificate file that failed validation is absent from info.data: reported already.
        if (
            info.field_name in ("ssl_keyfile", "ssl_password")
            and "ssl_certfile" in info.data
            and info.data["ssl_certfile"] is None
        ):
            raise ValueError("needs ssl_certfile")
        return value

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
                "silences_topic": f"{prefix}.silences",
                "alert_state_topic": f"{prefix}.alert-state",
                "state_topic": f"{prefix}.worker-state",
                "model_status_topic": f"{prefix}.model-status",
                "model_updates_topic": f"{prefix}.model-updates",
                "control_topic": f"{prefix}.control",
                "group_id": f"streammon-{prefix}",
            }
        )


class BrokerSettings(_Section):
    """The local Apache Kafka broker that ``streammon broker start`` provisions."""

    home: UserPath = Path.home() / ".cache" / "streammon"
    port: int = Field(default=9092, ge=1, le=65535)
    # Not 9093: that is Alertmanager's port, and Debian's package may start one there.
    controller_port: int = Field(default=19093, ge=1, le=65535)
    heap: str = "512m"


class WindowSettings(_Section):
    """Tumbling windows per model: a window closes at ``size`` events or ``duration_s`` of event time."""

    size: int = Field(default=1000, ge=10)
    duration_s: float = Field(default=300.0, gt=0)


class ReferenceSettings(_Section):
    """What each window is compared with: a file, or the first ``size`` events of each model."""

    path: UserPath | None = None
    size: int = Field(default=2000, ge=10)
    rolling_windows: int | None = Field(
        default=None, ge=1, description="compare each window with the last N closed windows instead of a fixed reference"
    )

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
    Evidently's size-aware defaults). ``alpha`` bounds the false-alarm chance of
    one stationary window; ``correction`` spreads it over the window's p-value
    tests: Benjamini-Hochberg (``bh``, the default), ``bonferroni`` or ``none``.
    """

    num_method: str | None = "ks"
    cat_method: str | None = "chi2_homogeneity"
    alpha: float | None = Field(default=0.01, gt=0, lt=1)
    correction: Literal["bh", "bonferroni", "none"] = "bh"
    calibrate_distances: bool = Field(
        default=True,
        description="distance methods get a threshold from the reference's own sub-window variability, not a constant",
    )
    per_feature_method: dict[str, str] = Field(default_factory=dict)
    per_feature_threshold: dict[str, float] = Field(default_factory=dict)
    max_rows: int = Field(default=5000, ge=100)
    multivariate: bool = Field(
        default=True,
        description=(
            "also score each window by the reconstruction error of a PCA fitted on the reference's features "
            "(alert kind multivariate_drift): sees a change in how features relate that no per-feature test sees"
        ),
    )
    multivariate_level: float = Field(
        default=0.001, gt=0, lt=1, description="chance that a stationary window reaches the multivariate threshold"
    )


def _seconds(value: object) -> object:
    return parse_duration(value) if isinstance(value, str) else value


def parse_duration(text: str) -> float:
    """Read an Alertmanager-style duration ("30s", "5m", "4h", "1h30m", "2d", or seconds) as seconds.

    >>> parse_duration("1h30m"), parse_duration("45")
    (5400.0, 45.0)
    """
    value = text
    text = text.strip()
    total, rest = 0.0, text
    for unit, factor in (("d", 86400), ("h", 3600), ("ms", 0.001), ("m", 60), ("s", 1)):
        found = re.match(rf"^(\d+(?:\.\d+)?){unit}(?![a-z])", rest)
        if found:
            total += float(found.group(1)) * factor
            rest = rest[found.end() :]
    if not text or (rest and not re.fullmatch(r"\d+(?:\.\d+)?", rest)):
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 4h, 1h30m)")
    return total + (float(rest) if rest else 0.0)


Duration = Annotated[float, BeforeValidator(_seconds), Field(ge=0)]


class ConditionSettings(_Section):
    """When a window's drift becomes an alert, and when it stops being one.

    Every feature's drift (and the prediction's) is a condition. Its value is
    ``-log10(p)`` for p-value tests (the score for distances); it is at warning
    past the drift threshold, and at critical past the threshold made
    ``critical_p_factor`` times stricter (p-values) or ``critical_distance_factor``
    times larger (distances).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    for_windows: int = Field(default=2, ge=1, alias="for")
    for_critical: int | None = Field(
        default=1, ge=1, description="windows a critical condition must hold before it fires; null: as `for`"
    )
    keep_firing_for: int = Field(default=1, ge=1)
    hysteresis: float = Field(default=0.1, ge=0, lt=1)
    critical_p_factor: float = Field(default=1000.0, gt=1)
    critical_distance_factor: float = Field(default=2.0, gt=1)
    prediction_drift: bool = True
    runbook_url: str | None = Field(
        default=None, description="template with {model}, {kind} and {feature}, e.g. https://runbooks.example/{kind}"
    )


class RouteSettings(_Section):
    """A route of the routing tree, in Alertmanager's vocabulary."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    receiver: str | None = None
    matchers: list[str] = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteSettings] = Field(default_factory=list)

    @field_validator("matchers")
    @classmethod
    def _parsable(cls, matchers: list[str]) -> list[str]:
        parse_matchers(matchers)
        return matchers


class InhibitRuleSettings(_Section):
    """Mute ``target_matchers`` alerts while a ``source_matchers`` alert fires with the same ``equal`` labels."""

    source_matchers: list[str] = Field(min_length=1)
    target_matchers: list[str] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)

    @field_validator("source_matchers", "target_matchers")
    @classmethod
    def _parsable(cls, matchers: list[str]) -> list[str]:
        parse_matchers(matchers)
        return matchers


def _default_receivers() -> list[ReceiverConfig]:
    return [ReceiverConfig.model_validate({"name": "kafka", "kafka": {"topic": "streammon.notifications"}})]


class AlertingSettings(_Section):
    """Alert handling: conditions, routing, receivers and inhibition (Alertmanager's model)."""

    conditions: ConditionSettings = ConditionSettings()
    route: RouteSettings = RouteSettings(
        receiver="kafka", group_by=["model", "kind"], group_wait=30, group_interval=300, repeat_interval=14400
    )
    receivers: list[ReceiverConfig] = Field(default_factory=_default_receivers)
    inhibit_rules: list[InhibitRuleSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AlertingSettings:
        names = [r.name for r in self.receivers]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"receivers: duplicate names {duplicated}")
        if self.route.receiver is None:
            raise ValueError("route: the root route needs a receiver")
        for name in ("group_wait", "group_interval", "repeat_interval"):
            if getattr(self.route, name) is None:
                raise ValueError(f"route: the root route needs {name}")
        unknown = sorted(_route_receivers(self.route) - set(names))
        if unknown:
            raise ValueError(f"route: receivers {unknown} are not defined under receivers")
        try:
            route_tree(self.route)
        except ValueError as exc:
            raise ValueError(f"route: {exc}") from exc
        return self


def receiver_topics(alerting: AlertingSettings) -> list[str]:
    """The topics of the Kafka receivers, to create with the others."""
    return [r.kafka.topic for r in alerting.receivers if r.kafka is not None]


def _route_receivers(route: RouteSettings) -> set[str]:
    names = {route.receiver} if route.receiver is not None else set()
    for child in route.routes:
        names |= _route_receivers(child)
    return names


def route_config(route: RouteSettings) -> RouteConfig:
    """The monitors' view of a configured route."""
    return RouteConfig(
        receiver=route.receiver,
        matchers=parse_matchers(route.matchers),
        group_by=tuple(route.group_by) if route.group_by is not None else None,
        group_wait_s=route.group_wait,
        group_interval_s=route.group_interval,
        repeat_interval_s=route.repeat_interval,
        continue_=route.continue_,
        routes=tuple(route_config(child) for child in route.routes),
    )


def route_tree(route: RouteSettings) -> Route:
    """The resolved routing tree of a configured root route."""
    return Route.build(route_config(route))


class QualitySettings(_Section):
    """Data quality checks per window, and freshness per model; each is its own alert kind."""

    missing_increase: float = Field(default=0.05, gt=0, le=1)
    out_of_range_share: float = Field(default=0.02, gt=0, le=1)
    unseen_share: float = Field(default=0.01, gt=0, le=1)
    volume_ratio: float = Field(default=3.0, gt=1)
    min_rows: int = Field(default=30, ge=1)
    no_data_after: Duration | None = Field(default=300.0, description="silence after which a model raises no_data; null: off")
    freshness_check_interval: Duration = Field(default=10.0, gt=0)


class SegmentSettings(_Section):
    """Drift and quality per segment too: for each key, its ``top_k`` values by volume and ``other``."""

    keys: list[str] = Field(default_factory=list, description="segment keys of the prediction events, e.g. [country]")
    top_k: int = Field(default=5, ge=1, le=100)


Task = Literal["classification", "regression"]


class LabelSettings(_Section):
    """The prediction-label join: labels may come before or after their prediction, or never."""

    ttl: Duration = Field(default=86400.0, gt=0, description="allowed lateness of a label, in event time")
    per_model_ttl: dict[str, Duration] = Field(default_factory=dict)
    capacity: int = Field(default=100_000, ge=1, description="predictions and labels waiting for their partner, at most")
    update_interval: Duration = Field(
        default=30.0, gt=0, description="how often late labels give a closed window's performance a new version"
    )


class PerformanceSettings(_Section):
    """Model quality per window once labels join, and fast change detection on the errors.

    Metrics: ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc``
    (classification) or ``mae``, ``rmse``, ``mape`` (regression). An alert fires
    when a window's metric crosses ``minimum`` / ``maximum``, or falls behind the
    reference period's value by more than ``max_drop``.
    """

    task: Task = "classification"
    minimum: dict[str, float] = Field(default_factory=dict)
    maximum: dict[str, float] = Field(default_factory=dict)
    max_drop: dict[str, float] = Field(default_factory=lambda: {"accuracy": 0.05, "mae": 0.0})
    min_labelled: int = Field(default=100, ge=1, description="labelled predictions a window needs before it is judged")
    detector: str | None = Field(default="adwin", description="River detector on the error stream; null: off")
    detector_params: dict[str, Any] = Field(default_factory=dict)
    detector_warmup: int = Field(default=100, ge=0)

    @model_validator(mode="after")
    def _known(self) -> PerformanceSettings:
        from monitors.labels.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS

        known = set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
        for name in ("minimum", "maximum", "max_drop"):
            unknown = sorted(set(getattr(self, name)) - known)
            if unknown:
                raise ValueError(f"{name}: unknown metrics {unknown}; choose from {sorted(known)}")
        if self.detector is not None:
            from monitors.online.detectors import build_detector

            build_detector(self.detector, self.detector_params)
        return self


class OnlineSettings(_Section):
    """An online River model per deployed model, learning from labelled predictions as a challenger."""

    enabled: bool = True
    model: str = Field(default="logistic_regression", description="logistic_regression, hoeffding_adaptive_tree, …")
    params: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = Field(default=None, description="River metric name; default Accuracy or MAE by task")
    window: int = Field(default=1000, ge=10, description="labelled predictions in the rolling comparison")
    margin: float = Field(default=0.02, ge=0)
    min_labelled: int = Field(default=1000, ge=1)
    pause_below_coverage: float = Field(default=0.2, ge=0, le=1, description="pause learning below this label coverage")
    pause_on_quality_alerts: bool = True
    batch_size: int = Field(
        default=1,  # monitors.online.challenger.DEFAULT_BATCH_SIZE (a test keeps them equal), not imported: River is slow to import
        ge=1,
        description="linear models: learn a model's labelled predictions in mini-batches of this many, each scored first "
        "by the model as it was before its batch; a batch waits until full (the model lags by at most this many - 1); "
        "1: one at a time",
    )

    @model_validator(mode="after")
    def _buildable(self) -> OnlineSettings:
        from monitors.online.models import build_model

        build_model(self.model, self.params)
        return self


class WorkspaceSettings(_Section):
    """The local Evidently workspace that receives one snapshot per window, within bounds on disk.

    A run is removed once older than ``max_age`` (from the later of its
    window's end and the time it was written); then the oldest go while the
    runs' files add up to more than ``max_bytes``. ``null`` turns a bound off.
    """

    path: UserPath = Path("streammon-workspace")
    project: str = "streammon"
    max_age: Duration | None = Field(
        default=7 * 86400.0, gt=0, description="runs older than this are removed (e.g. 7d, 12h); null: kept at any age"
    )
    max_bytes: int | None = Field(
        default=5_000_000_000,
        gt=0,
        description="bytes the runs' files may take in all; the oldest runs are removed past it; null: no limit",
    )

    full_report_interval: Duration | None = Field(
        default=3600.0,
        gt=0,
        description="event time between the full Evidently reports (plots included) of each model or segment, besides "
        "those of windows that change an alert; null: only those",
    )

    def retention(self) -> Retention:
        """The bounds, as the workspace applies them."""
        return Retention(max_age_s=self.max_age, max_bytes=self.max_bytes)


MIN_STATE_KEY_CHARS = 16


def _key_list(value: object) -> object:
    """A list of keys from one variable: comma-separated, or a JSON list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, SecretStr):
        return _key_list(value.get_secret_value())
    return value


# NoDecode: the environment variable is read as the comma-separated list, not as JSON.
StateKeyList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_key_list)]


class WorkerSettings(_Section):
    """The stream worker process.

    ``state_keys`` sign the checkpoints (HMAC-SHA256): the first signs, any of
    them verifies, so a key is rotated by adding the new one after the old,
    then putting it first, then dropping the old one once every checkpoint has
    been rewritten (docs/operations/state-and-scaling.md). Secrets: from the environment
    (``STREAMMON_WORKER__STATE_KEYS``, comma-separated) or ``${NAME}``
    references in the file.
    """

    batch_size: int = Field(default=500, ge=1)
    batch_within_s: float = Field(default=0.5, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    state_dir: UserPath = Field(
        default=Path(".streammon"),
        description="where the worker writes every file of its own (Faust's data directory, the demo's logs); "
        "with the workspace, the only places it writes to",
    )
    state_keys: StateKeyList = Field(
        default_factory=list,
        description="keys that sign and verify checkpoints (the first signs, any verifies); empty: unsigned, with a "
        "warning at start, since whoever can write the state topic can then run code in the worker",
    )
    restore_unsigned_state: bool = Field(
        default=False,
        description="with state_keys set, restore unsigned checkpoints (of earlier releases) too: for one start, "
        "while moving to signed state",
    )
    join_capacity: int = Field(
        default=100_000, ge=1, description="predictions and feature events waiting for their partner, at most"
    )
    max_future_skew: Duration = Field(
        default=3600.0,
        gt=0,
        description="how far an event time may lie ahead of the worker's clock; a later one is dead-lettered (it "
        "would move its model's event-time clock and close its windows early)",
    )
    analysis_processes: int | None = Field(
        default=None,
        ge=1,
        description="processes that analyse closed windows in parallel; null: the machine's CPUs less one, at least one",
    )
    checkpoint_interval: Duration = Field(
        default=5.0, gt=0, description="how often the worker's state is saved with the offsets it reflects"
    )
    stop_grace: Duration = Field(
        default=20.0,
        description="how long a stop or a hand-over of partitions waits for analyses in progress to publish; the "
        "windows of those still unfinished are in the last checkpoint, and their next owner analyses them",
    )
    max_message_bytes: int = Field(
        default=1_000_000,
        ge=16_384,
        description="largest message the worker takes or writes: a larger input is dead-lettered unparsed, and a "
        "dead letter keeps the first bytes of a value that would not fit (match the topics' max.message.bytes)",
    )

    @field_validator("state_keys")
    @classmethod
    def _long_enough(cls, keys: list[SecretStr]) -> list[SecretStr]:
        for i, key in enumerate(keys):
            if len(key.get_secret_value()) < MIN_STATE_KEY_CHARS:
                raise ValueError(
                    f"key {i} is too short to sign with: use at least {MIN_STATE_KEY_CHARS} characters "
                    "(e.g. the output of `openssl rand -hex 32`)"
                )
        return keys


class Settings(BaseSettings):
    """Everything streammon can be told, in one frozen object."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    broker: BrokerSettings = BrokerSettings()
    window: WindowSettings = WindowSettings()
    reference: ReferenceSettings = ReferenceSettings()
    drift: DriftSettings = DriftSettings()
    quality: QualitySettings = QualitySettings()
    segments: SegmentSettings = SegmentSettings()
    labels: LabelSettings = Field(default_factory=LabelSettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    online: OnlineSettings = Field(default_factory=OnlineSettings)
    alerting: AlertingSettings = AlertingSettings()
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
        When the file is missing or unreadable, a value is invalid, or the
        file holds a secret other than as a ``${NAME}`` reference to a set
        environment variable. The message names the setting both as a dotted
        YAML path and as its environment variable, never a secret's value.
    """
    if config_file is None and os.environ.get(CONFIG_ENV):
        config_file = Path(os.environ[CONFIG_ENV])
    from_file = read_yaml(config_file) if config_file is not None else {}
    problems: list[str] = []
    from_file = resolve_secrets(from_file, Settings, problems)
    if problems:
        raise ConfigError(invalid(problems))
    try:
        return Settings(**from_file)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from exc
