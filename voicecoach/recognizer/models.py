"""Vosk models on disk: where they live, and a download/install that never leaves half a model behind.

Models go to `$XDG_DATA_HOME/voicecoach/models/<name>` (default `~/.local/share/...`). Installing
always goes: zip in a temp file beside the target -> integrity and content checks -> extraction into a
temp folder beside the target (every member checked to land inside it) -> `os.replace`. Interrupt it
anywhere and the models folder holds either the old model or the new one, never a mix.
This is the only module that touches the network, and only in `download`.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO, TextIO

from voicecoach.errors import ModelError

if TYPE_CHECKING:
    import zipfile

ENV_MODEL = "VOICECOACH_MODEL"
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
GRAMMAR_FILES = ("graph/HCLr.fst", "graph/Gr.fst")
_FIX = "run 'voicecoach model download' (or 'voicecoach model download --from-file ZIP')"


@dataclass(frozen=True)
class ModelSource:
    name: str
    url: str
    size: int | None = None
    """Bytes of the zip, when published; checked against the download."""
    sha256: str | None = None
    """Hex digest of the zip, when published."""


DEFAULT_MODEL = ModelSource(
    "vosk-model-small-en-us-0.15", "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip"
)
"""alphacephei publishes no checksum; size comes from Content-Length and the zip's own CRCs are checked."""


def data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "voicecoach" / "models"


def check_model_folder(path: Path) -> None:
    """Raise `ModelError` naming the fix when `path` is not a complete Vosk model folder."""
    if not path.is_dir():
        raise ModelError(f"{path}: no such model folder; {_FIX}")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if not ((path / "graph" / "HCLG.fst").is_file() or supports_grammar(path)):
        missing.append("graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if missing:
        raise ModelError(f"{path}: not a complete Vosk model (missing {', '.join(missing)}); {_FIX}")


def supports_grammar(path: Path) -> bool:
    """A runtime grammar needs the split graph; a static HCLG.fst decodes its full vocabulary only."""
    return all((path / name).is_file() for name in GRAMMAR_FILES)


def installed_models() -> list[Path]:
    root = data_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / "am").is_dir())


def find_model(explicit: str | Path | None = None) -> tuple[Path | None, str]:
    """The Vosk model to use and why: --model, then $VOICECOACH_MODEL, then the installed default."""
    if explicit:
        return Path(explicit).expanduser(), "--model"
    if os.environ.get(ENV_MODEL):
        return Path(os.environ[ENV_MODEL]).expanduser(), f"${ENV_MODEL}"
    default = data_dir() / DEFAULT_MODEL.name
    if default.is_dir():
        return default, "installed"
    english = [p for p in installed_models() if "-en-" in p.name]
    return (english[0], "installed") if english else (None, "none installed")


def download(
    source: ModelSource = DEFAULT_MODEL, *, target_dir: Path | None = None, progress: TextIO | None = sys.stderr
) -> Path:
    """Fetch `source` and install it; returns the model folder. Raises `ModelError`, leaves no partial files."""
    root = target_dir or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{source.name}-", suffix=".zip.part", dir=root)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _fetch(source, out, progress)
        if source.sha256 and digest != source.sha256.lower():
            raise ModelError(f"{source.url}: SHA-256 mismatch (got {digest}); the download is corrupt, retry")
        return install_zip(Path(tmp_name), source.name, target_dir=root)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _fetch(source: ModelSource, out: BinaryIO, progress: TextIO | None) -> str:
    import hashlib  # here, not at the top: its OpenSSL (3.3 MB) stays out of every process that never downloads
    import urllib.error
    import urllib.request

    sha = hashlib.sha256()
    received = 0
    expected = source.size
    try:
        with urllib.request.urlopen(source.url, timeout=30) as response:
            announced = int(response.headers.get("Content-Length") or 0) or None
            expected = source.size or announced
            bar = _Progress(progress, expected)
            while block := response.read(1 << 16):
                out.write(block)
                sha.update(block)
                received += len(block)
                bar.update(received)
            bar.done()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ModelError(f"{source.url}: download failed ({reason}); or copy the zip and use --from-file") from None
    if expected is not None and received != expected:
        raise ModelError(f"{source.url}: download truncated ({received} of {expected} bytes); retry")
    return sha.hexdigest()


class _Progress:
    """A one-line progress bar on stderr, redrawn at most every 1%."""

    def __init__(self, stream: TextIO | None, total: int | None) -> None:
        self.stream, self.total, self.shown = stream, total, -1

    def update(self, received: int) -> None:
        if self.stream is None:
            return
        if self.total:
            percent = min(100, received * 100 // self.total)
            if percent == self.shown:
                return
            self.shown = percent
            bar = "#" * (percent // 4) + "." * (25 - percent // 4)
            self.stream.write(f"\r[{bar}] {percent:3d}% {received / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            self.stream.write(f"\r{received / 1e6:.1f} MB")
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            self.stream.write("\n")
            self.stream.flush()


def install_zip(zip_path: Path, name: str | None = None, *, target_dir: Path | None = None) -> Path:
    """Check and unpack a model zip into the models folder atomically; returns the model folder."""
    import zipfile

    root = target_dir or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(zip_path)
    except FileNotFoundError:
        raise ModelError(f"{zip_path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise ModelError(f"{zip_path}: not a readable zip ({err}); download it again") from None
    with archive, tempfile.TemporaryDirectory(prefix=".install-", dir=root) as tmp:
        _check_members(archive, zip_path)
        bad = _test_zip(archive)
        if bad is not None:
            raise ModelError(f"{zip_path}: corrupt member {bad!r} (CRC error); download it again")
        archive.extractall(tmp)
        model = _model_root(Path(tmp), zip_path)
        check_model_folder(model)
        target = root / (name or model.name)
        _replace_dir(model, target)
    return target


def _test_zip(archive: zipfile.ZipFile) -> str | None:
    try:
        return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return str(err)


def _check_members(archive: zipfile.ZipFile, zip_path: Path) -> None:
    """Nothing may land outside the extraction folder: no absolute paths, '..', drive letters or links."""
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        mode = info.external_attr >> 16
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise ModelError(f"{zip_path}: unsafe path {name!r} in the zip; refusing to install it")
        if stat.S_ISLNK(mode):
            raise ModelError(f"{zip_path}: symbolic link {name!r} in the zip; refusing to install it")


def _model_root(folder: Path, zip_path: Path) -> Path:
    """The model is either at the zip's top level or inside its single top folder."""
    if (folder / "am").is_dir():
        return folder
    tops = [p for p in folder.iterdir() if p.is_dir()]
    if len(tops) == 1 and (tops[0] / "am").is_dir():
        return tops[0]
    raise ModelError(f"{zip_path}: no Vosk model inside (expected am/final.mdl, conf/model.conf, graph/); {_FIX}")


def _replace_dir(source: Path, target: Path) -> None:
    # os.replace cannot overwrite a non-empty folder: move the old one aside first, then swap.
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(source, target)
    except OSError as err:
        if old is not None:
            os.replace(old, target)
        raise ModelError(f"{target}: cannot install the model ({err.strerror})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
