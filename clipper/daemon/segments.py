"""HLS recordings: a folder of MPEG-TS segments is one source, joined into one file.

Segments concatenate byte for byte, so the join is append-only and survives a torn append
(the listing beside the joined file says which segments are in it).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


def segment_files(folder: Path) -> list[Path]:
    """The .ts segments of an HLS recording folder, in playback order (natural sort)."""
    def natural(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]

    return sorted((p for p in folder.iterdir() if p.suffix.lower() == ".ts" and not p.name.startswith(".")),
                  key=natural)


def join_segments(source: Path, out: Path, complete: bool = True) -> Path:
    """A segment folder becomes one MPEG-TS file (segments concatenate byte for byte).

    Append-only: segments already joined are listed beside the file and not copied again,
    so a live pass costs only the new segments. While the recording goes on, the newest
    segment may still be being written and waits for the next pass.
    """
    if source.is_file():
        return source
    joined = out / ".clipper" / "joined.ts"
    listing = joined.with_suffix(".list")
    joined.parent.mkdir(parents=True, exist_ok=True)
    done = listing.read_text().splitlines() if listing.is_file() and joined.is_file() else []
    if not done:
        joined.unlink(missing_ok=True)
        listing.unlink(missing_ok=True)
    parts = segment_files(source)
    # Bytes of a segment whose name a crash kept out of the listing are cut off again.
    listed = sum((source / name).stat().st_size for name in done if (source / name).is_file())
    if joined.is_file() and joined.stat().st_size > listed:
        with joined.open("r+b") as fh:
            fh.truncate(listed)
    ready = parts if complete else parts[:-1]
    with joined.open("ab") as dst, listing.open("a") as log_fh:
        for part in ready:
            if part.name in done:
                continue
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst, 1 << 22)
            dst.flush()
            os.fsync(dst.fileno())
            log_fh.write(part.name + "\n")  # after the bytes: a crash before this line is cut off above
            log_fh.flush()
    return joined
