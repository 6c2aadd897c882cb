"""`.ci/no_machine_paths.sh`: a tracked file naming an absolute path of the machine fails CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

GUARD = Path(__file__).resolve().parents[1] / ".ci" / "no_machine_paths.sh"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git_repo(folder: Path, files: dict[str, str]) -> Path:
    """A git repository in `folder/repo` tracking `files` (name -> text)."""
    repo = folder / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    return repo


def guard(repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([str(GUARD)], cwd=repo, env=env, capture_output=True, text=True, timeout=60)


def test_a_file_naming_the_checkouts_parent_fails(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, {"clean.py": "x = 1\n", "bad.py": f'SHARED = "{tmp_path}/shared"\n'})
    done = guard(repo, home=tmp_path / "elsewhere")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"bad.py:1: names {tmp_path}/ (an absolute path of this machine)"]


def test_a_file_naming_the_home_folder_fails(tmp_path: Path) -> None:
    home = tmp_path / "home" / "lifter"
    repo = git_repo(tmp_path, {"notes.md": f"run it\nwith {home}/venv/bin/python\n"})
    done = guard(repo, home=home)
    assert done.returncode == 1 and done.stdout.startswith("notes.md:2: names ")


def test_a_clean_repository_passes(tmp_path: Path) -> None:
    repo = git_repo(tmp_path, {"ok.py": 'SHARED = Path(__file__).resolve().parents[1].parent / "shared"\n'})
    done = guard(repo, home=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
