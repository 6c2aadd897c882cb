"""The knowledge base: plain-text files in `intents/` that a coach can edit, validated line by line.

File format (UTF-8, `#` starts a comment line)::

    [topic knee_pain_squat]
    title: Knee pain from squats
    cause: One or two short spoken sentences.
    fix: One or two short spoken sentences.
    more: The longer explanation, read on "tell me more".
    cue: Knees track over toes
    say: my knees hurt after squats

    [command stop]
    say: stop
    reply: Stopped.

    [language]
    heard: squads -> squats
    elsewhere: shoulder

A topic has exactly one title, cause, fix and more, 2-4 cues of at most six words and at least three
`say` example phrasings. A command has `say` phrasings and an optional `reply`. `[language]` lists
common mishearings (`heard`), body parts that are not the knee (`elsewhere`) and warning
signs (`alarm`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from voicecoach.errors import KnowledgeBaseError
from voicecoach.text.normalize import clean, words_of

TOPIC_IDS = (
    "knee_pain_squat",
    "knee_pain_leg_extension",
    "knee_pain_treadmill",
    "knee_pain_warmup",
    "knee_strengthen",
    "knee_pain_red_flag",
)
"""Fixed intent ids: other code and checks rely on them."""

MAX_CUE_WORDS = 6
MAX_TEXT_CHARS = 400
TOPIC_FIELDS = {"title": (1, 1), "cause": (1, 1), "fix": (1, 1), "more": (1, 1), "cue": (2, 4), "say": (3, 999)}
COMMAND_FIELDS = {"say": (1, 999), "reply": (0, 1)}
LANGUAGE_FIELDS = {"heard": (0, 999), "elsewhere": (0, 999), "alarm": (0, 999)}
_HEADER = re.compile(r"^\[\s*(topic|command|language)(?:\s+([a-z0-9_]+))?\s*\]$")
_FIELD = re.compile(r"^([A-Za-z_]+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class Line:
    """A piece of text with the place it came from, so errors can point at it."""

    text: str
    path: str
    line: int


@dataclass(frozen=True)
class Topic:
    """One knee topic: what the coach says about it and how lifters ask for it."""

    id: str
    title: str
    cause: str
    fix: str
    more: str
    cues: tuple[str, ...]
    phrasings: tuple[Line, ...]
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class CommandIntent:
    """A control word and how lifters say it."""

    id: str
    phrasings: tuple[Line, ...]
    reply: str = ""
    path: str = ""
    line: int = 0


@dataclass(frozen=True)
class Language:
    """Recogniser-facing vocabulary: mishearings to undo, body parts that are not the knee."""

    mishearings: tuple[tuple[str, str], ...] = ()
    elsewhere: tuple[str, ...] = ()
    alarms: tuple[str, ...] = ()
    """Phrases that mean "stop and get it checked" when the knee is involved."""


@dataclass(frozen=True)
class KnowledgeBase:
    topics: tuple[Topic, ...]
    commands: tuple[CommandIntent, ...]
    language: Language = field(default_factory=Language)
    sources: tuple[str, ...] = ()

    def topic(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        raise KeyError(topic_id)

    def command(self, command_id: str) -> CommandIntent | None:
        return next((c for c in self.commands if c.id == command_id), None)

    def phrasings(self) -> Iterator[tuple[str, Line]]:
        """Every example phrasing with its intent id: topics first, then commands."""
        for topic in self.topics:
            for line in topic.phrasings:
                yield topic.id, line
        for command in self.commands:
            for line in command.phrasings:
                yield command.id, line

    def vocabulary(self) -> set[str]:
        """Every lower-case word of every phrasing and mishearing (the recognisers' domain)."""
        words: set[str] = set()
        for _, line in self.phrasings():
            words.update(words_of(line.text))
        for heard, meant in self.language.mishearings:
            words.update(words_of(f"{heard} {meant}"))
        for phrase in self.language.elsewhere + self.language.alarms:
            words.update(words_of(phrase))
        return words


def default_path() -> Path:
    """The shipped `intents/` folder: inside the wheel, or beside the package in a source checkout."""
    packaged = Path(str(resources.files("voicecoach"))) / "intents"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "intents"


def load(path: str | Path | None = None) -> KnowledgeBase:
    """Load and validate a knowledge base.

    `path` may be a folder (every `*.txt` in it) or one file. A single file that defines no
    commands or language is completed from the shipped folder, so a coach can check a topics file alone.
    """
    target = Path(path) if path is not None else default_path()
    if target.is_dir():
        files = sorted(target.glob("*.txt"))
        if not files:
            raise KnowledgeBaseError(str(target), 0, "no *.txt knowledge-base files in this folder")
    elif target.is_file():
        files = [target]
    else:
        raise KnowledgeBaseError(str(target), 0, "no such file or folder")
    sections = [section for file in files for section in _read_sections(file)]
    kinds = {kind for kind, *_ in sections}
    if target.is_file():
        for extra in sorted(default_path().glob("*.txt")):
            if extra.resolve() == target.resolve():
                continue
            extra_sections = _read_sections(extra)
            if any(kind not in kinds for kind, *_ in extra_sections):
                sections += [s for s in extra_sections if s[0] not in kinds]
    return _build(sections, tuple(str(f) for f in files))


Section = tuple[str, str, str, int, dict[str, list[Line]]]


def _read_sections(path: Path) -> list[Section]:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise KnowledgeBaseError(name, 0, f"cannot read: {err.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise KnowledgeBaseError(name, line, "not valid UTF-8 text") from None
    sections: list[Section] = []
    current: Section | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        stripped = raw_line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            header = _HEADER.match(stripped)
            if not header:
                raise KnowledgeBaseError(
                    name, number, f"bad section header {stripped[:60]!r}: use [topic ID], [command ID] or [language]"
                )
            kind, ident = header.group(1), header.group(2) or ""
            if kind != "language" and not ident:
                raise KnowledgeBaseError(name, number, f"[{kind}] needs an id, e.g. [{kind} my_id]")
            current = (kind, ident, name, number, {})
            sections.append(current)
            continue
        match = _FIELD.match(stripped)
        if not match:
            raise KnowledgeBaseError(name, number, f"expected 'field: text', got {stripped[:60]!r}")
        if current is None:
            raise KnowledgeBaseError(name, number, "field before any [topic ...] or [command ...] header")
        key, value = match.group(1).lower(), match.group(2).strip()
        allowed = {"topic": TOPIC_FIELDS, "command": COMMAND_FIELDS, "language": LANGUAGE_FIELDS}[current[0]]
        if key not in allowed:
            raise KnowledgeBaseError(
                name, number, f"unknown field {key!r} in [{current[0]}]; allowed: {', '.join(allowed)}"
            )
        if not value:
            raise KnowledgeBaseError(name, number, f"empty {key!r}")
        if len(value) > MAX_TEXT_CHARS:
            raise KnowledgeBaseError(
                name, number, f"{key!r} is {len(value)} characters; keep it under {MAX_TEXT_CHARS}"
            )
        current[4].setdefault(key, []).append(Line(value, name, number))
    return sections


def _check_counts(kind: str, ident: str, path: str, line: int, fields: dict[str, list[Line]]) -> None:
    spec = TOPIC_FIELDS if kind == "topic" else COMMAND_FIELDS if kind == "command" else LANGUAGE_FIELDS
    for key, (low, high) in spec.items():
        found = fields.get(key, [])
        where = found[high].line if len(found) > high else line
        if len(found) < low:
            raise KnowledgeBaseError(
                path, line, f"[{kind} {ident}] needs at least {low} {key!r} line(s), has {len(found)}"
            )
        if len(found) > high:
            raise KnowledgeBaseError(path, where, f"[{kind} {ident}] allows at most {high} {key!r} line(s)")


def _build(sections: Iterable[Section], sources: tuple[str, ...]) -> KnowledgeBase:
    topics: list[Topic] = []
    commands: list[CommandIntent] = []
    mishearings: list[tuple[str, str]] = []
    elsewhere: list[str] = []
    alarms: list[str] = []
    seen_ids: dict[str, Line] = {}
    for kind, ident, path, line, fields in sections:
        _check_counts(kind, ident, path, line, fields)
        if kind != "language":
            if ident in seen_ids:
                first = seen_ids[ident]
                raise KnowledgeBaseError(path, line, f"{ident!r} is defined twice (first at {first.path}:{first.line})")
            seen_ids[ident] = Line(ident, path, line)
        if kind == "topic":
            for cue in fields["cue"]:
                if len(cue.text.split()) > MAX_CUE_WORDS:
                    raise KnowledgeBaseError(
                        cue.path, cue.line, f"cue has more than {MAX_CUE_WORDS} words: {cue.text!r}"
                    )
            topics.append(
                Topic(
                    id=ident,
                    title=fields["title"][0].text,
                    cause=fields["cause"][0].text,
                    fix=fields["fix"][0].text,
                    more=fields["more"][0].text,
                    cues=tuple(c.text for c in fields["cue"]),
                    phrasings=tuple(fields["say"]),
                    path=path,
                    line=line,
                )
            )
        elif kind == "command":
            reply = fields.get("reply", [])
            commands.append(CommandIntent(ident, tuple(fields["say"]), reply[0].text if reply else "", path, line))
        else:
            for entry in fields.get("heard", []):
                heard, arrow, meant = entry.text.partition("->")
                if not arrow or not heard.strip() or not meant.strip():
                    raise KnowledgeBaseError(
                        entry.path, entry.line, f"expected 'heard: WRONG -> RIGHT', got {entry.text!r}"
                    )
                mishearings.append((heard.strip().lower(), meant.strip().lower()))
            elsewhere.extend(e.text.strip().lower() for e in fields.get("elsewhere", []))
            alarms.extend(e.text.strip().lower() for e in fields.get("alarm", []))
    _check_phrasings_unique(topics, commands)
    return KnowledgeBase(
        tuple(topics), tuple(commands), Language(tuple(mishearings), tuple(elsewhere), tuple(alarms)), sources
    )


def _check_phrasings_unique(topics: list[Topic], commands: list[CommandIntent]) -> None:
    seen: dict[str, Line] = {}
    for line in [p for t in topics for p in t.phrasings] + [p for c in commands for p in c.phrasings]:
        key = clean(line.text)
        if key in seen:
            first = seen[key]
            raise KnowledgeBaseError(
                line.path, line.line, f"duplicate phrasing {line.text!r} (first at line {first.line})"
            )
        seen[key] = line
