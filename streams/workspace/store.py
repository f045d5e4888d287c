"""The local Evidently workspace: one project, one run per analysed window (and version), kept within bounds.

Open it with ``evidently ui --workspace <path>``.

Evidently 0.7.23 keeps a local workspace as files, one JSON file per run::

    <path>/<project id>/metadata.json
    <path>/<project id>/snapshots/<run id>.json     # {"report": ..., "name": ...,
                                                    #  "timestamp": ..., ...}

Disk is bounded (:class:`monitors.workspace.retention.Retention`): runs older than the
age bound are removed, then the oldest until the runs' files add up to at most
the size bound. A run's age is measured from the later of its snapshot's
timestamp (the window's end, in event time) and the time its file was
written: a replay of last month's events keeps its runs for the age bound
after they were written instead of losing them as they arrive. Runs are
removed with Evidently's own ``Workspace.delete_run``.

A running ``evidently ui`` learns of new projects, runs and their updates from
its file watcher only: :func:`_create_project` and :func:`_publish` put each
file in place as the watcher needs to read it, whole.

Cost: the workspace keeps an index of its runs (time, size, and their total
and oldest time). Each ``add`` indexes the new run (a ``stat`` and the first
4 KB of its file) and checks the bounds against the index's total and oldest
time; only when one is crossed are the runs sorted and the oldest removed. The
snapshot folder is rescanned (a ``stat`` per file, and the head of the files
not seen before) at most every ``rescan_interval_s``, to see what other
processes sharing the folder added or removed: between rescans the bounds can
be exceeded by what other processes wrote meanwhile. A run another process
removed first is not an error. Only the snapshot files count towards
``max_bytes`` (not the project's metadata), by their length in bytes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitors.evidently.annotations import annotated, streammon_values
from monitors.evidently.library import Snapshot, SnapshotModel
from monitors.labels.performance import Task
from monitors.workspace.retention import Retention, StoredRun
from streams.events import SnapshotRef
from streams.workspace import dashboard
from streams.workspace.runs import ALERT_METADATA, ALERT_TAGS, RunNotes, headline

# Importing Evidently's UI code emits DeprecationWarnings that are not ours (see monitors/evidently/library.py).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(evidently|litestar)\.")
    from evidently.legacy.core import new_id
    from evidently.legacy.utils import NumpyEncoder
    from evidently.sdk.models import ProjectModel
    from evidently.ui.storage.local.base import PROJECT_FILE_NAME, SNAPSHOTS_DIR_NAME
    from evidently.ui.workspace import Workspace

__all__ = ["EvidentlyWorkspace"]

log = logging.getLogger(__name__)

"""Seven days and 5 GB: the defaults of ``workspace.max_age`` and ``workspace.max_bytes``."""

_RUN_FILE = re.compile(r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.json$")
# The top-level keys as Evidently 0.7.23 writes them (SnapshotModel's field order);
# a file laid out otherwise is read whole.
_TIMESTAMP = re.compile(rb', "name": (?:null|"(?:[^"\\]|\\.)*"), "timestamp": "([^"]+)", "metadata": ')
_HEAD_BYTES = 4096
# Run ids derived from result keys (uuid5 of the project and the key).
_RUN_NAMESPACE = uuid.UUID("7d0c5f64-3b0e-4f4e-9a53-5d2f6c1e8b21")


class EvidentlyWorkspace:
    """A project in a local Evidently workspace, created on first use, kept within ``retention``.

    Parameters
    ----------
    path
        The workspace's folder (created if missing).
    project
        The project's name; found by name, or created.
    retention
        Bounds on the project's runs, by age and total size of their files.
        ``Retention()`` keeps everything.
    rescan_interval_s
        How often, at most, ``add`` rescans the snapshot folder for runs that
        other processes added or removed.
    task
        The models' task: which quality panels their dashboard tabs get.
    """

    def __init__(
        self,
        path: Path,
        project: str,
        retention: Retention = Retention(),
        rescan_interval_s: float = 60.0,
        task: Task = "classification",
    ) -> None:
        self.path = path
        self.project = project
        self.retention = retention
        self.rescan_interval_s = rescan_interval_s
        self.task = task
        path.mkdir(parents=True, exist_ok=True)
        self._workspace = Workspace(str(path))
        found = self._workspace.search_project(project)
        if found:
            self._project_id = str(found[0].id)
        else:
            self._project_id = _create_project(path, project, "Drift reports from streammon, one run per window.")
        self._dashboard_models: set[str] = set()  # models whose tab this process saw in the dashboard
        self._next_dashboard_check = time.monotonic() + rescan_interval_s
        self._provision(None)
        self._snapshots = path / self._project_id / SNAPSHOTS_DIR_NAME
        # The index: each run's size and the time its age runs from; what it sums to, and its oldest time.
        self._runs: dict[str, StoredRun] = {}
        self._files: dict[str, tuple[int, int]] = {}  # each run file's size and mtime when indexed
        self._unread: set[str] = set()  # runs whose snapshot could not be read (being written): by file time until it can
        self._bytes = 0
        self._oldest: datetime | None = None
        self._next_rescan = time.monotonic()  # the first add scans

    @property
    def project_id(self) -> str:
        """The Evidently project's id."""
        return self._project_id

    def add(self, snapshot: Snapshot, name: str, notes: RunNotes | None = None, key: str | None = None) -> SnapshotRef:
        """Store one snapshot, without its data, with ``notes`` (tags, metadata, values), and say where it went.

        A result's ``key`` (its window key) names its run: a result computed
        again (after a restart, a replay) replaces the run of its key instead
        of adding a second one, and keeps what the run recorded of the alerts
        its first computation changed (those changes are not made twice).
        Without a key the run gets a new id.

        The dashboard gets a tab for the notes' model if it has none. Then
        applies the retention bounds (see the module's docstring for the
        cost); a failure to remove old runs is logged, not raised.
        """
        snapshot.set_name(name)
        snapshot_id = str(new_id()) if key is None else self.run_id(key)
        model = snapshot.to_snapshot_model()
        if notes is not None:
            model = _noted(model, notes)
            self._provision(notes.model)
        try:
            stored = self._read(snapshot_id) if key is not None else None
        except ValueError:
            stored = None  # a run that cannot be read is written over
        if stored is not None:
            model = _noted(model, _alert_notes(stored, notes.model if notes is not None else ""))
        self._write(snapshot_id, model)
        if self._bounded:
            try:
                self._index(snapshot_id)
                self._enforce(rescan=time.monotonic() >= self._next_rescan)
            except OSError as exc:
                log.warning("workspace %s: could not remove old runs: %s", self.path, exc)
        return SnapshotRef(workspace=str(self.path.resolve()), project_id=self._project_id, snapshot_id=snapshot_id)

    def run_id(self, key: str) -> str:
        """The id of the run of a result's key in this project: the same in every process, run after run."""
        return str(uuid.uuid5(_RUN_NAMESPACE, f"{self._project_id}/{key}"))

    def run_time(self, key: str) -> datetime | None:
        """The time of the run of ``key``; None when there is none."""
        return _snapshot_time(self._snapshots / f"{self.run_id(key)}.json")

    def replace(self, ref: SnapshotRef, snapshot: Snapshot, name: str) -> None:
        """Store ``snapshot`` as the run ``ref`` points to, in place of what it held.

        Whatever points to the run (a report event, an alert) then opens the
        new snapshot. Evidently 0.7.23 has no call to update a run: it is
        written under the run's id. The run keeps its tags, metadata and streammon's values.
        """
        snapshot.set_name(name)
        model = snapshot.to_snapshot_model()
        stored = self._read(ref.snapshot_id)
        if stored is not None:
            metadata = {k: str(v) for k, v in stored.metadata.items()}
            model = annotated(
                model, tags=stored.tags, metadata=metadata, values=streammon_values(stored), headline=headline(metadata)
            )
        self._write(ref.snapshot_id, model)
        if self._bounded:
            self._index(ref.snapshot_id)

    def annotate(self, ref: SnapshotRef, notes: RunNotes) -> bool:
        """Add ``notes`` to a stored run (what the worker learns after the analysis); False if the run is gone."""
        stored = self._read(ref.snapshot_id)
        if stored is None:
            return False  # removed by retention meanwhile
        self._write(ref.snapshot_id, _noted(stored, notes))
        if self._bounded:
            self._index(ref.snapshot_id)
        return True

    def _read(self, run_id: str) -> SnapshotModel | None:
        try:
            return self._workspace.state.read_snapshot(self._project_id, run_id)
        except FileNotFoundError:
            return None

    def _write(self, run_id: str, model: SnapshotModel) -> None:
        """Write a run's file whole, at once: the UI (and other processes) never read half of one (see :func:`_publish`).

        Its time is written in UTC with its offset: Evidently stamps a run it is
        given no time for with the naive local time, and its UI fails to sort
        runs of both kinds (a panel of drift runs and performance runs did).
        """
        model = model.copy(update={"timestamp": _aware(model.timestamp).astimezone(UTC)})
        self._snapshots.mkdir(parents=True, exist_ok=True)
        partial = self._snapshots / f".{run_id}.{os.getpid()}.partial"
        with partial.open("w") as f:
            json.dump(model.dict(), f, cls=NumpyEncoder)
        _publish(partial, self._snapshots / f"{run_id}.json")

    def _provision(self, model: str | None) -> None:
        """Give the dashboard its overview tab, and a tab for ``model`` if it has none (see :mod:`streams.workspace.dashboard`)."""
        if time.monotonic() >= self._next_dashboard_check:  # another process may have written over a tab
            self._next_dashboard_check = time.monotonic() + self.rescan_interval_s
            self._dashboard_models.clear()
        if model is not None and model in self._dashboard_models:
            return
        try:
            models = {model: self.task} if model is not None else {}
            self._dashboard_models |= dashboard.provision(self._workspace, self._project_id, models)
        except (OSError, ValueError) as exc:  # a dashboard being written by another process: next run
            log.warning("workspace %s: could not update the dashboard: %s", self.path, exc)

    def enforce_retention(self) -> list[str]:
        """Rescan the project's runs and remove those past the bounds, now.

        Returns
        -------
        list of str
            The ids of the runs removed, oldest first.
        """
        return self._enforce(rescan=True)

    @property
    def _bounded(self) -> bool:
        return self.retention.max_age_s is not None or self.retention.max_bytes is not None

    def _enforce(self, rescan: bool) -> list[str]:
        if rescan:
            self._rescan()
        now = datetime.now(UTC)
        if not self._past_bounds(now):
            return []
        removed = self.retention.to_remove(self._runs.values(), now)
        for run_id in removed:
            try:
                self._workspace.delete_run(self._project_id, run_id)
            except FileNotFoundError:
                pass  # another process sharing the workspace removed it first
            self._unread.discard(run_id)
            self._files.pop(run_id, None)
            del self._runs[run_id]
        self._summarize()
        if removed:
            log.debug("workspace %s: removed %d runs past retention", self.path, len(removed))
        return removed

    def _past_bounds(self, now: datetime) -> bool:
        """Whether the index holds a run to remove: O(1), so that an add within bounds sorts nothing."""
        max_age_s, max_bytes = self.retention.max_age_s, self.retention.max_bytes
        too_big = max_bytes is not None and self._bytes > max_bytes
        too_old = max_age_s is not None and self._oldest is not None and now - self._oldest > timedelta(seconds=max_age_s)
        return too_big or too_old

    def _rescan(self) -> None:
        """Refresh the index from the snapshot folder: a ``stat`` per file, the head of the files not seen before."""
        self._next_rescan = time.monotonic() + self.rescan_interval_s
        try:
            entries = list(os.scandir(self._snapshots))
        except FileNotFoundError:
            entries = []  # no run yet
        runs: dict[str, StoredRun] = {}
        for entry in entries:
            found = _RUN_FILE.match(entry.name)
            if found is None:
                continue
            run_id = found.group(1).lower()
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue  # removed meanwhile
            known = self._runs.get(run_id)
            if known is not None and self._files.get(run_id) == (stat.st_size, stat.st_mtime_ns) and run_id not in self._unread:
                runs[run_id] = known
            else:
                runs[run_id] = self._stored_run(run_id, Path(entry.path), stat)
        self._runs = runs
        self._files = {run_id: self._files[run_id] for run_id in runs}
        self._unread &= set(runs)
        self._summarize()

    def _index(self, run_id: str) -> None:
        file = self._snapshots / f"{run_id}.json"
        run = self._stored_run(run_id, file, file.stat())
        replaced = self._runs.get(run_id)
        self._runs[run_id] = run
        self._bytes += run.size - (replaced.size if replaced is not None else 0)
        self._oldest = run.timestamp if self._oldest is None else min(self._oldest, run.timestamp)

    def _stored_run(self, run_id: str, file: Path, stat: os.stat_result) -> StoredRun:
        written_at = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        snapshot_time = _snapshot_time(file)
        if snapshot_time is None:
            self._unread.add(run_id)
        else:
            self._unread.discard(run_id)
        since = written_at if snapshot_time is None else max(snapshot_time, written_at)
        self._files[run_id] = (stat.st_size, stat.st_mtime_ns)
        return StoredRun(run_id, since, stat.st_size)

    def _summarize(self) -> None:
        self._bytes = sum(run.size for run in self._runs.values())
        self._oldest = min((run.timestamp for run in self._runs.values()), default=None)


