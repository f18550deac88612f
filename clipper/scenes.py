"""Scene cuts with PySceneDetect's ContentDetector, only inside given windows (the one module
importing scenedetect).

Decoding a whole 1080p stream costs about as much as transcribing it, and only cuts near a
clip edge matter, so the detector runs on short windows around candidate edges: each window
is entered ``LEAD`` seconds early so the detector has a frame to compare the first one with.

Frames come from PyAV (already installed: faster-whisper reads audio with it), not from
PySceneDetect's OpenCV stream. The decoder skips the deblocking filter (nothing the detector
can see at its size) and the frames before a window that no other frame refers to; a 4:2:0
frame is sampled straight from its planes at the detector's width and turned into BGR by one
uint8 ``cv2.transform`` (``small``), so no full-size or float picture is made. Over the 40
one-second windows of the 10-minute benchmark stream, alternating: 3.4-4.2 s against
8.3-11.1 s for the float conversion with a 0.5 s lead-in, the same cuts. Times are the frames'
own timestamps, from the start of the file as ffmpeg's ``-ss`` counts them (the renderer's
seek), so a variable frame rate or a video starting after the sound places cuts where they are.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .config import ScenesConfig
from .errors import StageError
from .media.ffmpeg import media_path
from .types import Shots

log = logging.getLogger(__name__)

# Each window is entered this early, so that its first frame has one to be compared with
# (a few frames, not one: a variable frame rate can leave a longer gap).
LEAD = 0.1
# Demuxers reading windows at once, and the fewest windows worth a demuxer of their own.
MAX_READERS, MIN_WINDOWS_PER_READER = 2, 4
# The width PySceneDetect's own auto-downscale brings a frame to (scene_manager's
# compute_downscale_factor): its ContentDetector threshold is tuned for frames about this size.
DETECT_WIDTH = 256
# (B, G, R) from (Y, U, V) less the offsets, BT.601 (swscale's default for video frames):
# limited range (luma 16-235) and full range (yuvj420p, JPEG).
# As 3x4 affine matrices (the offsets folded into the last column), so that one
# cv2.transform takes uint8 YUV to uint8 BGR, rounded and saturated, without a float copy.
_LIMITED_OFFSET, _FULL_OFFSET = (16.0, 128.0, 128.0), (0.0, 128.0, 128.0)
_LIMITED_BT601 = np.array([[1.164, 2.018, 0.0], [1.164, -0.391, -0.813], [1.164, 0.0, 1.596]], np.float32)
_FULL_BT601 = np.array([[1.0, 1.772, 0.0], [1.0, -0.344, -0.714], [1.0, 0.0, 1.402]], np.float32)


def _affine(matrix: np.ndarray, offset: tuple[float, float, float]) -> np.ndarray:
    return np.hstack([matrix, (-matrix @ np.array(offset, np.float32))[:, None]]).astype(np.float32)


_TO_BGR = {"yuv420p": _affine(_LIMITED_BT601, _LIMITED_OFFSET), "yuvj420p": _affine(_FULL_BT601, _FULL_OFFSET)}


def import_detector_early() -> threading.Thread | None:
    """Import PySceneDetect in a thread, now, and return the thread (None when it is imported).

    Its import takes half a second on 2 cores (the package imports its MoviePy and ffmpeg
    output backends, which look for ffmpeg): made at a run's start, on the core that the audio
    extraction and the model load leave, it is no longer in the scene search after the last
    window, which nothing overlaps. The caller joins the thread before it exits."""
    if "scenedetect" in sys.modules:
        return None
    thread = threading.Thread(target=_import_detector, name="clipper-import-scenedetect", daemon=True)
    thread.start()
    return thread


def _import_detector() -> None:
    try:
        import scenedetect  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the scene search imports it again and reports it
        log.debug("PySceneDetect did not import early: %s", exc)


def detect_cuts(video_path: str | Path, windows: Sequence[tuple[float, float]], cfg: ScenesConfig,
                on_progress: Callable[[int, int], None] | None = None) -> Shots:
    """Cuts inside ``windows`` (seconds from the file's start). With many windows, ``readers``
    demuxers each take a run of consecutive windows, one thread each with a single-threaded
    decoder: over the 40 windows of the 10-minute benchmark stream on 2 cores, 2.9 s against
    3.7-3.9 s for one reader with the decoder's own threads (which wait at every seek)."""
    if not cfg.enabled or not windows:
        return Shots(windows=tuple(windows), cuts=())
    readers = max(1, min(MAX_READERS, os.cpu_count() or 1, len(windows) // MIN_WINDOWS_PER_READER))
    done, lock = [0], threading.Lock()

    def tick() -> None:
        with lock:
            done[0] += 1
            if on_progress:
                on_progress(done[0], len(windows))

    path = media_path(video_path)   # "a:b.mp4" would be a protocol
    share = -(-len(windows) // readers)
    runs = [windows[k:k + share] for k in range(0, len(windows), share)]
    if len(runs) == 1:
        cuts = _cuts_in(path, str(video_path), runs[0], cfg, tick, decoder_threads=True)
    else:
        with ThreadPoolExecutor(len(runs), thread_name_prefix="clipper-scenes") as pool:
            found = [pool.submit(_cuts_in, path, str(video_path), run, cfg, tick, False) for run in runs]
            cuts = [t for f in found for t in f.result()]
    return Shots(windows=tuple(windows), cuts=tuple(sorted(set(cuts))))


def _cuts_in(path: str, shown: str, windows: Sequence[tuple[float, float]], cfg: ScenesConfig,
             tick: Callable[[], None], decoder_threads: bool) -> list[float]:
    scanner = WindowScanner(path, shown, cfg, decoder_threads)
    try:
        cuts: list[float] = []
        for window in windows:
            cuts += scanner.cuts(window) or []
            tick()
        return cuts
    finally:
        scanner.close()


class WindowScanner:
    """One demuxer reading windows one after another (``detect_cuts``' readers, and the scene
    prefetch, which reads a window at a time while the recogniser works)."""

    def __init__(self, path: str, shown: str, cfg: ScenesConfig, decoder_threads: bool = False) -> None:
        self.cfg = cfg
        self.reader = _WindowReader(path, shown, decoder_threads)

    def cuts(self, window: tuple[float, float], should_stop: Callable[[], bool] | None = None) -> list[float] | None:
        """The cuts inside ``window``; none where the stream is damaged (with a warning);
        None when ``should_stop`` said so between two frames (the window is not read)."""
        import av

        start, end = window
        try:
            found = self.reader.cuts(start, end, self.cfg, should_stop)
            return None if found is None else [t for t in found if start - 1e-3 <= t <= end + 1e-3]
        except (av.FFmpegError, ValueError) as exc:   # a damaged stretch: that window has no cuts
            log.warning("scene detection failed in %.1f-%.1fs: %s", start, end, exc)
            self.reader.open()   # a fresh demuxer: the old one may be stuck past the damage
            return []

    def close(self) -> None:
        self.reader.close()


class _WindowReader:
    """Frames of one video stream, window by window, shrunk for the detector."""

    def __init__(self, path: str, shown: str, decoder_threads: bool) -> None:
        self.path, self.shown, self.container, self.decoder_threads = path, shown, None, decoder_threads
        self.open()
        self.fps = float(self.stream.average_rate or self.stream.guessed_rate or 25)
        self.half = 0.5 / self.fps     # half a frame: which frames a time range takes
        self.tb = float(self.stream.time_base)
        # Seconds as ffmpeg's -ss counts them: from the file's start, not the stream's.
        self.origin = (self.container.start_time or 0) / 1_000_000

    def open(self) -> None:
        import av

        self.close()
        try:
            self.container = av.open(self.path)
            self.stream = self.container.streams.video[0]
        except (av.FFmpegError, IndexError, OSError) as exc:
            self.close()
            raise StageError(f"scene detection cannot open the video: {exc}", path=self.shown) from None
        if self.decoder_threads:
            self.stream.thread_type = "AUTO"
        else:
            self.stream.thread_type, self.stream.codec_context.thread_count = "SLICE", 1
        self.stream.codec_context.options = {"skip_loop_filter": "all"}

    def close(self) -> None:
        if self.container is not None:
            self.container.close()
            self.container = None

    def frames(self, lo: float, hi: float):
        """(seconds, BGR image) of each frame shown from ``lo`` to ``hi``."""
        for t, frame in self._from(lo):
            if t < lo - self.half:
                continue          # decoded on the way from the keyframe before the window
            if t > hi + self.half:
                return
            yield t, self.small(frame)

    def _from(self, lo: float):
        """(seconds, frame) decoded from a keyframe at or before ``lo``. A demuxer that finds
        no keyframe before the target (an MPEG-TS with one keyframe, at its start) lands past
        it or at the end: then from ten seconds earlier, then from the start of the file."""
        for back in (0.0, 10.0, None):
            if back is None:
                self.container.seek(0)
            else:
                self.container.seek(int((max(0.0, lo - back) + self.origin) / self.tb), stream=self.stream,
                                    backward=True)
            decoded = self._decode(lo)
            first = next(decoded, None)
            if first is not None and (back is None or first[0] <= lo + self.half):
                yield first
                yield from decoded
                return

    def _decode(self, lo: float):
        ctx = self.stream.codec_context
        for packet in self.container.demux(self.stream):
            # A frame no other frame refers to and shown before the window is not decoded.
            early = packet.pts is not None and packet.pts * self.tb - self.origin < lo - self.half
            ctx.skip_frame = "NONREF" if early else "DEFAULT"
            for frame in packet.decode():
                if frame.pts is not None:
                    yield frame.pts * self.tb - self.origin, frame

    def small(self, frame):
        """The frame about ``DETECT_WIDTH`` wide, as BGR. 4:2:0 frames (nearly every stream)
        are sampled straight from their planes: every k-th luma sample and every (k/2)-th
        chroma one line up, so no full-size picture is ever made, and turned into BGR with
        the limited-range BT.601 matrix swscale itself uses (OpenCV's YUV2BGR assumes full
        range: paler colours, and on three real recordings two cuts of ten scored under
        the threshold). Anything else goes through swscale's fastest shrink."""
        import cv2   # (a numpy matmul here would wake BLAS's threads for every frame)

        k = max(2, 2 * round(frame.width / (2 * DETECT_WIDTH)))
        if frame.format.name not in ("yuv420p", "yuvj420p") or frame.width < 2 * k or frame.height < 2 * k:
            return frame.to_ndarray(width=max(2, frame.width // k), height=max(2, frame.height // k),
                                    format="bgr24", interpolation="FAST_BILINEAR")
        h, w = frame.height - frame.height % k, frame.width - frame.width % k
        y, u, v = (np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes)
        yuv = cv2.merge([np.ascontiguousarray(y[:h:k, :w:k]), np.ascontiguousarray(u[:h // 2:k // 2, :w // 2:k // 2]),
                         np.ascontiguousarray(v[:h // 2:k // 2, :w // 2:k // 2])])
        return cv2.transform(yuv, _TO_BGR[frame.format.name])

    def cuts(self, start: float, end: float, cfg: ScenesConfig,
             should_stop: Callable[[], bool] | None = None) -> list[float] | None:
        from scenedetect import ContentDetector, FrameTimecode

        min_len = max(1, int(round(cfg.min_scene_len * self.fps)))
        detector = ContentDetector(threshold=cfg.threshold, min_scene_len=min_len)
        # The detector holds a cut back until min_scene_len frames after the first frame it
        # is shown, as after a cut. The window's lead-in is not a scene that just began, so
        # the first frame is numbered min_len before the rest: a cut on the window's first
        # frame counts (the lead-in used to be min_scene_len long, a third of the frames).
        at: dict[int, float] = {}    # the detector's frame number -> the frame's own time
        found = []
        for n, (t, image) in enumerate(self.frames(max(0.0, start - LEAD), end + 1.0 / self.fps)):
            if should_stop is not None and should_stop():
                return None
            number = n + min_len if n else 0
            at[number] = t
            for cut in detector.process_frame(FrameTimecode(number, self.fps), image):
                found.append(round(at[cut.frame_num], 3))
        return found
