"""The config file: settings for a gym's Pi, merged with the environment and command-line flags.

Precedence, lowest first: built-in default < config file < environment < command-line flag. Every value
remembers where it came from (`config.source(key)`), so `voicecoach config show` can answer "why is
the voice so fast?" with a file and line. The settings themselves are the table in `config_schema`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

from ..errors import UsageError
from .config_schema import (
    BY_KEY,
    SECTIONS,
    SETTINGS,
    AudioConfig,
    EngineConfig,
    KnowledgeConfig,
    ListenConfig,
    LogConfig,
    Setting,
    VoiceConfig,
    check,
    parse_text,
)
from .config_toml import key_lines, line_of, shorten, toml_literal

ENV_CONFIG = "VOICECOACH_CONFIG"
SYSTEM_CONFIG = Path("/etc/voicecoach/config.toml")
"""Where the systemd service's installer writes the example file."""
MAX_FILE_BYTES = 1024 * 1024
MAX_LINE_CHARS = 4096
"""A real config line is under 200 characters; a longer one is a wrong file or a paste accident."""
_NO_VALUES: Mapping[str, Any] = MappingProxyType({})
_NO_NAMES: Mapping[str, str] = MappingProxyType({})


class ConfigError(UsageError):
    """A config file, environment value or flag that cannot be used; one line naming where it is."""


@dataclass(frozen=True)
class Config:
    audio: AudioConfig
    listen: ListenConfig
    voice: VoiceConfig
    knowledge: KnowledgeConfig
    engine: EngineConfig
    log: LogConfig
    path: Path | None
    """The config file read, or None: defaults (and environment, flags) only."""
    sources: Mapping[str, str]

    def value(self, key: str) -> object:
        setting = BY_KEY[key]
        return getattr(getattr(self, setting.section), setting.name)

    def source(self, key: str) -> str:
        """`default`, `PATH:LINE`, `env VOICECOACH_MODEL` or `flag --rate`."""
        return self.sources[key]

    def items(self) -> Iterator[tuple[str, object, str]]:
        """(dotted key, value, source) for every setting, in table order."""
        for setting in SETTINGS:
            yield setting.key, self.value(setting.key), self.sources[setting.key]


def default_search() -> list[Path]:
    """The user's own file first, so one login can try a setting without touching the service's."""
    return [platformdirs.user_config_path("voicecoach") / "config.toml", SYSTEM_CONFIG]


def find_config(
    path: str | Path | None = None, *, env: Mapping[str, str] = os.environ, search: Sequence[Path] | None = None
) -> Path | None:
    """The config file to read: `path` (--config), else $VOICECOACH_CONFIG, else the first of `search` that exists."""
    if path is not None:
        return _named_file(str(path), "--config")
    if env.get(ENV_CONFIG):
        return _named_file(env[ENV_CONFIG], f"env {ENV_CONFIG}")
    for candidate in default_search() if search is None else search:
        if _exists(candidate):
            return candidate
    return None


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    flags: Mapping[str, object] = _NO_VALUES,
    flag_names: Mapping[str, str] = _NO_NAMES,
    search: Sequence[Path] | None = None,
) -> Config:
    """The settings in force. `flags` holds only the flags given ({"voice.rate": 180}; None = not given).

    Raises ConfigError (exit status 2) for any value, file or name that cannot be used.
    """
    file = find_config(path, env=env, search=search)
    values: dict[str, object] = {setting.key: setting.default for setting in SETTINGS}
    sources = dict.fromkeys(values, "default")
    if file is not None:
        for key, (value, line) in _read_settings(file).items():
            values[key], sources[key] = value, f"{file}:{line}"
    for setting in SETTINGS:
        if setting.env and (text := env.get(setting.env)):  # empty = unset, as the shell's VAR= means
            where = f"env {setting.env}"
            values[setting.key] = _checked(
                setting, parse_text(setting, text), Path.cwd(), f"{where} = {shorten(toml_literal(text))}"
            )
            sources[setting.key] = where
    for key, given in flags.items():
        if given is None:
            continue
        setting = BY_KEY[key]  # a KeyError here is a caller's typo, not the user's
        flag = flag_names.get(key, "--" + setting.name.replace("_", "-"))
        value = parse_text(setting, given) if isinstance(given, str) else given
        shown = shorten(given if isinstance(given, str) else toml_literal(given))
        values[key], sources[key] = _checked(setting, value, Path.cwd(), f"{flag} {shown}"), f"flag {flag}"
    sections = {
        name: cls(**{s.name: values[s.key] for s in SETTINGS if s.section == name}) for name, cls in SECTIONS.items()
    }
    return Config(**sections, path=file, sources=MappingProxyType(sources))


