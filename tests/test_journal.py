"""The journal (append-only windows and publish decisions) and the walk's publish rule, without a model."""

from __future__ import annotations

import json

from clipper.pipeline.journal import NAME, Journal, PassRecord
from clipper.pipeline.walk import clips_to_publish, lookahead
from clipper.transcribe.whisper import ChunkResult
from clipper.types import ClipSpec, Word
from clipper.workspace import Workspace


def window(start: float, end: float, text: str = "hello") -> ChunkResult:
    return ChunkResult(start, end, "en", 0.9, (Word(text, start + 0.5, start + 1.0, 0.9),),
                       ((start + 0.5, start + 1.0, text, 1),))


def clip(start: float, end: float, cid: str, last: str = "s1") -> ClipSpec:
    return ClipSpec(id=cid, kind="selling_point", tags=(), product=1, start=start, end=end,
                    sentence_ids=(last,), text="...")


def test_journal_reads_back_windows_passes_and_end(tmp_path):
    ws = Workspace(tmp_path / "out")
    j = Journal.open(ws, "k1")
    j.add_window(window(0, 30))
    j.add_pass(PassRecord("p", 1, False, (clip(1, 20, "c001"),)))
    j.add_window(window(30, 60))
    j.mark_end(60.0)
    again = Journal.open(ws, "k1")
    assert again.windows == j.windows and again.passes == j.passes and again.end == 60.0
    assert again.decided("p", 1, False).clips[0].id == "c001"
    assert again.decided("other settings", 1, False) is None and again.decided("p", 2, False) is None
    assert again.transcribed_until == 30 + 30 and again.language == "en"


def test_journal_drops_a_torn_last_line_and_appends_after_it(tmp_path):
    ws = Workspace(tmp_path / "out")
    j = Journal.open(ws, "k1")
    j.add_window(window(0, 30))
    with ws.path(NAME).open("a") as fh:
        fh.write('{"key": "k1", "window": {"start": 30')      # killed mid-write
    again = Journal.open(ws, "k1")
    assert len(again.windows) == 1 and not ws.path(NAME + ".corrupt").exists()


def test_journal_of_other_settings_starts_afresh_and_garbage_is_set_aside(tmp_path):
    ws = Workspace(tmp_path / "out")
    j = Journal.open(ws, "k1")
    j.add_window(window(0, 30))
    assert Journal.open(ws, "k2").windows == []
    assert ws.path(NAME).read_text() == "", "the old settings' windows are not mixed in"
    ws.path(NAME).write_text('{"key": "k2", "window": 5}\n{"key": "k2", "end": 3}\n')
    assert Journal.open(ws, "k2").windows == []
    assert ws.path(NAME + ".corrupt").exists()


def test_journal_lines_are_appended_never_rewritten(tmp_path):
    ws = Workspace(tmp_path / "out")
    j = Journal.open(ws, "k1")
    j.add_window(window(0, 30))
    first = ws.path(NAME).read_text()
    j.add_window(window(30, 60))
    text = ws.path(NAME).read_text()
    assert text.startswith(first) and len(text.splitlines()) == 2
    assert all(json.loads(line)["key"] == "k1" for line in text.splitlines())


def test_a_clip_waits_for_the_sentences_its_labels_depend_on():
    ids = ["s1", "s2", "s3", "s4"]
    planned = [clip(1, 10, "x", last="s2")]
    # Heard far past it, but only one sentence after its last one: the embed backend reads two.
    assert clips_to_publish(planned, [], 30.0, 29.0, 3.0, False, ids[:3], lookahead=2) == []
    assert [c.id for c in clips_to_publish(planned, [], 30.0, 29.0, 3.0, False, ids, lookahead=2)] == ["c001"]
    assert [c.id for c in clips_to_publish(planned, [], 30.0, 29.0, 3.0, True, ids[:2], lookahead=2)] == ["c001"]


def test_lookahead_per_backend():
    from clipper import load_config

    cfg = load_config()
    assert lookahead(cfg.segment.model_copy(update={"backend": "rules"})) == 1
    assert lookahead(cfg.segment.model_copy(update={"backend": "embed"})) == 2
    llm = cfg.segment.model_copy(update={"backend": "openai"})
    assert lookahead(llm) >= cfg.segment.llm.window // 2


def test_a_clip_waits_until_the_thought_after_it_has_ended():
    """The planner compares a clip's subject with the whole next thought: while that thought
    goes on (no full stop or long pause yet), its later pieces could still move the clip's end."""
    from clipper import load_config
    from clipper.pipeline.walk import thoughts_closed
    from clipper.types import Sentence

    cfg = load_config().plan

    def sentence(i: int, start: float, text: str) -> Sentence:
        return Sentence(id=f"s{i}", start=start, end=start + 2.0, text=text, first_word=i, last_word=i)

    sents = [sentence(0, 0.0, "The linen breathes."), sentence(1, 2.1, "It drapes,"), sentence(2, 4.2, "and then"),
             sentence(3, 6.3, "it falls,")]
    assert thoughts_closed(sents, cfg) == 1, "only the first sentence's thought has ended"
    ids = [s.id for s in sents]
    planned = [clip(0, 2.05, "x", last="s0")]
    assert clips_to_publish(planned, [], 30.0, 29.0, 3.0, False, ids, 0, closed=1) == []
    done = sents + [sentence(4, 8.4, "Great for summer.")]
    assert thoughts_closed(done, cfg) == 1, "the next thought has not ended yet: its last sentence may be followed by more"
    more = done + [sentence(5, 10.5, "Next.")]
    assert thoughts_closed(more, cfg) == 5
    assert [c.id for c in clips_to_publish(planned, [], 30.0, 29.0, 3.0, False,
                                           [s.id for s in more], 0, closed=5)] == ["c001"]
