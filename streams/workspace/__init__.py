"""The Evidently workspace streammon writes: one project, one run per analysed window.

:mod:`.store` adds runs and keeps the workspace within bounds; :mod:`.runs`
says what a run says about itself (tags, metadata, streammon's values);
:mod:`.dashboard` provisions the project's dashboard, a tab per model.
"""

__all__ = ["dashboard", "runs", "store"]