def format_config(config: Config) -> list[str]:
    """`voicecoach config show`: one TOML line per setting with its source; the output is itself a config file."""
    rows = [
        (f"# {key} = (not set)" if value is None else f"{key} = {toml_literal(value)}", source)
        for key, value, source in config.items()
    ]
    width = min(max(len(text) for text, _ in rows), 40)
    heading = f"# config file: {config.path if config.path is not None else 'none (defaults)'}"
    return [heading, *(f"{text.ljust(width)}    # {source}" for text, source in rows)]


def example_config() -> str:
    """A commented example file: every setting commented out, with its help, what is allowed and its default."""
    env_names = ", ".join(setting.env for setting in SETTINGS if setting.env)
    lines = [
        "# voicecoach settings (TOML). Lines starting with # are comments.",
        '# Every setting is commented out, so its default applies: remove the "# " in front of one to set it.',
        f"# The environment ({env_names}) and command-line flags override this file.",
        "# Relative paths are relative to this file's folder. Check with: voicecoach config show",
    ]
    for section in SECTIONS:
        lines += ["", f"[{section}]"]
        for setting in (s for s in SETTINGS if s.section == section):
            default = "not set" if setting.default is None else toml_literal(setting.default)
            shown = setting.example if setting.default is None else setting.default
            lines += [
                "",
                f"# {setting.help}",
                f"# Allowed: {setting.allowed}. Default: {default}.",
                f"# {setting.name} = {toml_literal(shown)}",
            ]
    return "\n".join(lines) + "\n"


def _named_file(text: str, how: str) -> Path:
    if not text:
        raise ConfigError(f"{how}: empty config file path")
    try:
        path = Path(text).expanduser()  # a systemd unit's Environment= does not expand ~
    except RuntimeError:
        path = Path(text)
    if not _exists(path):
        raise ConfigError(f"{path}: no such config file (from {how})")
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError) as err:  # a folder we may not enter; a NUL in the name
        raise ConfigError(f"{path}: cannot check for a config file: {err}") from err


def _read_settings(file: Path) -> dict[str, tuple[object, int]]:
    """The file's settings, checked: key -> (value, line)."""
    text = _read_text(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(_syntax_error(file, text, str(err))) from None
    lines = key_lines(text)
    base = file.expanduser().absolute().parent
    found: dict[str, tuple[object, int]] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            at = f"{file}:{line_of(lines, (section,))}"
            if section in SECTIONS:
                raise ConfigError(f"{at}: '{section}' is a section: put its settings under [{section}]")
            raise ConfigError(f"{at}: unknown key '{_name(section)}'{_suggest(section)}")
        if section not in SECTIONS:
            close = get_close_matches(section, list(SECTIONS), n=1)
            hint = f" (did you mean [{close[0]}]?)" if close else f" (sections: {', '.join(SECTIONS)})"
            raise ConfigError(f"{file}:{line_of(lines, (section,))}: unknown section [{_name(section)}]{hint}")
        for name, value in table.items():
            key, line = f"{section}.{name}", line_of(lines, (section, name))
            if key not in BY_KEY:
                raise ConfigError(f"{file}:{line}: unknown key '{_name(key)}'{_suggest(key)}")
            found[key] = (
                _checked(BY_KEY[key], value, base, f"{file}:{line}: {key} = {shorten(toml_literal(value))}"),
                line,
            )
    return found


def _read_text(file: Path) -> str:
    try:
        if file.is_dir():
            raise ConfigError(f"{file}: is a folder, not a config file")
        with file.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{file}: cannot read the config file: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{file}: too big for a config file (over {MAX_FILE_BYTES // 1024} kB)")
    try:
        text = data.decode("utf-8-sig")  # -sig: Windows Notepad starts UTF-8 files with a BOM
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{file}:{line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save it as UTF-8") from None
    for number, line_text in enumerate(text.split("\n"), 1):
        if len(line_text) > MAX_LINE_CHARS:
            raise ConfigError(f"{file}:{number}: line too long ({len(line_text)} characters, at most {MAX_LINE_CHARS})")
    return text


def _syntax_error(file: Path, text: str, message: str) -> str:
    where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if where:
        return f"{file}:{where[1]}: not valid TOML: {message[: where.start()]} (column {where[2]})"
    line = text.count("\n") + 1
    return f"{file}:{line}: not valid TOML: {message.replace(' (at end of document)', '')} (at the end of the file)"


def _checked(setting: Setting, value: object, base: Path, where: str) -> object:
    try:
        return check(setting, value, base)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None


def _name(key: str) -> str:
    # A quoted key may hold a newline or 4 kB of text; the message must stay one short line.
    return shorten(re.sub(r"[\x00-\x1f\x7f]", "?", key))


def _suggest(key: str) -> str:
    keys = [setting.key for setting in SETTINGS]
    close = get_close_matches(key, keys, n=1)
    if not close:  # "rate" or "speed_wpm" alone: compare with the names without their section
        names = get_close_matches(key.rpartition(".")[2], [setting.name for setting in SETTINGS], n=1)
        close = [setting.key for setting in SETTINGS if setting.name in names][:1]
    return f" (did you mean '{close[0]}'?)" if close else ""
