"""TOML helpers tomllib lacks: the line each key is on, and values written back as TOML literals."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

_SHOWN_CHARS = 60
"""Values in messages are cut here: a 4 kB string must not make a 4 kB error line."""

# tomllib gives no positions, so key lines are found by scanning: `[table]` headers and `key =` lines,
# each key bare, "quoted" or 'literal', dotted or not. Multi-line strings are skipped so a line inside
# one is never taken for a key. Good for what people write in a config file, not a TOML parser.
_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED = rf"{_PART}(?:[ \t]*\.[ \t]*{_PART})*"
_HEADER = re.compile(rf"[ \t]*\[\[?[ \t]*({_DOTTED})[ \t]*\]\]?[ \t]*(?:#.*)?\r?")
_ASSIGN = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=(.*)")


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line of every table and key, and of each key's leading parts (a dotted key defines its tables)."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    closing: str | None = None  # the quotes that end the multi-line string we are in
    for number, line in enumerate(text.split("\n"), 1):
        if closing is not None:
            closing = None if closing in line else closing
        elif (header := _HEADER.fullmatch(line)) and (parts := _split(header[1])):
            table = parts
            _note(found, table, number)
        elif (assign := _ASSIGN.match(line)) and (parts := _split(assign[1])):
            _note(found, table + parts, number)
            value = assign[2].lstrip()
            quotes = value[:3]
            if quotes in ('"""', "'''") and quotes not in value[3:]:
                closing = quotes
    return found


def _split(dotted: str) -> tuple[str, ...]:
    # tomllib itself unquotes and unescapes the key parts, so "voice"."rate" and voice . rate agree.
    parts: list[str] = []
    try:
        node: object = tomllib.loads(f"{dotted} = 0")
    except tomllib.TOMLDecodeError:  # looked like a key but is not one (a line of a multi-line array)
        return ()
    while isinstance(node, dict):
        ((name, node),) = node.items()
        parts.append(name)
    return tuple(parts)


def _note(found: dict[tuple[str, ...], int], path: tuple[str, ...], line: int) -> None:
    for end in range(1, len(path) + 1):
        found.setdefault(path[:end], line)


def line_of(found: Mapping[tuple[str, ...], int], path: tuple[str, ...]) -> int:
    """The key's line, else its nearest table's (a key inside `voice = { rate = 900 }` is on that line)."""
    for end in range(len(path), 0, -1):
        if path[:end] in found:
            return found[path[:end]]
    return 1


def toml_literal(value: object) -> str:
    """A value written as TOML would have it (messages wrap it in `shorten`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | Path):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m[0]):04x}", text) + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{name} = {toml_literal(item)}" for name, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    return str(value)


def shorten(text: str) -> str:
    """`text`, cut for a one-line message."""
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"
