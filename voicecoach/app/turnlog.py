"""The turn log: what lifters asked, so a coach can see what the knowledge base could not answer.

One JSON object per line in `turns.jsonl`, rotated to `turns.jsonl.1` ... `.N`. No audio is kept.
Each turn is one `os.write` on an `O_APPEND` file followed by `fsync`, so a power cut can at worst
leave one torn last line, which `read` skips and counts instead of failing.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voicecoach.app.durable import fsync_folder
from voicecoach.errors import VoicecoachError

LOG_NAME = "turns.jsonl"
HEARD_MAX_CHARS = 300
"""Enough for any spoken question; a runaway transcript must not bloat every line."""
EXAMPLES_PER_GROUP = 3
TURN_OFF_HINT = "[log] turns = false"


class TurnLogError(VoicecoachError):
    """The turn log folder cannot be written or read; one line naming it and the fix."""

    exit_status = 1


def local_time_now() -> str:
    """ISO 8601 local time with its UTC offset, to the second: readable and still sortable per machine."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True)
class LoggedTurn:
    time: str
    heard: str
    intent: str
    confidence: float | None
    answered: bool
    """The coach gave advice or acted on a command; False for "unknown", "Did you mean ...". The caller decides."""
    topic: str | None
    engine: str

    def __post_init__(self) -> None:
        if len(self.heard) > HEARD_MAX_CHARS:
            object.__setattr__(self, "heard", self.heard[:HEARD_MAX_CHARS])

    @classmethod
    def now(
        cls,
        heard: str,
        intent: str,
        *,
        answered: bool,
        engine: str,
        confidence: float | None = None,
        topic: str | None = None,
    ) -> LoggedTurn:
        return cls(local_time_now(), heard, intent, confidence, answered, topic, engine)


@dataclass(frozen=True)
class Group:
    """Unanswered turns that normalise to the same key."""

    key: str
    count: int
    last_time: str
    examples: tuple[str, ...] = field(default=())
    """Up to three distinct phrasings, most recent first."""


def default_key(heard: str) -> str:
    """Lower-case, punctuation stripped, whitespace collapsed: "My knee's sore!" -> "my knees sore"."""
    text = re.sub(r"['’]", "", heard.casefold())  # "knee's" and "knees" are the same question
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


