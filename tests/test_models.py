"""Model download/verify/install, against a local HTTP server: no test touches the internet."""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import stat
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from voicecoach.cli import model as cli_model
from voicecoach.errors import AudioFileError, ModelError
from voicecoach.recognizer import models

MODEL_FILES = {"am/final.mdl": b"mdl", "conf/model.conf": b"--x", "graph/HCLr.fst": b"h", "graph/Gr.fst": b"g"}


def make_zip(path: Path, files: dict[str, bytes], *, top: str = "vosk-model-test") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{top}/{name}" if top else name, data)
    return path


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    return tmp_path / "data" / "voicecoach" / "models"


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_data_dir_follows_xdg(xdg: Path) -> None:
    assert models.data_dir() == xdg


def test_install_zip_places_the_model_atomically(tmp_path: Path, xdg: Path) -> None:
    target = models.install_zip(make_zip(tmp_path / "m.zip", MODEL_FILES), "vosk-model-small-en-us-0.15")
    assert target == xdg / "vosk-model-small-en-us-0.15"
    assert (target / "am" / "final.mdl").read_bytes() == b"mdl"
    assert leftovers(xdg) == ["vosk-model-small-en-us-0.15"]  # no temp folder left behind
    assert models.find_model() == (target, "installed")
    assert models.supports_grammar(target)


def test_reinstall_replaces_the_old_model(tmp_path: Path, xdg: Path) -> None:
    models.install_zip(make_zip(tmp_path / "a.zip", {**MODEL_FILES, "old.txt": b"1"}), "m")
    target = models.install_zip(make_zip(tmp_path / "b.zip", MODEL_FILES, top=""), "m")
    assert not (target / "old.txt").exists() and (target / "conf" / "model.conf").exists()
    assert leftovers(xdg) == ["m"]


@pytest.mark.parametrize("evil", ["../escape.txt", "vosk-model-test/../../escape.txt", "/abs/escape.txt", "C:/x"])
def test_unsafe_paths_are_refused(tmp_path: Path, xdg: Path, evil: str) -> None:
    zip_path = make_zip(tmp_path / "evil.zip", MODEL_FILES)
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr(evil, b"pwned")
    with pytest.raises(ModelError, match="unsafe path"):
        models.install_zip(zip_path, "m")
    assert not list(tmp_path.rglob("escape.txt"))
    assert leftovers(xdg) == []


def test_symlinks_are_refused(tmp_path: Path, xdg: Path) -> None:
    zip_path = make_zip(tmp_path / "link.zip", MODEL_FILES)
    link = zipfile.ZipInfo("vosk-model-test/am/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ModelError, match="symbolic link"):
        models.install_zip(zip_path, "m")
    assert leftovers(xdg) == []


def test_incomplete_model_is_refused(tmp_path: Path, xdg: Path) -> None:
    files = {k: v for k, v in MODEL_FILES.items() if k != "conf/model.conf"}
    with pytest.raises(ModelError, match=r"conf/model.conf.*voicecoach model download"):
        models.install_zip(make_zip(tmp_path / "part.zip", files), "m")
    with pytest.raises(ModelError, match="no Vosk model inside"):
        models.install_zip(make_zip(tmp_path / "none.zip", {"readme.txt": b"x"}), "m")
    assert leftovers(xdg) == []


def test_corrupt_and_missing_zips(tmp_path: Path, xdg: Path) -> None:
    data = bytearray(make_zip(tmp_path / "ok.zip", {"am/final.mdl": b"A" * 1000}).read_bytes())
    data[data.index(b"AAAA") + 10] = ord("B")  # flip a byte of stored data: CRC mismatch
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="CRC"):
        models.install_zip(tmp_path / "crc.zip", "m")
    (tmp_path / "junk.zip").write_bytes(b"not a zip at all")
    with pytest.raises(ModelError, match="not a readable zip"):
        models.install_zip(tmp_path / "junk.zip", "m")
    with pytest.raises(ModelError, match="no such file"):
        models.install_zip(tmp_path / "absent.zip", "m")
    assert leftovers(xdg) == []


Server = tuple[str, dict[str, tuple[bytes, int]]]


class _Handler(http.server.BaseHTTPRequestHandler):
    payloads: ClassVar[dict[str, tuple[bytes, int]]] = {}

    def do_GET(self) -> None:
        if self.path not in self.payloads:
            self.send_error(404)
            return
        body, announced = self.payloads[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        self.wfile.write(body)  # a shorter body than announced is a truncated download

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, tuple[bytes, int]]]]:
    payloads: ClassVar[dict[str, tuple[bytes, int]]] = {}
    handler = type("Handler", (_Handler,), {"payloads": payloads})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", payloads
    httpd.shutdown()
    httpd.server_close()


