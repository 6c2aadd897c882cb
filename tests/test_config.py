"""The config file: where it is found, what wins, and that every bad value is one line naming file:line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import tomllib
from pathlib import Path

import platformdirs
import pytest

from voicecoach.app import config as config_module
from voicecoach.app.config import (
    Config,
    ConfigError,
    example_config,
    find_config,
    format_config,
    load_config,
)
from voicecoach.app.config_schema import BY_KEY, SECTIONS, SETTINGS, Setting
from voicecoach.cli import config as config_cmd
from voicecoach.errors import UsageError

NO_ENV: dict[str, str] = {}


def write(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(path: Path, **kwargs: object) -> Config:
    """The file alone: no real environment, no real /etc or ~/.config."""
    kwargs.setdefault("env", NO_ENV)
    return load_config(path, search=[], **kwargs)  # type: ignore[arg-type]


def error_of(path: Path | None, **kwargs: object) -> str:
    kwargs.setdefault("env", NO_ENV)
    with pytest.raises(ConfigError) as caught:
        load_config(path, search=[], **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_status == 2
    assert "\n" not in message and "Traceback" not in message
    return message


# --- defaults and the table ---------------------------------------------------------------------


def test_defaults_when_no_file_is_found() -> None:
    config = load_config(env=NO_ENV, search=[])
    assert config.path is None
    assert [(key, value, source) for key, value, source in config.items()] == [
        (setting.key, setting.default, "default") for setting in SETTINGS
    ]
    assert config.voice.rate == 165
    assert config.voice.volume == 1.0
    assert config.listen.activation == "wake"
    assert config.listen.wake_word == "coach"
    assert config.listen.barge_in is None  # automatic: on where measured (app.ear.listening_ear)
    assert config.log.turns is True and config.log.audio is False
    assert (config.log.max_kb, config.log.keep) == (1024, 3)
    assert config.engine.engine == "auto" and config.engine.model is None
    assert config.knowledge.kb is None and config.audio.input is None and config.audio.output is None
    assert config.log.folder_or_default() == platformdirs.user_state_path("voicecoach")


def test_section_classes_mirror_the_table() -> None:
    # The typed sections are written out for mypy; they must hold exactly the table's keys, in its order.
    from_classes = [f"{name}.{field.name}" for name, cls in SECTIONS.items() for field in dataclasses.fields(cls)]
    assert from_classes == [setting.key for setting in SETTINGS]
    assert [field.name for field in dataclasses.fields(Config)][: len(SECTIONS)] == list(SECTIONS)


# --- finding the file ---------------------------------------------------------------------------


def test_search_order(tmp_path: Path) -> None:
    user = write(tmp_path / "user", "[voice]\nrate = 100\n")
    system = write(tmp_path / "etc", "[voice]\nrate = 200\n")
    named = write(tmp_path / "named", "[voice]\nrate = 300\n")
    missing = tmp_path / "missing.toml"
    assert find_config(env=NO_ENV, search=[user, system]) == user
    assert find_config(env=NO_ENV, search=[missing, system]) == system
    assert find_config(env=NO_ENV, search=[missing]) is None
    assert find_config(env={"VOICECOACH_CONFIG": str(named)}, search=[user]) == named
    assert find_config(env={"VOICECOACH_CONFIG": ""}, search=[user]) == user  # empty = unset
    assert find_config(system, env={"VOICECOACH_CONFIG": str(named)}, search=[user]) == system
    assert load_config(env=NO_ENV, search=[missing, system]).voice.rate == 200
    assert load_config(str(named), env=NO_ENV, search=[user]).voice.rate == 300


def test_default_search_is_the_user_file_then_etc() -> None:
    assert config_module.default_search() == [
        platformdirs.user_config_path("voicecoach") / "config.toml",
        Path("/etc/voicecoach/config.toml"),
    ]


def test_missing_explicit_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert error_of(missing) == f"{missing}: no such config file (from --config)"
    message = error_of(None, env={"VOICECOACH_CONFIG": str(missing)})
    assert message == f"{missing}: no such config file (from env VOICECOACH_CONFIG)"


def test_folder_is_not_a_config_file(tmp_path: Path) -> None:
    assert error_of(tmp_path) == f"{tmp_path}: is a folder, not a config file"


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    # A socket exists but cannot be opened, even by root (chmod 000 would not stop root).
    path = tmp_path / "config.toml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert error_of(path).startswith(f"{path}: cannot read the config file: ")


# --- values from the file, with file:line ---------------------------------------------------------


def test_file_values_and_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# the gym's Pi\n"  # 1
        "log.keep = 5\n"  # 2: a dotted key at the top level
        "\n"  # 3
        "[voice]\n"  # 4
        'voice = """\n'  # 5: a multi-line string whose next line looks like a key
        'rate = 90"""\n'  # 6
        "rate = 180   # a bit faster\n"  # 7
        '"volume" = 1\n'  # 8: quoted key; an int for a float setting
        "\n"  # 9
        "[ listen ]  # spaces and a comment\n"  # 10
        'activation = "always"\n'  # 11
        "barge_in = true\n"  # 12
        "[audio]\n"  # 13
        "input = 2\n"  # 14
        'output = "USB"\n'  # 15
        "[engine]\r\n"  # 16: Windows line ends
        'engine = "vosk"\r\n',  # 17
    )
    config = load(path)
    assert config.path == path
    assert config.log.keep == 5 and config.source("log.keep") == f"{path}:2"
    assert config.voice.voice == "rate = 90" and config.source("voice.voice") == f"{path}:5"
    assert config.voice.rate == 180 and config.source("voice.rate") == f"{path}:7"
    assert config.voice.volume == 1.0 and isinstance(config.voice.volume, float)
    assert config.source("voice.volume") == f"{path}:8"
    assert config.listen.activation == "always" and config.source("listen.activation") == f"{path}:11"
    assert config.listen.barge_in is True and config.source("listen.barge_in") == f"{path}:12"
    assert config.audio.input == 2 and config.audio.output == "USB"
    assert config.source("audio.output") == f"{path}:15"
    assert config.engine.engine == "vosk" and config.source("engine.engine") == f"{path}:17"
    assert config.source("listen.wake_word") == "default" and config.listen.wake_word == "coach"


