"""Load YAML into pydantic models with errors that name the file, line and key.

Every YAML file netmon reads (site config, central config, rules, registry) goes through
``load_model`` so a typo anywhere reads the same way, and a number-like scalar in a text
field keeps the text it was written with (``id: 00127`` is "00127", see ``written.py``)::

    site.yaml:14: links[1].contracted_mbps: Input should be greater than 0 (got -5)
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netmon.config import yamlfile
from netmon.config.written import WrittenFloat, WrittenInt
from netmon.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def key_path(loc: tuple[int | str, ...]) -> str:
    """("links", 1, "snmp", "community") -> "links[1].snmp.community"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_KEY_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_key_path(key: str) -> tuple[int | str, ...]:
    """"links[1].snmp.community" -> ("links", 1, "snmp", "community"); the inverse of ``key_path``."""
    return tuple(int(number) if number else name for name, number in _KEY_STEP.findall(key))


def line_of(path: Path, key: str) -> int | None:
    """The line of ``key`` in the YAML file ``path`` (its nearest parent that is written there; None
    when not even its top-level key is: a default that the file does not mention)."""
    try:
        _, index = read_yaml(path)
    except ConfigError:
        return None
    loc = parse_key_path(key)
    return line_for(loc, index) if loc[:1] in index else None


def with_lines(error: ConfigError, path: Path) -> ConfigError:
    """``error`` with the lines its problems lack looked up in ``path`` (for checks made after loading)."""
    if all(line is not None for _, line, _ in error.problems):
        return error
    return ConfigError(error.file, [(key, line if line is not None else line_of(path, key), message)
                                    for key, line, message in error.problems])


def line_for(loc: tuple[int | str, ...], index: dict[tuple[int | str, ...], int]) -> int | None:
    """The line of the deepest part of ``loc`` the file actually has (a missing key points at its parent)."""
    for end in range(len(loc), -1, -1):
        line = index.get(tuple(loc[:end]))
        if line is not None:
            return line
    return None


def read_yaml(path: Path) -> tuple[Any, dict[tuple[int | str, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [("", None, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("", None, f"cannot read: {exc}")]) from None
    return yamlfile.parse(text, str(path))


def validation_problems(
    exc: ValidationError, index: dict[tuple[int | str, ...], int] | None = None
) -> list[tuple[str, int | None, str]]:
    problems = []
    for err in exc.errors(include_url=False):
        # pydantic puts the union member / validator name into loc for some errors; drop
        # entries that are not keys of the document.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        loc = _document_loc(loc, index or {})
        message = err["msg"].removeprefix("Value error, ")  # our validators' own sentences
        if err["type"] not in {"missing", "extra_forbidden"} and "input" in err:
            given = err["input"]
            # a YAML number is shown as written (0x1F, not 31): that is what the file says
            shown = str(given) if isinstance(given, WrittenInt | WrittenFloat) else repr(given)
            if len(shown) <= 60 and not (isinstance(given, str) and shown in message):
                message += f" (got {shown})"
            if err["type"] == "string_type" and isinstance(err["input"], bool | dt.date):
                message += ("; unquoted, YAML reads yes/no/on/off/true/false as a truth value and "
                            "2025-07-01 as a date: put the text in quotes")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the documented example)"
        problems.append((key_path(loc), line_for(loc, index or {}), message))
    return problems


def _document_loc(loc: tuple[int | str, ...], index: dict[tuple[int | str, ...], int]) -> tuple[int | str, ...]:
    """Drop the tag pydantic adds for a discriminated union member (``channels[0].telegram.chat_id``
    for ``type: telegram``): a step that is not a key of the file and not the last one (only the
    last step, a missing key, may be absent from the file)."""
    if not index:
        return loc
    kept: list[int | str] = []
    for i, step in enumerate(loc):
        if isinstance(step, str) and i + 1 < len(loc) and (*kept, step) not in index and tuple(kept) in index:
            continue
        kept.append(step)
    return tuple(kept)


def load_model(path: str | Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``; raise ConfigError naming file, line and key."""
    path = Path(path)
    data, index = read_yaml(path)
    if data is None:
        raise ConfigError(str(path), [("", None, "the file is empty")])
    try:
        return model.model_validate(data, context={"config_file": str(path)})
    except ValidationError as exc:
        raise ConfigError(str(path), validation_problems(exc, index)) from None
