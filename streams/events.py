"""The event contract: what producers publish and what streammon emits.

Inputs (JSON, one event per Kafka message):

- :class:`PredictionEvent` on the predictions topic: what a model saw and said;
- :class:`FeatureEvent` on the features topic: features logged apart from the
  prediction, joined to it by ``prediction_id``;
- :class:`LabelEvent` on the labels topic: the ground truth, when it arrives.

Outputs: :class:`WindowReport` on the reports topic, :class:`AlertEvent` on the
alerts topic, :class:`DeadLetter` on the dead-letter topic.

Event times are timezone-aware; a time without a zone is read as UTC, and a
number as seconds since the Unix epoch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

PREDICTION_COLUMN = "prediction"

FeatureValue = StrictBool | StrictInt | StrictFloat | StrictStr | None
Name = Annotated[str, Field(min_length=1, max_length=256)]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("event_time", check_fields=False)
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _no_reserved_feature(features: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
    if PREDICTION_COLUMN in features:
        raise ValueError(f"{PREDICTION_COLUMN!r} is reserved for the model's output and cannot be a feature name")
    return features


Features = Annotated[dict[Name, FeatureValue], AfterValidator(_no_reserved_feature)]


class PredictionEvent(_Event):
    """One prediction of a deployed model."""

    model: Name
    model_version: Name
    prediction_id: Name
    event_time: datetime
    features: Features = Field(default_factory=dict)
    prediction: StrictBool | StrictInt | StrictFloat | StrictStr
    score: StrictFloat | StrictInt | None = None
    probabilities: dict[Name, StrictFloat | StrictInt] | None = None
    segment: dict[Name, StrictStr] = Field(default_factory=dict)


class FeatureEvent(_Event):
    """Features of a prediction, logged separately from it."""

    model: Name
    prediction_id: Name
    event_time: datetime
    features: Annotated[Features, Field(min_length=1)]


class LabelEvent(_Event):
    """The ground truth for one prediction."""

    prediction_id: Name
    event_time: datetime
    label: StrictBool | StrictInt | StrictFloat | StrictStr
    model: Name | None = None


InputEvent = PredictionEvent | FeatureEvent | LabelEvent


class Window(BaseModel):
    """Where a result comes from: one window of one model."""

    model_config = ConfigDict(frozen=True)

    index: int
    start: datetime
    end: datetime
    events: int
    closed_by: Literal["count", "time", "flush"]


class FeatureDriftOut(BaseModel):
    """One feature's drift in one window."""

    model_config = ConfigDict(frozen=True)

    feature: str
    score: float
    method: str
    threshold: float
    drifted: bool
    threshold_source: str = Field(default="evidently default", description="which correction or calibration set the threshold")


class MultivariateOut(BaseModel):
    """The window's multivariate drift: the reconstruction error of a PCA fitted on the reference's features."""

    model_config = ConfigDict(frozen=True)

    error: float
    threshold: float
    drifted: bool
    top_features: dict[str, float] = Field(
        default_factory=dict, description="the features whose reconstruction worsened most, with their share of the rise"
    )
    components: int
    threshold_source: str


class QualityOut(BaseModel):
    """A data quality check that a window failed."""

    model_config = ConfigDict(frozen=True)

    check: str
    feature: str | None
    value: float
    threshold: float
    summary: str


class EstimateOut(BaseModel):
    """A window's accuracy estimated from its scores alone (confidence-based performance estimation)."""

    model_config = ConfigDict(frozen=True)

    accuracy: float
    low: float
    high: float
    rows: int
    recalibrated: bool = Field(description="scores were mapped through an isotonic fit on the reference period's labels")


class SnapshotRef(BaseModel):
    """Where the Evidently snapshot of a window is stored."""

    model_config = ConfigDict(frozen=True)

    workspace: str
    project_id: str
    snapshot_id: str


class WindowReport(BaseModel):
    """The drift result of one window, as published on the reports topic."""

    model_config = ConfigDict(frozen=True)

    key: str
    kind: Literal["drift"] = "drift"
    version: int = 1
    model: str
    segment: str | None = Field(default=None, description='"key=value" for a segment\'s window, None for the whole model')
    model_versions: list[str]
    window: Window
    reference_events: int
    features: list[FeatureDriftOut]
    prediction: FeatureDriftOut | None
    drifted_features: int
    drifted_share: float
    correction: str = Field(default="bh", description="multiple-testing correction of the p-value tests")
    multivariate: MultivariateOut | None = Field(
        default=None, description="multivariate drift of the features; None when off or the window is too small"
    )
    quality: list[QualityOut] = Field(default_factory=list)
    estimate: EstimateOut | None = Field(default=None, description="accuracy estimated from the scores (CBPE), before labels")
    snapshot: SnapshotRef | None
    alerts: list[str] = Field(default_factory=list, description="fingerprints of the alerts whose state this window changed")