def test_device_number_in_quotes_is_an_index(tmp_path: Path) -> None:
    config = load(write(tmp_path, '[audio]\ninput = "3"\noutput = "USB Audio 2"\n'))
    assert config.audio.input == 3
    assert config.audio.output == "USB Audio 2"


def test_utf8_file_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf[voice]\nrate = 120\n")
    config = load(path)
    assert config.voice.rate == 120 and config.source("voice.rate") == f"{path}:2"


def test_relative_paths_are_resolved_against_the_file_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # elsewhere than the file, so a cwd-relative answer would differ
    folder = tmp_path / "etc" / "voicecoach"
    path = write(folder, '[knowledge]\nkb = "intents"\n[engine]\nmodel = "../models/m"\n[log]\nfolder = "~/logs"\n')
    config = load(path)
    assert config.knowledge.kb == folder / "intents"
    assert config.engine.model == folder / "../models/m"
    assert config.log.folder == tmp_path / "home" / "logs"
    assert config.log.folder_or_default() == tmp_path / "home" / "logs"
    # Relative to the file even when the file was named relatively.
    assert load(Path("etc/voicecoach/config.toml")).knowledge.kb == folder / "intents"


def test_inline_table_value_gets_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# x\n\nvoice = { rate = 900 }\n")
    assert error_of(path) == f"{path}:3: voice.rate = 900: must be a whole number from 80 to 320"


# --- precedence: default < file < env < flag -----------------------------------------------------


