"""The local Evidently workspace: one project, one run per analysed window.

Open it with ``evidently ui --workspace <path>``.
"""

from __future__ import annotations

from pathlib import Path

from evidently.ui.workspace import Workspace

from monitors._evidently import Snapshot
from streams.events import SnapshotRef


class EvidentlyWorkspace:
    """A project in a local Evidently workspace, created on first use."""

    def __init__(self, path: Path, project: str) -> None:
        self.path = path
        self.project = project
        path.mkdir(parents=True, exist_ok=True)
        self._workspace = Workspace(str(path))
        found = self._workspace.search_project(project)
        if found:
            self._project_id = str(found[0].id)
        else:
            created = self._workspace.create_project(project, description="Drift reports from streammon, one run per window.")
            self._project_id = str(created.id)

    def add(self, snapshot: Snapshot, name: str) -> SnapshotRef:
        """Store one snapshot, without its data, and say where it went."""
        ref = self._workspace.add_run(self._project_id, snapshot, include_data=False, name=name)
        return SnapshotRef(workspace=str(self.path.resolve()), project_id=self._project_id, snapshot_id=str(ref.id))
