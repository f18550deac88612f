"""clipper: long e-commerce livestream recordings -> short vertical clips, one per selling point.

    from clipper import Pipeline, load_config
    result = Pipeline(load_config()).run("stream.mp4", "out/")
    for clip in result.plan.clips: print(clip.id, clip.kind, clip.tags, clip.start, clip.end)

``result.plan.clips`` are the cuts (kind, tags, product, times, text), ``result.clips`` the
rendered files (same ids), ``result.manifest`` both as JSON. More: docs/api.md.
"""

from ._version import __version__

# The public names load on first use (PEP 562): `import clipper` and the command line start
# in milliseconds, so a Ctrl-C during start-up reaches the command line's handler instead of
# interrupting the import of the recogniser with a traceback.
_PUBLIC = {
    "Pipeline": "pipeline", "RunResult": "pipeline", "Config": "config", "load_config": "config",
    "ClipperError": "errors", "ClipSpec": "types", "CutPlan": "types", "Label": "types", "MediaInfo": "types",
    "RenderedClip": "types", "Segment": "types", "Segmentation": "types", "Sentence": "types",
    "SentenceList": "types", "Shots": "types", "Transcript": "types", "Word": "types",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'clipper' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