class TurnLog:
    """Appends and reads `folder/turns.jsonl` and its rotated files. Safe to share between threads."""

    def __init__(self, folder: Path, *, max_bytes: int = 1_048_576, keep: int = 3) -> None:
        if max_bytes < 1 or keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")
        self.folder = folder
        self.path = folder / LOG_NAME
        self.max_bytes = max_bytes
        self.keep = keep
        self.skipped = 0
        """Lines the last `read`/`unanswered` could not parse (a torn line after a power cut, a hand edit)."""
        self._lock = threading.Lock()  # the size check and rotation must not interleave with another append
        self._clean_end: bool | None = None  # None: not yet checked whether the file ends in a newline

    def ensure_writable(self) -> None:
        """Create the folder and the file now, so a bad folder is reported at start, not at the first turn."""
        with self._lock:
            self._guard(lambda: os.close(self._open()))

    def append(self, turn: LoggedTurn) -> None:
        # Lone surrogates (from a bad decode upstream) cannot be UTF-8: backslashreplace writes them as
        # \udcXX, which is exactly JSON's own escape, so the line stays valid JSON and reads back the same.
        line = json.dumps(asdict(turn), ensure_ascii=False, separators=(",", ":")) + "\n"
        data = line.encode("utf-8", "backslashreplace")
        with self._lock:
            self._guard(lambda: self._append(data))

    def _append(self, data: bytes) -> None:
        if self._clean_end is None:
            self._clean_end = _ends_cleanly(self.path)
        if not self._clean_end:
            data = b"\n" + data  # finish a torn line so this turn is not glued onto it
        size = self.path.stat().st_size if self.path.exists() else 0
        if size and size + len(data) > self.max_bytes:
            self._rotate()
            data = data.lstrip(b"\n")
        fd = self._open()
        try:
            written = os.write(fd, data)  # one write: O_APPEND keeps concurrent lines whole
            os.fsync(fd)
        finally:
            os.close(fd)
        self._clean_end = written == len(data)
        if not self._clean_end:
            raise OSError(28, "short write (disk full?)")

    def _open(self) -> int:
        existed = self.path.exists()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        if not existed:
            fsync_folder(self.folder)  # the new file's name must survive a power cut too
        return fd

    def _rotate(self) -> None:
        for number in range(self.keep - 1, 0, -1):
            older = self.folder / f"{LOG_NAME}.{number}"
            if older.exists():
                os.replace(older, self.folder / f"{LOG_NAME}.{number + 1}")
        if self.keep:
            os.replace(self.path, self.folder / f"{LOG_NAME}.1")
        else:
            self.path.unlink()
        fsync_folder(self.folder)
        self._clean_end = True

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except OSError as err:
            raise TurnLogError(
                f"cannot write the turn log in {self.folder}: {err.strerror or err}; make that folder writable "
                f"by this user, choose another folder, or turn the log off with `{TURN_OFF_HINT}`"
            ) from err

    def files(self) -> list[Path]:
        """Oldest first: the rotated files from `.keep` down to `.1`, then the current one."""
        rotated = [self.folder / f"{LOG_NAME}.{number}" for number in range(self.keep, 0, -1)]
        return [path for path in [*rotated, self.path] if path.is_file()]

    def read(self, limit: int | None = None) -> list[LoggedTurn]:
        """Turns oldest first (newest last), at most the newest `limit`; unparsable lines are skipped and counted."""
        turns = list(self._turns())
        return turns[-limit:] if limit else turns

    def _turns(self) -> Iterator[LoggedTurn]:
        self.skipped = 0
        for path in self.files():
            try:
                data = path.read_bytes()
            except OSError as err:
                raise TurnLogError(
                    f"cannot read the turn log {path}: {err.strerror or err}; run as its owner or with sudo"
                ) from err
            for raw in data.splitlines():
                if not raw.strip():
                    continue
                turn = _parse(raw)
                if turn is None:
                    self.skipped += 1
                else:
                    yield turn

    def unanswered(self, key: Callable[[str], str] = default_key) -> list[Group]:
        """Unanswered turns grouped by `key(heard)`, most asked first (ties: most recent first)."""
        counts: dict[str, int] = {}
        last: dict[str, str] = {}
        examples: dict[str, list[str]] = {}
        for turn in reversed(list(self._turns())):  # newest first, so the first example seen is the latest
            if turn.answered:
                continue
            group = key(turn.heard)
            counts[group] = counts.get(group, 0) + 1
            last.setdefault(group, turn.time)
            phrasings = examples.setdefault(group, [])
            if turn.heard not in phrasings and len(phrasings) < EXAMPLES_PER_GROUP:
                phrasings.append(turn.heard)
        groups = [Group(name, counts[name], last[name], tuple(examples[name])) for name in counts]
        # Stable sorts: by recency first, then by count, gives "most asked, then most recent".
        groups.sort(key=lambda group: group.last_time, reverse=True)
        groups.sort(key=lambda group: group.count, reverse=True)
        return groups


def open_turn_log(
    folder: Path, *, warn: Callable[[str], None], max_bytes: int = 1_048_576, keep: int = 3
) -> TurnLog | None:
    """A ready `TurnLog`, or None after calling `warn` once with `turn_log_warning(err)`; coaching goes on."""
    log = TurnLog(folder, max_bytes=max_bytes, keep=keep)
    try:
        log.ensure_writable()
    except TurnLogError as err:
        warn(turn_log_warning(err))
        return None
    return log


def turn_log_warning(err: TurnLogError) -> str:
    return f"carrying on without the turn log: {err}"


class TurnRecorder:
    """What the listening loop holds: `record` never raises; the first failure warns once and stops logging.

    `folder=None` means the log is off (`[log] turns = false`).
    """

    def __init__(
        self, folder: Path | None, *, warn: Callable[[str], None], max_bytes: int = 1_048_576, keep: int = 3
    ) -> None:
        self._warn = warn
        self._log = None if folder is None else open_turn_log(folder, warn=warn, max_bytes=max_bytes, keep=keep)

    @property
    def enabled(self) -> bool:
        return self._log is not None

    def record(self, turn: LoggedTurn) -> None:
        if self._log is None:
            return
        try:
            self._log.append(turn)
        except TurnLogError as err:  # a full SD card must not stop the coach answering
            self._log = None
            self._warn(turn_log_warning(err))


def _parse(raw: bytes) -> LoggedTurn | None:
    try:
        obj: Any = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    confidence = obj.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | None):
        return None
    topic = obj.get("topic")
    texts = [obj.get(name) for name in ("time", "heard", "intent", "engine")]
    if not all(isinstance(text, str) for text in texts) or not isinstance(obj.get("answered"), bool):
        return None
    if not isinstance(topic, str | None):
        return None
    time, heard, intent, engine = (str(text) for text in texts)
    return LoggedTurn(
        time, heard, intent, None if confidence is None else float(confidence), obj["answered"], topic, engine
    )


def _ends_cleanly(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return True
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
    except FileNotFoundError:
        return True
