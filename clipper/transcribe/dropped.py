"""Speech the decoder dropped: found with the VAD, decoded a second time.

Whisper can skip speech without leaving a mark. After a 30-second window it jumps to the
last timestamp it wrote, and a greedy decoder that stops early or repeats itself loses what
was between; a short reply between pauses ("老哥") can vanish inside a VAD-joined stretch.
Nothing in the transcript shows the hole. So each window is checked: where the VAD hears
speech that no word covers, that stretch is decoded again on its own, with beam search and
without the previous text, and what it yields is put back in time order.

A second decode of a short stretch can also invent text (Whisper fills unclear audio with
stock phrases), so its segments are kept only when the recogniser itself trusts them
(``trusted``: the thresholds Whisper's own temperature fallback uses).
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from ..media.audio import SAMPLE_RATE
from ..stopping import never, stop_if
from ..types import Word

log = logging.getLogger(__name__)

# Uncovered speech shorter than this is the VAD's padding around words, not a lost word: the
# VAD pads each stretch by 0.2 s on both sides; a short reply ("老哥", 0.7 s with its padding)
# is longer.
MIN_GAP = 0.5
# More sensitive than the decoder's VAD (0.5): the speech it drops is quiet and short, and
# Silero scores it 0.3-0.45 (a dialogue's "老哥" and "把那…"); music there scored under 0.05.
THRESHOLD = 0.35
# Word timestamps come from cross-attention alignment and are often off by a few tenths.
WORD_SLACK = 0.3
# Audio decoded around a gap. A second pass over the gap alone fails: Whisper base given a
# second of quiet speech writes nothing, or stock phrases; with ten seconds of the dialogue
# around it, it hears the reply as it does in a whole-file decode without the VAD.
CONTEXT = 10.0
# Whisper's own thresholds for a decode it does not believe (faster-whisper defaults).
MIN_AVG_LOGPROB = -1.0
MAX_COMPRESSION = 2.4
MAX_NO_SPEECH = 0.6

Segment = tuple[float, float, str, int]      # (start, end, text, word count), as in ChunkResult


def speech_spans(audio) -> list[tuple[float, float]]:
    """Stretches of speech in 16 kHz audio, in seconds from its start (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(threshold=THRESHOLD, min_silence_duration_ms=300, speech_pad_ms=200)
    return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in get_speech_timestamps(audio, options)]


def uncovered(speech: Sequence[tuple[float, float]], words: Sequence[tuple[float, float]],
              min_gap: float = MIN_GAP, slack: float = WORD_SLACK) -> list[tuple[float, float]]:
    """The parts of ``speech`` that no word (widened by ``slack``) covers, at least ``min_gap``
    long (pure). Both are lists of (start, end) in seconds; words in any order."""
    covers = sorted((max(0.0, s - slack), e + slack) for s, e in words)
    gaps: list[tuple[float, float]] = []
    for s, e in speech:
        at = s
        for cs, ce in covers:
            if ce <= at or cs >= e:
                continue
            if cs - at >= min_gap:
                gaps.append((round(at, 3), round(cs, 3)))
            at = max(at, ce)
        if e - at >= min_gap:
            gaps.append((round(at, 3), round(e, 3)))
    return gaps


def trusted(segment) -> bool:
    """Does the recogniser believe this segment (a faster-whisper Segment)?"""
    if segment.no_speech_prob > MAX_NO_SPEECH and segment.avg_logprob < MIN_AVG_LOGPROB:
        return False
    return segment.avg_logprob >= MIN_AVG_LOGPROB and segment.compression_ratio <= MAX_COMPRESSION


def redecode(model, audio, gaps: Sequence[tuple[float, float]], offset: float, options: dict,
             convert=None, heard: Sequence[Word] = (),
             should_stop: Callable[[], bool] = never) -> list[tuple[Segment, list[Word]]]:
    """Decode the audio around ``gaps`` (seconds into ``audio``) again and return the words
    that fall in them, as (segment, words) in source time (``offset`` is the window's start).

    ``options`` are the window's transcribe arguments (language…): beam search is kept or
    raised to 5, the VAD is off (it is what missed the speech), the previous text is not used,
    and there is no prompt or hotwords (given a few seconds of audio, Whisper base copies a
    prompt into its output). One decode at temperature 0, without faster-whisper's fallback to
    sampling at higher temperatures: a decode Whisper does not trust is dropped (``trusted``)
    rather than sampled up to five more times. On the Mandarin test's dropped news read the
    fallback was half of the 12 s; on the nine real recordings the CER is the same (10.9 %
    with beam 5, 12.3 % greedy). Gaps whose context windows overlap share one decode. ``heard``
    are the window's words: a recovered word must not lie on one of them.
    """
    total = len(audio) / SAMPLE_RATE
    opts = {k: v for k, v in options.items()
            if k not in ("vad_parameters", "batch_size", "initial_prompt", "hotwords")}
    opts.update(beam_size=max(5, options.get("beam_size", 1)), vad_filter=False, temperature=0.0,
                condition_on_previous_text=False, word_timestamps=True)
    taken = [(w.start - offset, w.end - offset, _bare(w.text)) for w in heard]
    found: list[tuple[Segment, list[Word]]] = []
    for lo, hi, members in _windows(gaps, total):
        segments, _ = model.transcribe(audio[int(lo * SAMPLE_RATE):int(hi * SAMPLE_RATE)], **opts)
        for seg in segments:
            stop_if(should_stop, "while decoding dropped speech again")
            if not trusted(seg):
                log.debug("dropped-speech decode at %.1fs not trusted: %r", offset + lo + seg.start, seg.text)
                continue
            words = [Word(convert(w.word) if convert else w.word, round(offset + lo + w.start, 3),
                          round(offset + lo + w.end, 3), round(float(w.probability), 3))
                     for w in (seg.words or []) if w.word.strip()
                     and _in_gap(lo + w.start, lo + w.end, members) and not _on_heard(lo + w.start, lo + w.end, _bare(w.word), taken)]
            if words:
                text = "".join(w.text for w in words).strip()
                found.append(((words[0].start, words[-1].end, text, len(words)), words))
    return found


