"""What a person sees in Evidently's UI, served on a workspace a worker filled, in a real headless browser.

Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/bootstrap``)
driven by Playwright. Screenshots are written to ``$STREAMMON_TEST_ARTIFACTS``
when it is set, else to the test's temporary folder, never to the repo.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.events import AlertEvent, PerformanceReport, WindowReport
from streams.local.synthetic import synthetic_stream
from streams.settings import Settings
from streams.workspace.dashboard import model_panels
from tests.helpers import produce, wait_until

pytestmark = pytest.mark.integration

REFERENCE, WINDOW, WINDOWS = 1000, 500, 5
MODELS = {"credit-risk": REFERENCE + 3 * WINDOW, "churn": 10**9}  # the first drifts from its window 3, the second never
# What marks a plotted value in the UI's charts (MUI X): a bar, a line, a point.
DATA_MARKS = '[class*="MuiBarElement-root"], [class*="MuiLineElement-root"], [class*="MuiMarkElement-root"]'


def chromium() -> str:
    """Debian's Chromium; fails in CI and skips loudly elsewhere when it is missing."""
    found = shutil.which("chromium")
    if found is None:
        message = "no Chromium (scripts/bootstrap installs Debian's `chromium`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip("SKIPPING INTEGRATION TEST: " + message)
    return found


@pytest.fixture()
def screenshots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("STREAMMON_TEST_ARTIFACTS") or tmp_path) / "evidently-ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fill_workspace(settings: Settings, start_worker, topic_reader) -> tuple[list[WindowReport], list[AlertEvent]]:  # type: ignore[no-untyped-def]
    """Run a worker on two models' predictions and labels; return its drift reports and alerts once all are in."""
    worker = start_worker(settings)
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    for seed, (model, drift_at) in enumerate(MODELS.items()):
        events = list(
            synthetic_stream(REFERENCE + WINDOWS * WINDOW, drift_at, start, model_name=model, id_prefix=f"ui-{model}", seed=seed)
        )
        kafka = settings.kafka
        produce(
            kafka.bootstrap_servers, kafka.predictions_topic, [orjson.dumps(e.prediction) for e in events], key=model.encode()
        )
        produce(kafka.bootstrap_servers, kafka.labels_topic, [orjson.dumps(e.label) for e in events], key=model.encode())

    reader = topic_reader(settings.kafka.reports_topic, settings.kafka.alerts_topic)

    def parsed(records: dict[str, list]) -> tuple[list[WindowReport], list[PerformanceReport], list[AlertEvent]]:  # type: ignore[type-arg]
        drift, quality = [], []
        for record in records[settings.kafka.reports_topic]:
            kind = orjson.loads(record.value).get("kind")
            if kind == "drift":
                drift.append(WindowReport.model_validate_json(record.value))
            elif kind == "performance":
                quality.append(PerformanceReport.model_validate_json(record.value))
        return drift, quality, [AlertEvent.model_validate_json(r.value) for r in records[settings.kafka.alerts_topic]]

    def complete(records: dict[str, list]) -> bool:  # type: ignore[type-arg]
        drift, quality, alerts = parsed(records)
        announced = sum(len(r.alerts) for r in drift)
        return (
            all(sum(r.model == m for r in drift) >= WINDOWS for m in MODELS)
            and all(any(q.model == m and q.window_index is not None for q in quality) for m in MODELS)
            and announced > 0
            and len(alerts) >= announced
        )

    drift, _, alerts = parsed(reader.until(complete, 240, "every window of both models, their quality and alerts", worker))
    return drift, alerts


def test_a_person_sees_each_models_dashboard_and_opens_an_alerting_run_by_its_tag(
    settings, start_worker, topic_reader, screenshots, evidently_ui
) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = chromium()
    settings = evidently_ui.settings_for(settings).model_copy(
        update={
            "performance": settings.performance.model_copy(update={"min_labelled": 50}),
            "labels": settings.labels.model_copy(update={"update_interval": 2.0}),
        }
    )
    _, alerts = fill_workspace(settings, start_worker, topic_reader)
    drift_alerts = [a for a in alerts if a.labels.get("kind") == "data_drift" and a.status == "firing"]
    assert drift_alerts, "the drift raised no data_drift alert"
    alert = drift_alerts[0]
    assert alert.snapshot is not None
    alerted = sorted({a.labels["feature"] for a in drift_alerts if a.snapshot == alert.snapshot})
    folder = Path(alert.snapshot.workspace) / alert.snapshot.project_id / "snapshots"
    # The alert's run is Evidently's full report once it is built: the page a person opens.
    wait_until(
        lambda: len(_stored(folder, alert.snapshot.snapshot_id).get("widgets", [])) > 1,
        90,
        "the full report of the alert's window",
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            assert Path(alert.snapshot.workspace) == evidently_ui.workspace
            evidently_ui.reload(alert.snapshot.project_id)
            project = f"{evidently_ui.url}/projects/{alert.snapshot.project_id}"

            # The dashboard: every panel of every model plots data.
            page.goto(project, wait_until="networkidle")
            for model in MODELS:
                for panel in model_panels(model, "classification"):
                    card = page.locator("div.MuiCard-root").filter(has=page.get_by_text(panel.title, exact=True)).last
                    card.locator(DATA_MARKS).first.wait_for(state="attached", timeout=30_000)  # a bar of 0 is there, not visible
                    assert card.locator(DATA_MARKS).count() > 0, f"{panel.title}: no data"
            page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

            # The runs that raised alerts, found by their tag, and the alert's run among them.
            page.goto(f"{project}/reports", wait_until="networkidle")
            page.get_by_label("Filter by Tags").click()
            page.get_by_role("option", name="alerting", exact=True).click()
            page.keyboard.press("Escape")
            row = page.locator("tbody tr").filter(has_text=alert.snapshot.snapshot_id)
            row.wait_for(timeout=30_000)
            listed = page.locator("tbody tr").all_inner_texts()
            assert all("alerting" in text or "+" in text for text in listed)  # tags beyond two show as "+n"
            page.screenshot(path=str(screenshots / "runs-alerting.png"), full_page=True)
            row.get_by_text("View").click()
            page.wait_for_url(f"**/reports/{alert.snapshot.snapshot_id}")

            # The report opens with streammon's decision, naming the alerted features and the alerts.
            headline = page.locator("div.MuiCard-root").filter(has=page.get_by_text("streammon's decision", exact=False)).first
            headline.wait_for(timeout=30_000)
            said = headline.inner_text()
            page.screenshot(path=str(screenshots / "alert-run.png"))
            assert said.lstrip().startswith("Drift in"), said
            assert all(feature in said for feature in alerted), (alerted, said)
            assert alert.fingerprint in said
            verdict = (
                page.locator("div.MuiCard-root")
                .filter(has=page.get_by_text("Dataset drift detection threshold", exact=False))
                .first
            )
            assert "Not used by streammon" in verdict.inner_text()
            # The decision comes first on the page.
            first = page.locator("div.MuiCard-root").filter(has_text="streammon's decision").first.bounding_box()
            second = verdict.bounding_box()
            assert first is not None and second is not None and first["y"] < second["y"]
        finally:
            browser.close()
    assert (screenshots / "alert-run.png").stat().st_size > 0
    print(f"screenshots in {screenshots}")


def _stored(folder: Path, snapshot_id: str) -> dict[str, object]:
    """A run as stored; empty while it does not exist."""
    try:
        return orjson.loads((folder / f"{snapshot_id}.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
