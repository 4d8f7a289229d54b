from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import ConfigError


def test_config_is_frozen():
    with pytest.raises(Exception):
        Config().passages = 9


def test_toml_overrides_and_cli_overrides(tmp_path):
    path = tmp_path / "rag.toml"
    path.write_text('generator = "quality"\npassages = 3\nindex_dir = "~/idx"\nsecond_look = false\n')
    config = Config.from_toml(path, passages="5")
    assert config.generator == "quality"
    assert config.passages == 5  # the override wins over the file, and strings become ints
    assert config.index_dir == Path("~/idx").expanduser()
    assert config.second_look is False


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path):
    path = tmp_path / "rag.toml"
    path.write_text("pasages = 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'pasages' \\(did you mean 'passages'\\?\\)"):
        Config.from_toml(path)


@pytest.mark.parametrize("changes, message", [
    ({"retrieval": "magic"}, "retrieval must be one of"),
    ({"passages": 0}, "passages must be at least 1"),
    ({"lexical_weight": 1.5}, "lexical_weight must be between 0 and 1"),
    ({"passages": "many"}, "passages expects int"),
    ({"second_look": "perhaps"}, "second_look expects bool"),
])
def test_bad_values_say_which_field_is_wrong(changes, message):
    with pytest.raises(ConfigError, match=message):
        Config().replace(**changes)


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("passages = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Config.from_toml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        Config.from_toml(tmp_path / "none.toml")


def test_config_built_in_python_coerces_like_a_file(tmp_path):
    config = Config(corpus_dir=str(tmp_path / "corpus"), index_dir="~/idx", passages="3", lexical_weight=1,
                    second_look="no")
    assert config.corpus_dir == tmp_path / "corpus" and isinstance(config.corpus_dir, Path)
    assert config.index_dir == Path("~/idx").expanduser()
    assert (config.passages, config.lexical_weight, config.second_look) == (3, 1.0, False)
    assert type(config.lexical_weight) is float
    assert Config.from_dict(config.to_dict()) == config


def test_a_str_corpus_dir_loads(tmp_path, corpus_dir, fake_embedder):
    """The issue's report: `Config(corpus_dir="some/folder")` then `RAG.load` raised AttributeError."""
    from rag import RAG

    config = Config(corpus_dir=str(corpus_dir), index_dir=str(tmp_path / "index"), cache_dir=str(tmp_path / "c"))
    bot = RAG.load(config, embedder=fake_embedder, generator=object())
    assert len(bot.documents()) == 3


@pytest.mark.parametrize("changes, message", [
    ({"corpus_dir": 3}, "corpus_dir expects a folder path, not 3. Fix: corpus_dir = "),
    ({"corpus_dir": ""}, "corpus_dir expects a folder path, not ''"),
    ({"index_dir": "a\x00b"}, "index_dir expects a folder path"),
    ({"passages": 2.5}, "passages expects int \\(a whole number\\), not 2.5. Fix: passages = 4  \\(the default\\)"),
    ({"passages": True}, "passages expects int"),
    ({"lexical_weight": "half"}, "lexical_weight expects float \\(a number\\), not 'half'"),
    ({"lexical_weight": float("nan")}, "lexical_weight must be between 0 and 1, not nan"),
    ({"max_file_mb": 0}, "max_file_mb must be a number of megabytes above 0, not 0.0. Fix: max_file_mb = 20.0"),
    ({"max_file_mb": float("inf")}, "max_file_mb must be a number of megabytes above 0"),
    ({"temperature": -1}, "temperature must be 0 or more"),
    ({"n_threads": -3}, "n_threads must be 0 or more, not -3"),
    ({"embedder": None}, "embedder expects str \\(text\\), not None. Fix: embedder = \"minilm\""),
    ({"generator": " "}, "generator must name a model"),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda, not 'tpu'. Fix: device = \"auto\""),
    ({"rewrite_followups": 2}, "rewrite_followups expects bool \\(true or false\\), not 2"),
])
def test_direct_construction_names_the_field_the_value_and_the_fix(changes, message):
    with pytest.raises(ConfigError, match=message):
        Config(**changes)


def test_unreadable_config_file_is_a_config_error(tmp_path):
    path = tmp_path / "rag.toml"
    path.write_bytes(b"passages = 3\n# \xff\xfe not utf-8\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        Config.from_toml(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        Config.from_toml(tmp_path)  # a folder


def test_every_field_is_on_the_configuration_page():
    """docs/configuration.md has a row for each Config field, so the page cannot fall behind the code."""
    from dataclasses import fields

    page = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Config) if f"| `{f.name}` |" not in page]
    assert not missing, f"add these fields to docs/configuration.md: {missing}"
