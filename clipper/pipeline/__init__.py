"""The pipeline: one incremental walk for batch, live and resumed runs.

- ``run.py``: ``Pipeline``, the orchestrator of every front (CLI, daemon, Python API);
- ``stages.py``: the stage table (keys, cache, the computations);
- ``journal.py``: the append-only journal of transcript windows and publish decisions;
- ``windows.py``: where windows come from (a complete file, a growing recording);
- ``walk.py``: the passes that publish settled clips while the source is still being heard;
- ``publish.py``: rendering (index, background queue);
- ``saved.py``: a finished run read back.
"""

from .run import Pipeline, RunResult
from .saved import SavedRun, load_run

__all__ = ["Pipeline", "RunResult", "SavedRun", "load_run"]
