"""Model resolution with the real packaged models (no network)."""

import pytest

from clipper.errors import ModelError
from clipper.transcribe import models


def test_base_is_joined_once_verified_and_rejoined_when_damaged(tmp_path):
    spec = models.SPLIT_MODELS["base"]
    dest = models.assemble(spec, dest_root=tmp_path)
    model_bin = dest / "model.bin"
    assert model_bin.stat().st_size == spec.size
    assert models._sha256(model_bin) == spec.sha256
    assert (dest / "config.json").is_file() and (dest / "tokenizer.json").is_file()

    mtime = model_bin.stat().st_mtime_ns
    assert models.assemble(spec, dest_root=tmp_path) == dest
    assert model_bin.stat().st_mtime_ns == mtime  # second call reuses the cached join

    with model_bin.open("r+b") as fh:  # damage it: truncate
        fh.truncate(1000)
    models.assemble(spec, dest_root=tmp_path)
    assert model_bin.stat().st_size == spec.size


def test_tiny_en_is_the_packaged_folder():
    path = models.resolve("tiny.en")
    assert path.endswith("model") and (models.Path(path) / "model.bin").is_file()


def test_folder_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="no model.bin"):
        models.resolve(str(tmp_path))


def test_unknown_name_and_hub_ids():
    with pytest.raises(ModelError, match="unknown model"):
        models.resolve("huge")
    assert models.resolve("Systran/faster-whisper-large-v3") == "Systran/faster-whisper-large-v3"


def test_unreachable_hub_id_fails_in_one_line(monkeypatch, tmp_path):
    from clipper.config import load_config
    from clipper.transcribe.whisper import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # this machine has no hub; make that immediate
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    cfg = load_config(overrides={"transcribe": {"model": "nobody/no-such-whisper"}}).transcribe
    with pytest.raises(ModelError) as exc:
        load_model(cfg)
    assert "cannot fetch Whisper model 'nobody/no-such-whisper'" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_incomplete_split_packages_are_refused(monkeypatch, tmp_path):
    # A split model whose parts do not add up (as the 1.0.0 "small" packages): refused, not loaded.
    bogus = models.SplitModel("base", models.SPLIT_MODELS["base"].packages[:1], size=models.SPLIT_MODELS["base"].size,
                              sha256=None)
    with pytest.raises(ModelError, match="incomplete"):
        models.assemble(bogus, dest_root=tmp_path)