def test_env_beats_file_and_flag_beats_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path / "etc", '[engine]\nmodel = "/file/model"\n[knowledge]\nkb = "/file/kb"\n[voice]\nrate = 150\n'
    )
    env = {"VOICECOACH_MODEL": "/env/model", "VOICECOACH_KB": "kb-here"}

    config = load(path, env=env)
    assert config.engine.model == Path("/env/model") and config.source("engine.model") == "env VOICECOACH_MODEL"
    assert config.knowledge.kb == tmp_path / "kb-here"  # an env path is relative to where we run
    assert config.source("knowledge.kb") == "env VOICECOACH_KB"
    assert config.voice.rate == 150 and config.source("voice.rate") == f"{path}:6"

    flags = {"engine.model": "/flag/model", "voice.rate": 180, "knowledge.kb": None, "listen.barge_in": True}
    names = {"engine.model": "--model", "voice.rate": "--rate"}
    config = load(path, env=env, flags=flags, flag_names=names)
    assert config.engine.model == Path("/flag/model") and config.source("engine.model") == "flag --model"
    assert config.voice.rate == 180 and config.source("voice.rate") == "flag --rate"
    assert config.source("knowledge.kb") == "env VOICECOACH_KB"  # None: the flag was not given
    assert config.listen.barge_in is True and config.source("listen.barge_in") == "flag --barge-in"


def test_flag_text_is_converted_like_a_typed_value() -> None:
    config = load_config(env=NO_ENV, search=[], flags={"voice.rate": "200", "voice.volume": "0.5", "log.audio": "yes"})
    assert (config.voice.rate, config.voice.volume, config.log.audio) == (200, 0.5, True)


def test_empty_env_value_is_unset() -> None:
    config = load_config(env={"VOICECOACH_MODEL": ""}, search=[])
    assert config.engine.model is None and config.source("engine.model") == "default"


def test_bad_flag_and_env_values_name_them() -> None:
    assert error_of(None, flags={"voice.rate": 900}, flag_names={"voice.rate": "--rate"}) == (
        "--rate 900: must be a whole number from 80 to 320"
    )
    assert error_of(None, flags={"voice.rate": "fast"}, flag_names={"voice.rate": "--rate"}) == (
        "--rate fast: must be a whole number from 80 to 320"
    )
    assert error_of(None, flags={"listen.activation": "sometimes"}) == (
        '--activation sometimes: must be one of "wake", "always" or "push"'
    )
    assert error_of(None, env={"VOICECOACH_KB": "  "}) == 'env VOICECOACH_KB = "  ": must be a file or folder path'


# --- every bad value, from the table ------------------------------------------------------------


def bad_values(setting: Setting) -> list[object]:
    """Out of range and wrong types for this setting's kind."""
    kind = setting.kind
    if kind == "int":
        assert isinstance(setting.low, int) and isinstance(setting.high, int)
        return [setting.low - 1, setting.high + 1, "fast", True, 100.5]
    if kind == "float":
        assert setting.low is not None and setting.high is not None
        return [setting.low / 2, setting.high + 0.5, "loud", True]
    if kind == "bool":
        return ["yes", 1, "true"]
    if kind == "choice":
        return ["sometimes", setting.choices[0].upper(), 1, True]
    if kind == "word":
        return ["", "hey coach", "Coach", 5, "a" * 33]
    if kind == "text":
        return ["", "   ", 5, False, "x" * 201]
    if kind == "device":
        return [-1, "", True, 1.5]
    assert kind == "path"
    return ["", 5, True]


BAD_CASES = [(setting, value) for setting in SETTINGS for value in bad_values(setting)]


@pytest.mark.parametrize(("setting", "value"), BAD_CASES, ids=[f"{s.key}={v!r}"[:40] for s, v in BAD_CASES])
def test_every_bad_value_is_one_line_with_file_and_line(tmp_path: Path, setting: Setting, value: object) -> None:
    path = write(tmp_path, f"# gym\n[{setting.section}]\n{setting.name} = {json.dumps(value)}\n")
    message = error_of(path)
    assert message.startswith(f"{path}:3: {setting.key} = ")
    assert message.endswith(f": {setting.rule}")
    assert len(message) < 300  # a long bad value is cut, not echoed whole


def test_rules_say_the_range() -> None:
    assert BY_KEY["voice.rate"].rule == "must be a whole number from 80 to 320"
    assert BY_KEY["voice.volume"].rule == "must be a number from 0.1 to 1.0"
    assert BY_KEY["engine.engine"].rule == 'must be one of "auto", "vosk", "moonshine" or "pocketsphinx"'


