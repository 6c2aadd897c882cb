"""`voicecoach log`: what lifters asked, and with `--unanswered` what the knowledge base could not answer."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from voicecoach.app.turnlog import Group, LoggedTurn, TurnLog
from voicecoach.errors import UsageError

SERVICE_FOLDER = Path("/var/lib/voicecoach/voicecoach/turns")
"""Where the boot-time service logs: its unit sets XDG_STATE_HOME=/var/lib/voicecoach."""


def default_folder() -> Path:
    return platformdirs.user_state_path("voicecoach") / "turns"


def register(sub: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser("log", help="show what lifters asked (and what went unanswered)")
    parser.add_argument("--unanswered", action="store_true", help="group the questions the coach could not answer")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--limit",
        type=int,
        default=20,
        metavar="N",
        help="show the newest N turns or top N groups (default 20, 0 for all)",
    )
    parser.add_argument(
        "--folder",
        type=Path,
        metavar="PATH",
        help=f"turn log folder (default: {default_folder()}, else the service's {SERVICE_FOLDER})",
    )
    parser.set_defaults(func=run_log)
    return parser


def run_log(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UsageError("--limit must be 0 (all) or more")
    folder = args.folder or _pick_default()
    log = TurnLog(folder)
    limit = args.limit or None
    if args.unanswered:
        groups = log.unanswered()[:limit]
        rows = [_group_json(group) for group in groups] if args.json else [_group_line(group) for group in groups]
        empty = f"Nothing unanswered in the turn log ({folder})."
    else:
        turns = log.read(limit)
        rows = (
            [json.dumps(asdict(turn), ensure_ascii=False) for turn in turns]
            if args.json
            else [_turn_line(turn) for turn in turns]
        )
        empty = f"No turns logged yet in {folder}."
    if not rows and not args.json:
        print(empty)
    for row in rows:
        print(row)
    if log.skipped:
        # Stderr, so `--json | jq` still sees clean lines.
        print(f"voicecoach: skipped {log.skipped} unreadable line(s) in {folder}", file=sys.stderr)
    return 0


def _pick_default() -> Path:
    """This user's own log, else the service's: the gym owner usually asks about the service."""
    own = default_folder()
    if not own.exists() and SERVICE_FOLDER.exists():
        return SERVICE_FOLDER
    return own


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso[:16].replace("T", " ")  # a hand-edited time: show what is there


def _quoted(text: str) -> str:
    # JSON quoting escapes quotes and control characters, so a hand-edited line cannot drive the terminal.
    return json.dumps(text, ensure_ascii=False)


def _turn_line(turn: LoggedTurn) -> str:
    status = "answered" if turn.answered else "unanswered"
    return f"{_when(turn.time)}  {status}  {turn.intent}  {_quoted(turn.heard)}"


def _group_line(group: Group) -> str:
    example = group.examples[0] if group.examples else group.key
    return f"{group.count:>3}x  {_quoted(example)} (last {_when(group.last_time)})"


def _group_json(group: Group) -> str:
    return json.dumps(
        {"key": group.key, "count": group.count, "last": group.last_time, "examples": list(group.examples)},
        ensure_ascii=False,
    )