def _alert_notes(model: SnapshotModel, name: str) -> RunNotes:
    """What ``model`` recorded of the alerts its result changed (see :func:`streams.workspace.runs.alert_notes`)."""
    tags = tuple(t for t in model.tags if t in ALERT_TAGS)
    metadata = {k: str(v) for k, v in model.metadata.items() if k in ALERT_METADATA}
    return RunNotes(name, tags, metadata)


def _noted(model: SnapshotModel, notes: RunNotes) -> SnapshotModel:
    """``model`` with ``notes`` merged in: tags added, metadata and values updated."""
    tags = list(dict.fromkeys([*model.tags, *notes.tags]))
    metadata = {**{k: str(v) for k, v in model.metadata.items()}, **notes.metadata}
    values = {(v.metric_type, v.labels): v for v in [*streammon_values(model), *notes.values]}
    return annotated(model, tags=tags, metadata=metadata, values=list(values.values()), headline=headline(metadata))


def _snapshot_time(file: Path) -> datetime | None:
    """The snapshot's timestamp, read from the head of its file (the whole file if need be); None if unreadable."""
    try:
        with file.open("rb") as f:
            found = _TIMESTAMP.search(f.read(_HEAD_BYTES))
            text = found.group(1).decode() if found is not None else str(json.loads(file.read_bytes())["timestamp"])
        return _aware(datetime.fromisoformat(text))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # being written by another process, or not a snapshot