def test_example_message(tmp_path: Path) -> None:
    path = write(tmp_path, "[listen]\nwake_word = 'coach'\n\n[voice]\nvoice = 'en'\n\nrate = 900\n")
    assert error_of(path) == f"{path}:7: voice.rate = 900: must be a whole number from 80 to 320"


# --- unknown names, syntax, bytes ----------------------------------------------------------------


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "# gym\n[voice]\nspeed = 180\n")
    assert error_of(path) == f"{path}:3: unknown key 'voice.speed' (did you mean 'voice.rate'?)"
    path = write(tmp_path, "rate = 180\n")
    assert error_of(path) == f"{path}:1: unknown key 'rate' (did you mean 'voice.rate'?)"
    path = write(tmp_path, "[log]\nkeep = 2\n[voice.extra]\nx = 1\n")
    assert error_of(path).startswith(f"{path}:3: unknown key 'voice.extra'")
    path = write(tmp_path, '[voice]\n"sp\\need" = 1\n')  # a quoted key holding a newline stays one line
    assert error_of(path) == f"{path}:2: unknown key 'voice.sp?eed' (did you mean 'voice.rate'?)"


def test_unknown_section_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "[voice]\nrate = 170\n\n[voise]\nrate = 180\n")
    assert error_of(path) == f"{path}:4: unknown section [voise] (did you mean [voice]?)"
    path = write(tmp_path, "[zzz]\n")
    assert error_of(path).startswith(f"{path}:1: unknown section [zzz] (sections: audio, listen, voice")


def test_section_written_as_a_value(tmp_path: Path) -> None:
    path = write(tmp_path, '\nvoice = "en"\n')
    assert error_of(path) == f"{path}:2: 'voice' is a section: put its settings under [voice]"


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "# gym\n[voice]\n\nrate = = 3\n")
    assert error_of(path) == f"{path}:4: not valid TOML: Invalid value (column 8)"
    path = write(tmp_path, "[voice]\nrate = 100\nrate = 120\n")
    assert error_of(path).startswith(f"{path}:3: not valid TOML: Cannot overwrite a value")
    path = write(tmp_path, '[voice]\nvoice = "en')
    assert error_of(path) == f"{path}:2: not valid TOML: Unterminated string (at the end of the file)"


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[voice]\nrate = 170\nvoice = "caf\xe9"\n')
    assert error_of(path) == f"{path}:3: not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_100kb_line_is_refused_in_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[voice]\n# " + "x" * 100_000 + "\nrate = 170\n")
    assert error_of(path) == f"{path}:2: line too long (100002 characters, at most 4096)"
    path = write(tmp_path, '[voice]\nvoice = "' + "x" * 100_000 + '"\n')
    assert error_of(path).startswith(f"{path}:2: line too long")


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "# filler\n" * 200_000)
    assert error_of(path) == f"{path}: too big for a config file (over 1024 kB)"


# --- generated text: example and show ------------------------------------------------------------


def test_example_config_loads_as_all_defaults(tmp_path: Path) -> None:
    text = example_config()
    config = load(write(tmp_path, text))
    assert all(source == "default" for _, _, source in config.items())
    for setting in SETTINGS:  # every key is there, with its help
        assert f"# {setting.name} = " in text and f"# {setting.help}" in text


def test_example_config_uncommented_is_valid_and_complete(tmp_path: Path) -> None:
    # Each commented setting, switched on, must be a value the loader accepts, on the line it is on.
    names = {setting.name for setting in SETTINGS}
    lines = [
        line[2:] if line.startswith("# ") and line[2:].split(" = ")[0] in names and " = " in line else line
        for line in example_config().splitlines()
    ]
    path = write(tmp_path, "\n".join(lines) + "\n")
    config = load(path)
    for number, line in enumerate(lines, 1):
        if not line.startswith("#") and " = " in line:
            section = [text for text in lines[:number] if text.startswith("[")][-1].strip("[]")
            assert config.source(f"{section}.{line.split(' = ')[0]}") == f"{path}:{number}"
    assert all(source != "default" for _, _, source in config.items())
    assert config.voice.rate == 165 and config.audio.input == "USB"


