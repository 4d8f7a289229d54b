"""Config values from TOML, the command line or Python, turned into each field's type, or refused.

    >>> import dataclasses; from rag.config import Config
    >>> passages = next(f for f in dataclasses.fields(Config) if f.name == "passages")
    >>> coerce(passages, "4"), coerce(passages, 5.0)
    (4, 5)
    >>> coerce(passages, 3.7)
    Traceback (most recent call last):
    ...
    rag.errors.ConfigError: passages expects int (a whole number), not 3.7. Fix: passages = 4  (the default)

Every refusal names the field, what it needs, and a fix (by default: the field's default value).
The checks of the values themselves (ranges, choices) are `Config.validate`'s (rag/config.py).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .errors import ConfigError


def refuse(name: str, value, need: str, fix: str):
    raise ConfigError(f"{name} {need}, not {value!r}. Fix: {fix}")


def default_fix(field: dataclasses.Field) -> str:
    """The fix that sets a field back to its default: `name = value  (the default)`, written as in TOML."""
    value = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    shown = f'"{value}"' if isinstance(value, (str, Path)) else str(value).lower() if isinstance(value, bool) else value
    return f"{field.name} = {shown}  (the default)"


_KINDS = {"Path": "a folder path", "bool": "bool (true or false)", "int": "int (a whole number)",
          "float": "float (a number)", "str": "str (text)"}


def coerce(field: dataclasses.Field, value):
    """Turn TOML/CLI/Python values into the field's type: paths from strings, numbers from strings.

    Refuses what would silently change meaning: a bool where a number belongs, 3.7 for a whole
    number, an empty path, text with a NUL byte.
    """
    kind = field.type
    name = field.name

    def wrong():
        refuse(name, value, f"expects {_KINDS[kind]}", default_fix(field))

    if kind == "Path":
        if not isinstance(value, (str, os.PathLike)):
            wrong()
        text = os.fspath(value)
        if not isinstance(text, str) or not text.strip() or "\x00" in text:
            wrong()
        try:
            return Path(text).expanduser()
        except RuntimeError:  # "~" with no home directory
            return Path(text)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        wrong()
    if kind in ("int", "float"):
        if isinstance(value, bool):
            wrong()
        if isinstance(value, str):
            try:
                value_n = int(value.strip()) if kind == "int" else float(value.strip())
            except ValueError:
                wrong()
            value = value_n
        if kind == "int":
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if not isinstance(value, int):
                wrong()
            return int(value)
        if not isinstance(value, (int, float)):
            wrong()
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            wrong()
    if kind == "str":
        if not isinstance(value, str) or "\x00" in value:
            wrong()
        return value
    raise TypeError(f"Config field {name} has an unsupported type {kind!r}")  # a programming error
