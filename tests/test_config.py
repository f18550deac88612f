import pytest

from clipper.config import available_categories, load_category, load_config, load_cues
from clipper.errors import ConfigError


def test_defaults_load_and_validate():
    cfg = load_config()
    assert cfg.render.width == 1080 and cfg.render.height == 1920
    assert cfg.segment.backend == "embed" and cfg.segment.category == "auto"
    assert cfg.transcribe.model == "base"


def test_unknown_key_is_rejected(tmp_path):
    f = tmp_path / "my.toml"
    f.write_text("[plan]\nmin_secs = 3\n")
    with pytest.raises(ConfigError, match="plan.min_secs"):
        load_config(f)


def test_bad_value_is_rejected():
    with pytest.raises(ConfigError, match="render.width"):
        load_config(overrides={"render": {"width": 1081}})
    with pytest.raises(ConfigError, match="kinds"):
        load_config(overrides={"segment": {"kinds": ["highlights"]}})


def test_llm_window_must_exceed_overlap():
    with pytest.raises(ConfigError, match="overlap"):
        load_config(overrides={"segment": {"llm": {"window": 4, "overlap": 4}}})


def test_presets_layer_under_user_settings(tmp_path):
    f = tmp_path / "team.toml"
    f.write_text("[render]\nfont_size = 50\n")
    cfg = load_config(f, preset="xiaohongshu")
    assert (cfg.render.width, cfg.render.height, cfg.render.font_size) == (1080, 1440, 50)
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="myspace")


def test_user_file_overrides_defaults(tmp_path):
    f = tmp_path / "team.toml"
    f.write_text('[plan]\nmax_seconds = 45\n[render]\nlayout = "crop"\n')
    cfg = load_config(f)
    assert cfg.plan.max_seconds == 45 and cfg.render.layout == "crop"
    assert cfg.plan.min_seconds == 8  # untouched keys keep their defaults


def test_invalid_toml_names_the_file(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("[plan\n")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_config(f)


def test_categories_share_the_contract_vocabulary():
    contract = {"fabric", "material", "drape", "skin_feel", "fit", "size", "color", "craft", "function",
                "ingredient", "scenario", "other"}
    assert {"apparel", "beauty", "electronics", "food"} <= set(available_categories())
    for name in ("apparel", "beauty", "electronics"):
        tags = set(load_category(name).tags)
        assert tags <= contract, tags - contract
        for spec in load_category(name).tags.values():
            assert spec.zh and spec.en, "every tag needs Chinese and English cues"
    with pytest.raises(ConfigError, match="unknown category"):
        load_category("furniture")


def test_cues_load():
    cues = load_cues()
    assert "链接" in cues.promo.zh and "link" in cues.promo.en


def test_language_list_is_whispers():
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from clipper.config import WHISPER_LANGUAGES

    assert set(WHISPER_LANGUAGES) == set(_LANGUAGE_CODES)
    assert load_config(overrides={"transcribe": {"language": "ZH"}}).transcribe.language == "zh"
    assert load_config(overrides={"transcribe": {"language": "auto"}}).transcribe.language == "auto"


@pytest.mark.parametrize("table, key, value, where", [
    ("transcribe", "language", "klingon", "transcribe.language"),
    ("transcribe", "compute_type", "int4", "transcribe.compute_type"),
    ("render", "preset", "fastest", "render.preset"),
    ("render", "audio_rate", 44000, "render.audio_rate"),
    ("render", "audio_bitrate", "loud", "render.audio_bitrate"),
    ("render", "background", "red[x];", "render.background"),
    ("render", "title_template", "{price}", "render.title_template"),
])
def test_values_clipper_would_only_trip_on_later_are_refused_at_load(table, key, value, where):
    with pytest.raises(ConfigError, match=where) as info:
        load_config(overrides={table: {key: value}})
    assert str(info.value).startswith("command line: ")   # the layer that set it is named


def test_unreadable_config_file_is_a_config_error(tmp_path):
    f = tmp_path / "x.toml"
    f.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(f)
    with pytest.raises(ConfigError, match="the run's saved settings"):
        load_config(base=[1, 2])   # a damaged config.json of a run