def _windows(gaps: Sequence[tuple[float, float]], total: float) -> list[tuple[float, float, list]]:
    """(start, end, gaps) of the audio to decode: each gap with CONTEXT either side, merged
    while the result fits in Whisper's 30-second input (a longer one is cut where the decoder
    chooses, and the gap may land at a cut)."""
    out: list[tuple[float, float, list]] = []
    for gs, ge in sorted(gaps):
        lo, hi = max(0.0, gs - CONTEXT), min(total, ge + CONTEXT)
        if out and lo <= out[-1][1] and hi - out[-1][0] <= 30.0:
            out[-1] = (out[-1][0], hi, out[-1][2] + [(gs, ge)])
        else:
            out.append((lo, hi, [(gs, ge)]))
    return out


def _in_gap(start: float, end: float, gaps: Sequence[tuple[float, float]]) -> bool:
    mid = (start + end) / 2
    return any(gs - WORD_SLACK <= mid <= ge + WORD_SLACK for gs, ge in gaps)


def _on_heard(start: float, end: float, text: str, taken: Sequence[tuple[float, float, str]]) -> bool:
    """Is a recovered word one the first decode wrote: lying mostly on one of its words, or
    the same text as a word just beside it (the two decodes place a word a little apart)?"""
    length = max(end - start, 1e-3)
    return any(min(end, te) - max(start, ts) > length / 2
               or (text == tt and min(abs(start - te), abs(ts - end)) < WORD_SLACK * 2) for ts, te, tt in taken)


def _repeats(segment: Segment, words: Sequence[Word]) -> bool:
    """Is a recovered segment only a copy of words next to it? (Word times can be off by more
    than the slack, and then a gap is a word that is already there.)"""
    near_text = "".join(w.text for w in words if w.end > segment[0] - 2.0 and w.start < segment[1] + 2.0)
    return _bare(segment[2]) in _bare(near_text)


def _bare(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def merge(words: Sequence[Word], segments: Sequence[Segment],
          extra: Sequence[tuple[Segment, list[Word]]]) -> tuple[list[Word], list[Segment]]:
    """The window's segments and the recovered ones, with their words in time order. A
    recovered stretch that falls inside a segment (a long one, run on past a pause) splits it;
    a segment left whole keeps the recogniser's own text."""
    groups: list[tuple[Segment | None, list[Word]]] = []
    at = 0
    for seg in segments:
        groups.append((seg, list(words[at:at + seg[3]])))
        at += seg[3]
    for seg, found in sorted(extra, key=lambda g: g[0][0]):
        t = found[0].start
        for k, (_, group) in enumerate(groups):
            cut = next((n for n, w in enumerate(group) if w.start >= t), len(group))
            if 0 < cut < len(group):
                groups[k:k + 1] = [(None, group[:cut]), (None, group[cut:])]
                break
        groups.append((seg, list(found)))
    groups.sort(key=lambda g: g[1][0].start)
    out = [seg or (g[0].start, g[-1].end, "".join(w.text for w in g).strip(), len(g)) for seg, g in groups]
    return [w for _, g in groups for w in g], out


def recover(model, audio, offset: float, words: Sequence[Word], segments: Sequence[Segment],
            options: dict, convert=None, should_stop: Callable[[], bool] = never
            ) -> tuple[list[Word], list[Segment], list[tuple[float, float]]]:
    """Find the speech the window's words leave out and decode it again.

    Returns the merged words and segments, and the gaps (source seconds) that stay without a
    word: the transcript lists them (``Transcript.unheard``), so a reader knows text may be
    missing there.
    """
    spans = [(offset + s, offset + e) for s, e in speech_spans(audio)]
    gaps = uncovered(spans, [(w.start, w.end) for w in words])
    if not gaps:
        return list(words), list(segments), []
    extra = [(seg, ws) for seg, ws in redecode(model, audio, [(s - offset, e - offset) for s, e in gaps],
                                               offset, options, convert, words, should_stop)
             if not _repeats(seg, words)]
    merged_words, merged_segments = merge(words, segments, extra)
    unheard = [(gs, ge) for gs, ge in gaps if not any(w.start < ge and w.end > gs for _, ws in extra for w in ws)]
    log.info("dropped speech: %d stretch(es) without words (%s); %d recovered, %d still without",
             len(gaps), ", ".join(f"{s:.1f}-{e:.1f}s" for s, e in gaps), len(gaps) - len(unheard), len(unheard))
    return merged_words, merged_segments, unheard