def test_format_config_shows_values_and_sources(tmp_path: Path) -> None:
    path = write(tmp_path, '[voice]\nrate = 180\nvoice = "en-us"\n')
    lines = format_config(load(path, flags={"log.keep": 7}, flag_names={"log.keep": "--keep"}))
    assert lines[0] == f"# config file: {path}"
    assert any(line.startswith("voice.rate = 180 ") and line.endswith(f"    # {path}:2") for line in lines)
    assert any(line.startswith('voice.voice = "en-us" ') and line.endswith(f"# {path}:3") for line in lines)
    assert any(line.startswith("voice.volume = 1.0 ") and line.endswith("# default") for line in lines)
    assert any(line.startswith("# audio.input = (not set) ") and line.endswith("# default") for line in lines)
    assert any(line.startswith("log.keep = 7 ") and line.endswith("# flag --keep") for line in lines)
    assert len(lines) == len(SETTINGS) + 1


def test_format_config_output_is_itself_a_config_file(tmp_path: Path) -> None:
    first = load(
        write(tmp_path, '[voice]\nrate = 180\nvoice = "say \\"hi\\" \\\\ now"\n[log]\nfolder = "/var/log/vc"\n')
    )
    shown = "\n".join(format_config(first)) + "\n"
    tomllib.loads(shown)
    second = load(write(tmp_path / "again", shown))
    assert [value for _, value, _ in second.items()] == [value for _, value, _ in first.items()]


# --- the `config` subcommand ---------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> argparse.ArgumentParser:
    """The registered parser, with no real config file, $VOICECOACH_* or ~/.config in the way."""
    for name in ("VOICECOACH_CONFIG", "VOICECOACH_MODEL", "VOICECOACH_KB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(config_module, "SYSTEM_CONFIG", tmp_path / "no-etc" / "config.toml")
    parser = argparse.ArgumentParser(prog="voicecoach")
    config_cmd.register(parser.add_subparsers())
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def test_config_show(cli: argparse.ArgumentParser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "# gym\n[voice]\nrate = 180\n")
    assert run(cli, ["config", "show", "--config", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == format_config(load(path))
    assert any(line.startswith("voice.rate = 180 ") and line.endswith(f"# {path}:3") for line in out)
    assert any(line.startswith("voice.volume = 1.0 ") and line.endswith("# default") for line in out)


def test_config_show_json(cli: argparse.ArgumentParser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[voice]\nrate = 180\n[knowledge]\nkb = "/srv/kb"\n')
    assert run(cli, ["config", "show", "--json", "--config", str(path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert list(shown) == [setting.key for setting in SETTINGS]
    assert shown["voice.rate"] == {"value": 180, "source": f"{path}:2"}
    assert shown["knowledge.kb"] == {"value": "/srv/kb", "source": f"{path}:4"}
    assert shown["audio.input"] == {"value": None, "source": "default"}


def test_config_show_bad_file_raises_for_the_main_cli(cli: argparse.ArgumentParser, tmp_path: Path) -> None:
    path = write(tmp_path, "[voice]\nrate = 900\n")
    with pytest.raises(ConfigError, match=r":2: voice.rate = 900: must be"):
        run(cli, ["config", "show", "--config", str(path)])


def test_config_path(
    cli: argparse.ArgumentParser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(cli, ["config", "path"]) == 0
    assert capsys.readouterr().out == "none (defaults)\n"
    user = write(tmp_path / "xdg" / "voicecoach", "")
    assert run(cli, ["config", "path"]) == 0
    assert capsys.readouterr().out == f"{user}\n"
    named = write(tmp_path, "")
    monkeypatch.setenv("VOICECOACH_CONFIG", str(named))
    assert run(cli, ["config", "path"]) == 0
    assert capsys.readouterr().out == f"{named}\n"


def test_config_example(cli: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cli, ["config", "example"]) == 0
    assert capsys.readouterr().out == example_config()
