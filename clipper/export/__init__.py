"""Hand-off to editors: a run's clips as a timeline (OTIO, FCP X / FCP 7 XML, EDL) or a 剪映 draft.

    export_run(run_dir, "fcpxml")          -> DIR/exports/timeline.fcpxml
    export_run(run_dir, "jianying")        -> DIR/exports/jianying/<draft name>/
    write_timeline(run_dir)                -> DIR/timeline.otio (written by every run)
"""

from .formats import FORMATS, export_run, write_timeline

__all__ = ["FORMATS", "export_run", "write_timeline"]
