"""`voicecoach config show|path|example`: which settings are in force, and where each one comes from.

The main CLI calls `register(subparsers)` and then `args.func(args)`; a `ConfigError` is printed there
as `voicecoach: <message>` with exit status 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from voicecoach.cli.options import add_config_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser("config", help="show the settings in use and where each one comes from")
    actions = config.add_subparsers(dest="config_action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="every setting, its value and its source (default, file:line, env, flag)")
    add_config_option(show)
    show.add_argument("--json", action="store_true", help="one JSON object: {key: {value, source}}")
    show.set_defaults(func=run_show)

    path = actions.add_parser("path", help="which config file would be read")
    add_config_option(path)
    path.set_defaults(func=run_path)

    example = actions.add_parser("example", help="print a commented example config file")
    example.set_defaults(func=run_example)


def run_show(args: argparse.Namespace) -> int:
    from voicecoach.app.config import format_config, load_config

    config = load_config(getattr(args, "config", None))
    if args.json:
        shown = {
            key: {"value": str(value) if isinstance(value, Path) else value, "source": source}
            for key, value, source in config.items()
        }
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print("\n".join(format_config(config)))
    return 0


def run_path(args: argparse.Namespace) -> int:
    from voicecoach.app.config import find_config

    path = find_config(getattr(args, "config", None))
    print(path if path is not None else "none (defaults)")
    return 0


def run_example(args: argparse.Namespace) -> int:
    from voicecoach.app.config import example_config

    print(example_config(), end="")
    return 0
