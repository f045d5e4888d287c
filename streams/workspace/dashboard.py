"""The project's dashboard in Evidently's UI, provisioned by streammon: a tab per model.

Each model's tab shows, window after window, with Evidently's own panels:

- the features streammon decided drifted (at its corrected threshold);
- the drift score of every feature and of the prediction (legend: column and method);
- its data-quality findings (features at or above each check's warning level);
- accuracy, or the regression metrics, with the share of predictions labelled;
- for a classifier, the accuracy estimated from scores next to the realized one.

Panels select a model's runs by the tag ``model:<name>``; the drift panels
also by the metadata ``segment: all``, so a segment's windows do not mix in
(they are tagged ``segment:<name>=<value>`` and can be filtered in the run
list). The runs carry what the panels read (see :mod:`streams.workspace.runs`).

A tab is added the first time a process stores a run of a model whose tab is
missing. Processes sharing a workspace may add tabs at once and overwrite one
another's; each checks again after writing, and every ``rescan_interval_s`` of
the workspace, and adds a tab that is gone at its next run of that model.
Evidently's UI reads the dashboard on each page load; it is written whole, at
once.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from monitors.evidently.annotations import DRIFTED_FEATURES, ESTIMATED_ACCURACY, LABEL_COVERAGE, QUALITY_FINDINGS
from monitors.labels.performance import Task

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently.legacy.utils import NumpyEncoder
    from evidently.sdk.models import DashboardModel, DashboardPanelPlot, DashboardTabModel, PanelMetric
    from evidently.sdk.panels import bar_plot_panel, line_plot_panel, text_panel
    from evidently.ui.storage.local.base import DASHBOARD_FILE_NAME
    from evidently.ui.workspace import Workspace

__all__ = ["OVERVIEW_TAB", "model_panels", "model_tab", "provision"]

OVERVIEW_TAB = "streammon"


def model_tab(model: str) -> str:
    """The title of a model's tab."""
    return f"model: {model}"


def model_panels(model: str, task: Task) -> list[DashboardPanelPlot]:
    """The panels of one model's tab, for its task."""
    tags = [f"model:{model}"]
    whole = {"segment": "all"}

    def series(metric: str, legend: str, labels: dict[str, str] | None = None, whole_model: bool = True) -> PanelMetric:
        return PanelMetric(
            legend=legend, metric=metric, tags=tags, metadata=whole if whole_model else {}, metric_labels=labels or {}
        )

    panels = [
        bar_plot_panel(
            f"{model}: features drifted per window",
            [series(DRIFTED_FEATURES, "drifted features (streammon's decision)")],
            description="Features whose drift test is below the window's corrected threshold (what alerts are raised on).",
            size="half",
        ),
        bar_plot_panel(
            f"{model}: data-quality findings per window",
            [series(QUALITY_FINDINGS, "{{check}}")],
            description="Features at or above each check's warning level.",
            size="half",
            stacked=True,
        ),
        line_plot_panel(
            f"{model}: drift score of each column",
            [series("ValueDrift", "{{column}} ({{method}})")],
            description="P-values (drift when low) or distances (drift when high), window after window.",
        ),
    ]
    if task == "classification":
        panels += [
            line_plot_panel(
                f"{model}: accuracy and label coverage",
                [
                    series("Accuracy", "accuracy", {"classification_name": "labels"}, whole_model=False),
                    series(LABEL_COVERAGE, "label coverage", whole_model=False),
                ],
                description="On the labelled predictions of each window, as labels arrive (one point per version).",
                size="half",
            ),
            line_plot_panel(
                f"{model}: estimated vs realized accuracy",
                [
                    series(ESTIMATED_ACCURACY, "estimated from scores (before labels)"),
                    series("Accuracy", "realized (labelled)", {"classification_name": "labels"}, whole_model=False),
                ],
                description="The estimate is made when the window closes; the realized accuracy when its labels arrive.",
                size="half",
            ),
        ]
    else:
        panels.append(
            line_plot_panel(
                f"{model}: regression error and label coverage",
                [
                    series("MAE", "MAE {{value_type}}", whole_model=False),
                    series("RMSE", "RMSE", whole_model=False),
                    series(LABEL_COVERAGE, "label coverage", whole_model=False),
                ],
                description="On the labelled predictions of each window, as labels arrive (one point per version).",
            )
        )
    return panels


def provision(workspace: Workspace, project_id: str, models: dict[str, Task]) -> set[str]:
    """Add the overview tab and a tab for each of ``models`` missing from the project's dashboard.

    Returns
    -------
    set of str
        The models whose tab the dashboard holds once written (read back:
        another process may have written over it meanwhile).
    """
    dashboard = workspace.get_dashboard(project_id)  # type: ignore[arg-type]
    titles = {tab.title for tab in dashboard.tabs}
    missing = {model: task for model, task in models.items() if model_tab(model) not in titles}
    if OVERVIEW_TAB not in titles or missing:
        if OVERVIEW_TAB not in titles:
            _add_tab(dashboard, OVERVIEW_TAB, [_overview()])
        for model, task in sorted(missing.items()):
            _add_tab(dashboard, model_tab(model), model_panels(model, task))
        _save(workspace, project_id, dashboard)
        titles = {tab.title for tab in workspace.get_dashboard(project_id).tabs}  # type: ignore[arg-type]
    return {model for model in models if model_tab(model) in titles}


def _overview() -> DashboardPanelPlot:
    return text_panel(
        "streammon: one tab per model",
        "Each model gets a tab with its first window. Runs are tagged model:<name>, kind:drift or "
        "kind:performance, segment:<name>=<value>, and alerting, raised, escalated or resolved when "
        "the window changed an alert; each report opens with streammon's decision.",
    )


def _add_tab(dashboard: DashboardModel, title: str, panels: list[DashboardPanelPlot]) -> None:
    dashboard.panels.extend(panels)
    dashboard.tabs.append(DashboardTabModel(title=title, panels=[panel.id for panel in panels]))


def _save(workspace: Workspace, project_id: str, dashboard: DashboardModel) -> None:
    """Write the dashboard whole, at once, as Evidently's workspace does but atomically: the UI reads it on each page."""
    path = Path(workspace.path) / project_id / DASHBOARD_FILE_NAME
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(dashboard.dict(), cls=NumpyEncoder))
    os.replace(partial, path)
