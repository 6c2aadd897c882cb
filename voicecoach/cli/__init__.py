"""The command line: the only layer that talks to the terminal (one module per command)."""

from voicecoach.cli.main import main

__all__ = ["main"]