class PerformanceReport(BaseModel):
    """The model quality of one window, as published on the reports topic once its labels join.

    Labels that arrive after the window closed give it a new ``version`` under
    the same window; the highest version of a ``key`` prefix is the current one.
    ``window_index`` None is the reference period.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    kind: Literal["performance"] = "performance"
    version: int
    final: bool
    model: str
    segment: str | None = Field(default=None, description='"key=value" for a segment\'s window, None for the whole model')
    task: Literal["classification", "regression"]
    window_index: int | None
    predictions: int = Field(description="predictions counted in the window")
    labelled: int
    coverage: float
    delay_p50_s: float | None
    delay_p90_s: float | None
    delay_max_s: float | None
    metrics: dict[str, float]
    reference_metrics: dict[str, float] = Field(default_factory=dict)
    estimate: dict[str, float] = Field(
        default_factory=dict, description="the window's CBPE estimate reconciled with the realized accuracy"
    )
    snapshot: SnapshotRef | None
    alerts: list[str] = Field(default_factory=list)


class ChallengerOut(BaseModel):
    """The online challenger of one model, scored next to the deployed model."""

    model_config = ConfigDict(frozen=True)

    challenger: str
    metric: str
    labelled: int
    learned: int
    challenger_score: float | None
    deployed_score: float | None
    paused: bool
    promoted: bool


class ModelStatus(BaseModel):
    """One model's live label-driven state, on the compacted model-status topic (key: the model)."""

    model_config = ConfigDict(frozen=True)

    model: str
    at: datetime
    predictions: int
    labels: int
    joined: int
    expired: int
    orphaned: int
    duplicates: int
    resent_predictions: int = Field(default=0, description="predictions sent again byte for byte, ignored (the first stands)")
    conflicting_predictions: int = Field(
        default=0, description="predictions under an id already used, with other content: dead-lettered"
    )
    evicted: int = Field(description="predictions and labels dropped unpaired because the label join was full")
    evicted_at: datetime | None = Field(default=None, description="event time of the latest one dropped (None: never)")
    coverage: float = Field(description="share of the predictions labelled so far")
    settled_coverage: float = Field(description="share labelled of the predictions whose wait is over (labelled or expired)")
    last_window: int | None = None
    last_metrics: dict[str, float] = Field(default_factory=dict)
    reference_metrics: dict[str, float] = Field(default_factory=dict)
    challenger: ChallengerOut | None = None


class PromotionEvent(BaseModel):
    """The online challenger beat the deployed model: the evidence, on the model-updates topic (key: the model)."""

    model_config = ConfigDict(frozen=True)

    model: str
    challenger: str
    metric: str
    challenger_score: float
    deployed_score: float
    margin: float
    labelled: int
    at: datetime
    offsets: dict[str, int] = Field(description='"topic/partition" -> next offset the challenger reflects')


class AlertEvent(BaseModel):
    """An alert's state change, as published on the alerts topic (its Kafka key is ``fingerprint``).

    ``labels`` identify the alert (``model``, ``kind``, ``feature``,
    ``severity``); ``annotations`` describe it (``summary``, ``value``,
    ``threshold``, ``method``, ``runbook_url``). ``window`` and ``snapshot`` say
    which window's result changed it, and where its Evidently report is.
    """

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    window: Window | None
    snapshot: SnapshotRef | None


class DeadLetter(BaseModel):
    """An input message that could not be processed, kept with its coordinates.

    The record stays within ``worker.max_message_bytes``: a value too large to
    keep in full keeps its first bytes (``value_truncated``), and
    ``value_bytes`` and ``value_sha256`` identify the whole of it, which stays
    at its coordinates for its topic's retention.
    """

    model_config = ConfigDict(frozen=True)

    error: str = Field(description="why it was rejected, on one line")
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key_b64: str | None = Field(description="the original key (its first 1024 bytes), base64; None when it had none")
    key_truncated: bool = False
    value_b64: str = Field(description="the original value, or its first bytes when value_truncated, base64")
    value_text: str | None = Field(description="the value as text, when it is UTF-8 and kept in full with room to spare")
    value_bytes: int | None = Field(
        default=None, description="size of the whole original value (None in records of older workers)"
    )
    value_sha256: str | None = Field(default=None, description="SHA-256 of the whole original value, hex")
    value_truncated: bool = False
    dead_lettered_at: datetime