def test_download_installs_with_progress(tmp_path: Path, xdg: Path, server: Server) -> None:
    url, payloads = server
    body = make_zip(tmp_path / "m.zip", MODEL_FILES).read_bytes()
    payloads["/m.zip"] = (body, len(body))
    progress = io.StringIO()
    import hashlib

    digest = hashlib.sha256(body).hexdigest()
    source = models.ModelSource("vosk-model-small-en-us-0.15", url + "/m.zip", len(body), digest)
    target = models.download(source, progress=progress)
    assert (target / "am" / "final.mdl").exists()
    assert "100%" in progress.getvalue()
    assert leftovers(xdg) == ["vosk-model-small-en-us-0.15"]


def test_malicious_download_is_refused(tmp_path: Path, xdg: Path, server: Server) -> None:
    url, payloads = server
    zip_path = make_zip(tmp_path / "evil.zip", MODEL_FILES)
    with zipfile.ZipFile(zip_path, "a") as archive:
        archive.writestr("../../evil.txt", b"x")
    payloads["/evil.zip"] = (zip_path.read_bytes(), zip_path.stat().st_size)
    with pytest.raises(ModelError, match="unsafe path"):
        models.download(models.ModelSource("m", url + "/evil.zip"), progress=None)
    assert leftovers(xdg) == [] and not list(tmp_path.rglob("evil.txt"))


def test_truncated_download_leaves_nothing(tmp_path: Path, xdg: Path, server: Server) -> None:
    url, payloads = server
    body = make_zip(tmp_path / "m.zip", MODEL_FILES).read_bytes()
    payloads["/cut.zip"] = (body[: len(body) // 2], len(body))
    with pytest.raises(ModelError, match=r"truncated|download failed"):
        models.download(models.ModelSource("m", url + "/cut.zip"), progress=None)
    assert leftovers(xdg) == []


def test_checksum_mismatch_and_http_errors(tmp_path: Path, xdg: Path, server: Server) -> None:
    url, payloads = server
    body = make_zip(tmp_path / "m.zip", MODEL_FILES).read_bytes()
    payloads["/m.zip"] = (body, len(body))
    with pytest.raises(ModelError, match=r"SHA-256"):
        models.download(models.ModelSource("m", url + "/m.zip", sha256="0" * 64), progress=None)
    with pytest.raises(ModelError, match=r"download failed.*--from-file"):
        models.download(models.ModelSource("m", url + "/missing.zip"), progress=None)
    assert leftovers(xdg) == []


def test_model_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert models.find_model() == (None, "none installed")
    monkeypatch.setenv(models.ENV_MODEL, str(tmp_path / "env"))
    assert models.find_model() == (tmp_path / "env", "$VOICECOACH_MODEL")
    assert models.find_model(tmp_path / "cli") == (tmp_path / "cli", "--model")


def test_check_model_folder_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no such model folder.*voicecoach model download"):
        models.check_model_folder(tmp_path / "nope")
    (tmp_path / "am").mkdir()
    with pytest.raises(ModelError, match=r"missing am/final\.mdl, conf/model\.conf, graph/HCLG\.fst"):
        models.check_model_folder(tmp_path)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser()
    cli_model.register(top.add_subparsers(dest="command", required=True))
    return top


def test_cli_download_from_file_and_path(tmp_path: Path, xdg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zip_path = make_zip(tmp_path / "m.zip", MODEL_FILES)
    args = parser().parse_args(["model", "download", "--from-file", str(zip_path)])
    assert args.func(args) == 0
    assert (xdg / models.DEFAULT_MODEL.name / "am" / "final.mdl").exists()
    args = parser().parse_args(["model", "path"])
    assert args.func(args) == 0
    assert f"vosk: {xdg / models.DEFAULT_MODEL.name} (installed)" in capsys.readouterr().out


def test_cli_path_without_vosk_names_pocketsphinx_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["model", "path"])
    args.func(args)
    out = capsys.readouterr().out
    assert "pocketsphinx" in out and "voicecoach model download" in out


def test_cli_transcribe_rejects_a_non_wav(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("not audio")
    args = parser().parse_args(["transcribe", str(tmp_path / "notes.wav")])
    with pytest.raises(AudioFileError) as err:
        args.func(args)
    assert err.value.exit_status == 2
