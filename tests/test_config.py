from pathlib import Path

import pytest

from rag.config import Config
from rag.errors import ConfigError


def test_config_is_frozen():
    with pytest.raises(Exception):
        Config().passages = 9


def test_toml_overrides_and_cli_overrides(tmp_path):
    path = tmp_path / "rag.toml"
    path.write_text('generator = "quality"\npassages = 3\nindex_dir = "~/idx"\nquote_fallback = false\n')
    config = Config.from_toml(path, passages="5")
    assert config.generator == "quality"
    assert config.passages == 5  # the override wins over the file, and strings become ints
    assert config.index_dir == Path("~/idx").expanduser()
    assert config.quote_fallback is False


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
    ({"quote_fallback": "perhaps"}, "quote_fallback expects bool"),
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