def _create_project(path: Path, name: str, description: str) -> str:
    """Create a project in the workspace at ``path`` so that a running ``evidently ui`` lists it; return its id.

    The files are Evidently's (``<id>/metadata.json`` as its ``Workspace.create_project``
    writes it, and the empty ``<id>/snapshots/``), put in place in the order its UI's file
    watcher needs: the folders first, the metadata file last and whole (:func:`_publish`).
    Evidently writes the metadata file in place: its UI's watcher, reading the file as it
    was created and still empty, fails and watches no more, and the UI answers 404 for
    every project made after (until it restarts).
    """
    project = ProjectModel(name=name, description=description)
    folder = path / str(project.id)
    (folder / SNAPSHOTS_DIR_NAME).mkdir(parents=True)
    partial = folder / f".{PROJECT_FILE_NAME}.{os.getpid()}.partial"
    with partial.open("w") as f:
        json.dump(project.dict(), f, cls=NumpyEncoder, indent=2)
    _publish(partial, folder / PROJECT_FILE_NAME)
    return str(project.id)


def _publish(partial: Path, final: Path) -> None:
    """Put the file written whole at ``partial`` in place as ``final``, so that a running ``evidently ui`` reads it.

    Evidently's UI (0.7.23) learns of projects and runs from a file watcher that reads a
    project's metadata file or a run's file when one is created or modified, and skips a
    file renamed into place (it looks at the name a file was moved from). A new file is
    hard-linked into place: its name appears with its whole content, and its creation is
    seen. A file that exists is replaced (a link cannot), then given a trailing newline:
    the modification is seen and the UI reads the new content. On a file system without
    hard links the file is renamed into place: a running UI sees it when its project is
    reloaded.
    """
    try:
        os.link(partial, final)
    except FileExistsError:
        os.replace(partial, final)
        _touch(final)
        return
    except OSError:  # no hard links here
        os.replace(partial, final)
        return
    partial.unlink()


def _touch(file: Path) -> None:
    """Append a newline (JSON allows it) to an existing file: a modification the UI's watcher sees."""
    try:
        fd = os.open(file, os.O_WRONLY | os.O_APPEND)  # no O_CREAT: a file removed meanwhile stays removed
    except FileNotFoundError:
        return
    try:
        os.write(fd, b"\n")
    finally:
        os.close(fd)


def _aware(moment: datetime) -> datetime:
    # Evidently stamps a snapshot with its naive local time when given none.
    return moment if moment.tzinfo is not None else moment.astimezone()
