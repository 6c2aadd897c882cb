"""Soak: `voicecoach listen --json` for hours in gym noise, a few spoken questions an hour; memory, CPU, turns.

Usage (from the checkout root):
    PYTHONPATH=. python benchmarks/bench_soak.py [--minutes 480] [--questions-per-hour 6] [--sample-seconds 30]
        [--report-minutes 10] [--warmup-minutes 2] [--json SAMPLES.json] [--noise-rms 400] [--snr 20]
        [--noise-seconds 120] [--seed 1] [--max-growth-mb 10] [--listen-args "--activation wake"]

What it does:
  - starts its own PulseAudio room (tests/conftest.py `start_pulse_room()`: null sink "gym", its monitor the
    default source), makes `--noise-seconds` of gym noise once with ../shared/tools/gym_noise.py and plays it in
    a loop into the room as one endless `pacat` stream at `--noise-rms` (16-bit RMS), from before the coach
    starts to the end: the gym never goes quiet;
  - starts `python -m voicecoach listen --json --verbose` (default activation: wake word "coach") in the room
    (PYTHONFAULTHANDLER=1: a crash, or a hang on SIGINT at the end, prints its stacks into the summary),
    with a private XDG_STATE_HOME/XDG_CONFIG_HOME (its turn log goes to a temporary folder, no user config),
    and waits for its "listening on" line;
  - every 3600/`--questions-per-hour` seconds (the first half an interval in) mixes a spoken question into the
    noise stream ("coach, my knees hurt after squats" and seven other phrasings, rendered once with
    `espeak-ng -v en-us`), its speech RMS `--snr` dB above the noise; one more question is asked halfway
    through the warm-up, so the one-off memory of a first answer is in the growth baseline;
  - samples the listen process every `--sample-seconds`: VmRSS, VmHWM (peak), CPU % of one core over the
    interval (utime+stime from /proc/PID/stat), threads and open file descriptors;
  - counts its JSON turns: a turn that arrives from the start of a question to 15 s after its end answers
    that question (right when its topic or intent is the phrasing's expected topic); any other turn is a
    false turn (the coach spoke to the gym noise).

Prints one line per `--report-minutes` and a summary: crashed or not (listen exited by itself, or did not stop
cleanly on SIGINT), memory growth (RSS at the end minus RSS after `--warmup-minutes`), peak memory, mean CPU,
false turns (total and per hour), right answers/questions, and pass/fail against the targets: no crash,
growth <= `--max-growth-mb` (10 MB), no false turn. `--json` writes config, samples, questions, turns and the
summary to a file (rewritten at every report line, so a run that is killed still leaves its figures).
Ctrl-C (or SIGTERM) ends the run early with the summary. The listen process, the noise player and PulseAudio
are cleaned up on every way out (listen and pacat also die with this process if it is killed).

Exit code: 0 all targets met, 1 a target missed, 2 could not run (a missing part, listen never started).

Figures (2-core machine shared with other work, so CPU is noisy; PocketSphinx, no English Vosk model), 10 min,
`--questions-per-hour 30 --report-minutes 1`: no crash (SIGINT exit 0 in 0.1 s), RSS 85.0 MB at start, 89.2 MB
after the 2 min warm-up, 96.1 MB at the end (+6.9 MB, mostly +5.1 MB when a misheard "how should i warm up my
knees" started the warm-up routine: threads 7 -> 8), mean CPU 6.1% of one core (~3% idle in noise, 8-15% while
answering or in the warm-up), 0 false turns, 3/5 right, 0 noise utterances even started. Not yet run for 1 h.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
"""The shared folder beside the checkout (CI lays `../shared` there too)."""
GYM_NOISE = SHARED / "tools" / "gym_noise.py"
RATE = 16_000
ANSWER_WINDOW = 15.0
"""Seconds after a question's end in which a turn counts as its answer (before its start: a false turn)."""
SETTLE_SECONDS = 5.0
"""After "listening on": PulseAudio capture starts ~2 s after a stream opens; the clock starts after this."""
FEED_SECONDS = 0.1
"""The noise stream is written in blocks this long."""

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("coach, my knees hurt after squats", "knee_pain_squat"),
    ("coach, my knee hurts on the leg extension", "knee_pain_leg_extension"),
    ("coach, my knees are sore after running on the treadmill", "knee_pain_treadmill"),
    ("coach, my knees hurt on the first heavy set", "knee_pain_warmup"),
    ("coach, how do i make my knees stronger", "knee_strengthen"),
    ("coach, my knee is swollen", "knee_pain_red_flag"),
    ("coach, squats hurt my knees", "knee_pain_squat"),
    ("coach, knee pain from running", "knee_pain_treadmill"),
)
"""Spoken phrasings and the topic id (intents/topics.txt) a right answer has; asked in this order, cycling.
None says "warm up": misheard ("how should i warm up my these"), that started the warm-up routine, which then
spoke and ran its thread for the rest of a soak (measured; a misheard question still can, see the summary)."""


def missing_parts() -> str | None:
    """What this benchmark needs and this machine lacks, named; None when everything is there."""
    missing = [
        tool for tool in ("pulseaudio", "pactl", "pacat", "espeak-ng") if shutil.which(tool) is None
    ]  # fmt: skip
    if ctypes.util.find_library("portaudio") is None:
        missing.append("libportaudio2")
    parts = []
    if missing:
        parts.append(f"Debian packages {', '.join(missing)} (pactl/pacat are in pulseaudio-utils)")
    if not GYM_NOISE.exists():
        parts.append(f"../shared/tools/gym_noise.py beside the checkout (looked at {GYM_NOISE})")
    elif not (SHARED / "datasets" / "clinc150" / "data_full.json").exists():
        parts.append("../shared/datasets/clinc150/data_full.json (gym_noise.py's babble)")
    return "needs " + " and ".join(parts) if parts else None


def start_pulse_room() -> tuple[dict[str, str], Callable[[], None]]:
    """The tests' private PulseAudio room (tests/conftest.py): (env for subprocesses, stop)."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import conftest

    start: Callable[[], tuple[dict[str, str], Callable[[], None]]] = conftest.start_pulse_room
    return start()


# -- audio -----------------------------------------------------------------------------------------


def read_wav(path: Path) -> np.ndarray:
    """Mono float samples at 16 kHz (linear resampling: enough for test prompts)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit PCM")
        frames = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
        x: np.ndarray = frames.reshape(-1, w.getnchannels()).mean(axis=1)
        rate = w.getframerate()
    if rate != RATE:
        x = np.interp(np.arange(0, len(x) / rate, 1 / RATE), np.arange(len(x)) / rate, x)
    return x


def speech_rms(x: np.ndarray) -> float:
    """Loudness of the speech itself, not its silences (as gym_noise.py mix measures it)."""
    voiced = x[np.abs(x) > 0.02 * np.abs(x).max()]
    return float(np.sqrt(np.mean(np.square(voiced))))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def make_noise(out: Path, seconds: float, seed: int, level: float) -> np.ndarray:
    """`--seconds` of gym noise (gym_noise.py make), scaled to RMS `level`: the loop played into the room."""
    subprocess.run(
        [sys.executable, str(GYM_NOISE), "make", str(out), "--seconds", f"{seconds:g}", "--seed", str(seed)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    noise = read_wav(out)
    return noise / rms(noise) * level


def render_question(text: str, out: Path, level: float) -> tuple[np.ndarray, float]:
    """espeak-ng en-us speech at speech RMS `level` (lowered if it would clip): (samples, the level it got)."""
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(out), text], check=True, capture_output=True, timeout=60)
    speech = read_wav(out)
    gain = level / speech_rms(speech)
    gain = min(gain, 30_000 / np.abs(speech).max())  # the noise rides on top: keep headroom
    speech = speech * gain
    return speech, speech_rms(speech)


_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when this benchmark dies, even by SIGKILL (Linux prctl).
    Loaded before any fork: the child, maybe forked while other threads run, only makes one libc call."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class RoomPlayer:
    """Gym noise looped forever into the room as one `pacat` stream; questions are mixed into the same stream.

    One stream, never reopened: a fresh PulseAudio playback stream drops its first ~0.5 s, and gaps between
    loops would hand the endpointer silences a gym does not have. The pipe is kept small so the wall time a
    block is written is within a few hundred ms of when the room hears it.
    """

    def __init__(self, noise: np.ndarray, env: dict[str, str], device: str = "gym", latency_ms: int = 100) -> None:
        self._noise = noise
        self._pos = 0
        self._overlay: np.ndarray | None = None
        self._overlay_pos = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.started: float | None = None
        self.question_started: float | None = None
        self.question_ended: float | None = None
        self.written = 0
        """Samples written so far (see `lag_seconds`)."""
        self.error: str | None = None
        self.proc = subprocess.Popen(
            ["pacat", "--playback", "--raw", f"--device={device}", "--format=s16le", f"--rate={RATE}", "--channels=1",
             f"--latency-msec={latency_ms}", "--client-name=soak-gym-noise"],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, 4096)  # ~0.13 s of audio in the pipe
        self._thread = threading.Thread(target=self._feed, name="gym-noise", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        block = int(FEED_SECONDS * RATE)
        self.started = time.monotonic()
        try:
            while not self._stop.is_set():
                end = self._pos + block
                chunk = np.take(self._noise, np.arange(self._pos, end), mode="wrap")
                self._pos = end % len(self._noise)
                with self._lock:
                    if self._overlay is not None:
                        if self._overlay_pos == 0:
                            self.question_started = time.monotonic()
                        part = self._overlay[self._overlay_pos : self._overlay_pos + block]
                        chunk[: len(part)] += part
                        self._overlay_pos += block
                        if self._overlay_pos >= len(self._overlay):
                            self._overlay = None
                            self.question_ended = time.monotonic()
                self.proc.stdin.write(np.clip(np.round(chunk), -32768, 32767).astype("<i2").tobytes())
                self.written += block
        except (BrokenPipeError, ValueError, OSError) as error:
            if not self._stop.is_set():
                self.error = f"noise player stopped: {error!r}"

    def play(self, samples: np.ndarray) -> None:
        """Mix `samples` into the noise from the next block on (question_started/_ended tell when)."""
        with self._lock:
            self.question_started = self.question_ended = None
            self._overlay, self._overlay_pos = samples, 0

    @property
    def playing(self) -> bool:
        with self._lock:
            return self._overlay is not None

    def lag_seconds(self) -> float:
        """How far the written noise lags the wall clock. Constant while the stream plays on (it starts at the
        time pacat took to connect); it grows by every gap in which the stream ran dry."""
        if self.started is None:
            return 0.0
        return time.monotonic() - self.started - self.written / RATE

    def alive(self) -> bool:
        return self.proc.poll() is None and self.error is None

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        _end(self.proc)
        self._thread.join(timeout=5)


def _end(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 10) -> int:
    """Stop one process we started (by its id), politely first; its exit code (-9 when it had to be killed)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            return -9
    return proc.returncode


# -- the listen process ----------------------------------------------------------------------------


@dataclass
class Turn:
    at: float
    """Seconds since the soak clock started (negative: during start-up)."""
    turn: dict[str, Any]
    question: int | None = None
    """Index of the question it answers; None: a false turn."""


class Listen:
    """`voicecoach listen --json --verbose` in the room; turns and stderr read as they come (bounded memory)."""

    def __init__(self, env: dict[str, str], extra: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voicecoach", "listen", "--json", "--verbose", *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
            start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        self.pid = self.proc.pid
        self.turns: deque[tuple[float, dict[str, Any]]] = deque()
        self.stderr_tail: deque[str] = deque(maxlen=120)
        self.hung = False
        self.stop_seconds: float | None = None
        self.other_stdout: deque[str] = deque(maxlen=20)
        self.ignored = 0
        self.ignored_tail: deque[str] = deque(maxlen=10)
        self.stopped_line = ""
        self.listening = threading.Event()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            try:
                turn = json.loads(line)
            except json.JSONDecodeError:
                self.other_stdout.append(line.rstrip())
                continue
            self.turns.append((now, turn if isinstance(turn, dict) else {"value": turn}))

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            line = line.rstrip()
            self.stderr_tail.append(line)
            if "listening on" in line:
                self.listening.set()
            elif line.startswith("voicecoach: ignored"):
                self.ignored += 1
                self.ignored_tail.append(line)
            elif line.startswith("voicecoach: stopped"):
                self.stopped_line = line

    def stop(self) -> int:
        """SIGINT (Ctrl-C: listen prints its summary line and exits 0); its exit code. One that does not end
        within 20 s gets SIGABRT, so faulthandler (PYTHONFAULTHANDLER) prints where its threads hang, then
        SIGKILL; `hung` is set and `stop_seconds` says how long the SIGINT took."""
        start = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.hung = True
                self.stderr_tail.append("bench_soak: listen ignored SIGINT for 20 s; SIGABRT for its stacks:")
                _end(self.proc, signal.SIGABRT, timeout=5)
        self.stop_seconds = round(time.monotonic() - start, 1)
        for reader in self._readers:
            reader.join(timeout=5)
        return self.proc.returncode


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in kB and Threads from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "Threads"):
            values[key] = int(value.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads) in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


# -- the soak --------------------------------------------------------------------------------------


@dataclass
class Question:
    index: int
    text: str
    expected: str
    due: float
    """Seconds since the soak clock started."""
    played: float | None = None
    ended: float | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    right: bool = False


@dataclass
class Sample:
    elapsed: float
    rss_mb: float
    peak_mb: float
    cpu_percent: float
    """Of one core, over the interval since the previous sample."""
    threads: int
    fds: int
    turns: int
    false_turns: int
    asked: int
    right: int
    ignored: int
    noise_gaps_s: float
    """Seconds the noise stream ran dry so far (a machine too busy to feed it; ~0.1 s is measuring jitter)."""


def schedule(minutes: float, per_hour: float, warmup_minutes: float, question_seconds: float) -> list[float]:
    """Question times (s): one halfway through the warm-up, then evenly spaced from half an interval in; none
    whose answer window overruns the end. The warm-up question puts the one-off memory of a first answer
    (its decoding and speaking) into the baseline, so growth shows what builds up, not what a first use costs."""
    if per_hour <= 0:
        return []
    interval = 3600.0 / per_hour
    times = [warmup_minutes * 30] if warmup_minutes > 0 else []
    k = 0
    while (due := (k + 0.5) * interval) + question_seconds + ANSWER_WINDOW <= minutes * 60:
        if not times or due > times[-1] + question_seconds + ANSWER_WINDOW:
            times.append(due)
        k += 1
    return [t for t in times if t + question_seconds + ANSWER_WINDOW <= minutes * 60]


def mb(kb: int) -> float:
    return kb / 1024


def clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.samples: list[Sample] = []
        self.questions: list[Question] = []
        self.turns: list[Turn] = []
        self.t0 = 0.0
        self.baseline: Sample | None = None
        self.crash: str | None = None
        self.stop_code: int | None = None
        self.interrupted = False
        self.listen: Listen | None = None
        self.player: RoomPlayer | None = None
        self.phrasings: list[tuple[str, str, np.ndarray, float]] = []
        self.noise_level = 0.0
        self._cpu: tuple[float, float] | None = None
        self._report_cpu: tuple[float, float] | None = None
        self._noise_lag = 0.0
        self._started_wall = time.time()

    # - the run -

    def run(self) -> int:
        args = self.args
        with tempfile.TemporaryDirectory(prefix="voicecoach-soak-") as tmp:
            work = Path(tmp)
            print(f"making {args.noise_seconds:g} s of gym noise (gym_noise.py, seed {args.seed}) ...", flush=True)
            noise = make_noise(work / "noise.wav", args.noise_seconds, args.seed, args.noise_rms)
            self.noise_level = rms(noise)
            for i, (text, expected) in enumerate(QUESTIONS):
                samples, level = render_question(text, work / f"q{i}.wav", args.noise_rms * 10 ** (args.snr / 20))
                self.phrasings.append((text, expected, samples, 20 * np.log10(level / self.noise_level)))
            longest = max(len(s) for _, _, s, _ in self.phrasings) / RATE
            dues = schedule(args.minutes, args.questions_per_hour, args.warmup_minutes, longest)
            for k, due in enumerate(dues):
                text, expected, _, _ = self.phrasings[k % len(self.phrasings)]
                self.questions.append(Question(k, text, expected, due))
            snrs = ", ".join(f"{snr:.1f}" for *_, snr in self.phrasings)
            print(
                f"noise RMS {self.noise_level:.0f}; questions at SNR {snrs} dB; {len(dues)} questions planned "
                f"in {args.minutes:g} min ({args.questions_per_hour:g}/h)",
                flush=True,
            )
            with self.room() as env:
                self.player = RoomPlayer(noise, env)
                time.sleep(1.0)  # the noise is on before the coach starts, as on a gym floor
                listen_env = {
                    **env,
                    "XDG_STATE_HOME": str(work / "state"),  # its turn log stays in our temporary folder
                    "XDG_CONFIG_HOME": str(work / "config"),  # no user config changes what is measured
                }
                listen_env.pop("VOICECOACH_CONFIG", None)
                listen_env["PYTHONFAULTHANDLER"] = "1"  # a crash or a hang (see Listen.stop) shows its stacks
                self.listen = Listen(listen_env, shlex.split(args.listen_args))
                try:
                    if not self.wait_listening():
                        return 2
                    time.sleep(SETTLE_SECONDS)
                    self.loop()
                except KeyboardInterrupt:
                    self.interrupted = True
                    print("\ninterrupted: summary of the run so far", flush=True)
                finally:
                    if self.listen.proc.poll() is None:
                        with contextlib.suppress(Exception):
                            now = time.monotonic()
                            self.take_sample(now)  # the end figures, before it is stopped
                            self.report(now)
                        self.stop_code = self.listen.stop()
                    else:
                        self.listen.stop()
                    self.player.close()
                    self.collect_turns()
        return self.finish()

    @contextlib.contextmanager
    def room(self) -> Iterator[dict[str, str]]:
        pulse_env, stop = start_pulse_room()
        try:
            yield {**os.environ, **pulse_env}
        finally:
            if self.player is not None:
                self.player.close()
            if self.listen is not None and self.listen.proc.poll() is None:
                self.listen.stop()
            stop()

    def wait_listening(self) -> bool:
        assert self.listen is not None
        deadline = time.monotonic() + 120
        while not self.listen.listening.wait(0.5):
            if self.listen.proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n  ".join(self.listen.stderr_tail)
                print(f"voicecoach listen never started (exit code {self.listen.proc.poll()}):\n  {tail}")
                return False
        print(f"listen is up (pid {self.listen.pid}): {self.listen.stderr_tail[-1]}", flush=True)
        return True

    def loop(self) -> None:
        args = self.args
        assert self.listen is not None and self.player is not None
        self.t0 = time.monotonic()
        end = self.t0 + args.minutes * 60
        next_sample = self.t0 + args.sample_seconds
        next_report = self.t0 + args.report_minutes * 60
        pending = deque(self.questions)
        current: Question | None = None
        self._cpu = self._report_cpu = (self.t0, cpu_seconds(self.listen.pid))
        self._noise_lag = self.player.lag_seconds()
        print(
            f"\n{'elapsed':>8} {'RSS MB':>7} {'peak MB':>8} {'CPU %':>6} {'turns':>6} {'false':>6} "
            f"{'right/asked':>12} {'ignored':>8}",
            flush=True,
        )
        while True:
            now = time.monotonic()
            if self.listen.proc.poll() is not None:
                self.crash = (
                    f"listen exited by itself with code {self.listen.proc.returncode} at {clock(now - self.t0)}"
                )
                print(self.crash, flush=True)
                return
            if not self.player.alive():
                raise RuntimeError(self.player.error or f"pacat exited with {self.player.proc.returncode}")
            if current is not None and not self.player.playing and self.player.question_ended is not None:
                current.ended = self.player.question_ended - self.t0
                current = None
            if current is None and pending and now >= self.t0 + pending[0].due:
                current = pending.popleft()
                self.player.play(self.phrasings[current.index % len(self.phrasings)][2])
            if current is not None and current.played is None and self.player.question_started is not None:
                current.played = self.player.question_started - self.t0
            self.collect_turns()
            if now >= end:
                return
            if now >= next_sample:
                self.take_sample(now)
                next_sample += args.sample_seconds
                if now >= next_report:
                    self.report(now)
                    next_report += args.report_minutes * 60
            wake = min(next_sample, end, self.t0 + pending[0].due if pending else end)
            time.sleep(max(0.0, min(wake - time.monotonic(), 0.25 if current is not None else 1.0)))

    def collect_turns(self) -> None:
        assert self.listen is not None
        while self.listen.turns:
            arrived, turn = self.listen.turns.popleft()
            at = arrived - self.t0 if self.t0 else -1.0
            record = Turn(round(at, 2), turn)
            for q in self.questions:
                # A question still playing has no end yet: the window runs from its start.
                if q.played is not None and q.played <= at <= (q.ended if q.ended is not None else at) + ANSWER_WINDOW:
                    record.question = q.index
                    q.answers.append(turn)
                    q.right = q.right or q.expected in (turn.get("topic"), turn.get("intent"))
            self.turns.append(record)
            if record.question is None:
                print(f"  false turn at {clock(at)}: heard {turn.get('heard')!r} -> {turn.get('intent')}", flush=True)

    def take_sample(self, now: float) -> None:
        assert self.listen is not None and self.player is not None and self._cpu is not None
        pid = self.listen.pid
        status, cpu, fds = proc_status(pid), cpu_seconds(pid), open_fds(pid)
        then, cpu_then = self._cpu
        self._cpu = (now, cpu)
        self.collect_turns()
        asked = [q for q in self.questions if q.played is not None]
        sample = Sample(
            elapsed=round(now - self.t0, 1),
            rss_mb=round(mb(status["VmRSS"]), 2),
            peak_mb=round(mb(status["VmHWM"]), 2),
            cpu_percent=round(100 * (cpu - cpu_then) / max(now - then, 1e-6), 2),
            threads=status["Threads"],
            fds=fds,
            turns=len(self.turns),
            false_turns=sum(t.question is None for t in self.turns),
            asked=len(asked),
            right=sum(q.right for q in asked),
            ignored=self.listen.ignored,
            noise_gaps_s=round(max(0.0, self.player.lag_seconds() - self._noise_lag), 2),
        )
        self.samples.append(sample)
        if self.baseline is None and sample.elapsed >= self.args.warmup_minutes * 60 - 1:
            self.baseline = sample

    def report(self, now: float) -> None:
        assert self.listen is not None and self._report_cpu is not None
        s = self.samples[-1]
        then, cpu_then = self._report_cpu
        cpu = cpu_seconds(self.listen.pid)
        self._report_cpu = (now, cpu)
        percent = 100 * (cpu - cpu_then) / max(now - then, 1e-6)
        print(
            f"{clock(s.elapsed):>8} {s.rss_mb:7.1f} {s.peak_mb:8.1f} {percent:6.1f} {s.turns:6d} {s.false_turns:6d} "
            f"{f'{s.right}/{s.asked}':>12} {s.ignored:8d}",
            flush=True,
        )
        self.write_json()

    # - the figures -

    def summary(self) -> dict[str, Any]:
        args = self.args
        last = self.samples[-1] if self.samples else None
        elapsed = last.elapsed if last else 0.0
        hours = elapsed / 3600
        asked = [q for q in self.questions if q.played is not None]
        false_turns = [t for t in self.turns if t.question is None]
        baseline = self.baseline
        growth = round(last.rss_mb - baseline.rss_mb, 2) if last and baseline and last is not baseline else None
        alive = self.crash is None and self.stop_code is not None
        cpus = [s.cpu_percent for s in self.samples]
        targets = {
            "no crash": alive,
            f"memory growth <= {args.max_growth_mb:g} MB": growth is not None and growth <= args.max_growth_mb,
            "no false turn": not false_turns,
        }
        return {
            "planned_minutes": args.minutes,
            "elapsed_minutes": round(elapsed / 60, 2),
            "interrupted": self.interrupted,
            "crashed": not alive,
            "crash": self.crash,
            "alive_at_end": alive,
            "listen_exit_code_on_sigint": self.stop_code,
            "listen_hung_on_sigint": bool(self.listen and self.listen.hung),
            "listen_stop_seconds": self.listen.stop_seconds if self.listen else None,
            "listen_stopped_line": self.listen.stopped_line if self.listen else "",
            "warmup_minutes": args.warmup_minutes,
            "rss_after_warmup_mb": baseline.rss_mb if baseline else None,
            "rss_end_mb": last.rss_mb if last else None,
            "memory_growth_mb": growth,
            "peak_mb": max((s.peak_mb for s in self.samples), default=None),
            "cpu_mean_percent": round(sum(cpus) / len(cpus), 2) if cpus else None,
            "cpu_max_sample_percent": max(cpus, default=None),
            "threads": [self.samples[0].threads, last.threads] if last else None,
            "open_fds": [self.samples[0].fds, last.fds] if last else None,
            "turns": len(self.turns),
            "false_turns": len(false_turns),
            "false_turns_per_hour": round(len(false_turns) / hours, 2) if hours else None,
            "questions": len(asked),
            "right_answers": sum(q.right for q in asked),
            "answered": sum(bool(q.answers) for q in asked),
            "ignored_utterances": self.listen.ignored if self.listen else 0,
            "noise_gaps_s": last.noise_gaps_s if last else None,
            "targets": targets,
            "passed": all(targets.values()),
        }

    def write_json(self) -> None:
        if not self.args.json:
            return
        data = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self._started_wall)),
            "config": {**vars(self.args), "noise_rms": self.noise_level, "answer_window_s": ANSWER_WINDOW},
            "summary": self.summary(),
            "samples": [asdict(s) for s in self.samples],
            "questions": [asdict(q) for q in self.questions if q.played is not None],
            "turns": [asdict(t) for t in self.turns],
        }
        path = Path(self.args.json)
        part = path.with_name(path.name + ".part")
        part.write_text(json.dumps(data, indent=1))
        part.replace(path)

    def finish(self) -> int:
        s = self.summary()
        self.write_json()
        growth = s["memory_growth_mb"]
        yes_no = {True: "PASS", False: "FAIL"}
        print(f"\nsummary: {s['elapsed_minutes']:g} of {s['planned_minutes']:g} minutes")
        if s["crash"]:
            crashed = f"yes: {s['crash']}"
        elif s["alive_at_end"]:
            crashed = "no (alive at the end)"
        else:
            crashed = "unknown (never sampled)"
        print(f"  crashed:          {crashed}")
        if s["alive_at_end"]:
            stopped = (
                f"NO: ignored SIGINT for 20 s, killed (exit code {s['listen_exit_code_on_sigint']}; stacks below)"
                if s["listen_hung_on_sigint"]
                else f"exit code {s['listen_exit_code_on_sigint']} after {s['listen_stop_seconds']:g} s"
            )
            print(f"  stop on SIGINT:   {stopped} (not a target; a service must stop too)")
        if s["listen_stopped_line"]:
            print(f"  listen said:      {s['listen_stopped_line']}")
        growth_text = (
            f"{growth:+.1f} MB (RSS {s['rss_after_warmup_mb']:.1f} MB after {s['warmup_minutes']:g} min warm-up "
            f"-> {s['rss_end_mb']:.1f} MB at the end)"
            if growth is not None
            else "n/a (the run ended before the warm-up did)"
        )
        print(f"  memory growth:    {growth_text}")
        if s["peak_mb"] is not None:
            print(f"  peak memory:      {s['peak_mb']:.1f} MB (VmHWM)")
            print(
                f"  CPU:              mean {s['cpu_mean_percent']:.1f}% of one core "
                f"(busiest {self.args.sample_seconds:g} s sample {s['cpu_max_sample_percent']:.1f}%)"
            )
            print(
                f"  threads, fds:     {s['threads'][0]} -> {s['threads'][1]}, {s['open_fds'][0]} -> {s['open_fds'][1]}"
            )
        per_hour = f" ({s['false_turns_per_hour']:.1f} per hour)" if s["false_turns_per_hour"] is not None else ""
        print(f"  false turns:      {s['false_turns']}{per_hour}")
        for t in [t for t in self.turns if t.question is None][:10]:
            heard, intent, topic = (t.turn.get(key) for key in ("heard", "intent", "topic"))
            print(f"      at {clock(t.at)}: heard {heard!r} -> {intent} ({topic})")
        print(
            f"  right answers:    {s['right_answers']}/{s['questions']} questions "
            f"({s['answered']} got some turn; {s['ignored_utterances']} utterances ignored by the coach)"
        )
        for q in [q for q in self.questions if q.played is not None]:
            got = "; ".join(f"{a.get('heard')!r} -> {a.get('topic') or a.get('intent')}" for a in q.answers)
            print(f"      {clock(q.played or 0)} {q.text!r}: {'right' if q.right else 'wrong'} [{got or 'no turn'}]")
        for t in self.turns:
            if t.turn.get("intent") == "start_warmup":
                print(f"  note: the warm-up routine started at {clock(t.at)} (heard {t.turn.get('heard')!r}); its")
                print("        speech, thread and memory are in the figures from then on")
        if s["noise_gaps_s"] and s["noise_gaps_s"] > 0.5:
            print(f"  noise stream ran dry for ~{s['noise_gaps_s']:.1f} s in all (the machine was too busy to feed it)")
        if self.listen is not None and (s["crashed"] or s["listen_hung_on_sigint"]):
            print("  listen stderr (last lines):\n    " + "\n    ".join(self.listen.stderr_tail))
        print("targets: " + ", ".join(f"{name} {yes_no[ok]}" for name, ok in s["targets"].items()))
        print(f"soak: {yes_no[s['passed']]}")
        if self.args.json:
            print(f"samples written to {self.args.json}")
        return 0 if s["passed"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=480.0, help="length of the soak (default 8 hours)")
    parser.add_argument("--questions-per-hour", type=float, default=6.0)
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--report-minutes", type=float, default=10.0)
    parser.add_argument("--warmup-minutes", type=float, default=2.0, help="memory growth is measured from here")
    parser.add_argument("--json", metavar="FILE", help="write config, samples, questions, turns, summary here")
    parser.add_argument("--noise-rms", type=float, default=400.0, help="gym noise level in the room (16-bit RMS)")
    parser.add_argument("--snr", type=float, default=20.0, help="question speech above the noise, dB")
    parser.add_argument("--noise-seconds", type=float, default=120.0, help="length of the gym-noise loop")
    parser.add_argument("--seed", type=int, default=1, help="gym_noise.py seed")
    parser.add_argument("--max-growth-mb", type=float, default=10.0, help="memory growth target")
    parser.add_argument("--listen-args", default="", help='extra `voicecoach listen` arguments, e.g. "--barge-in"')
    args = parser.parse_args()
    reason = missing_parts()
    if reason:
        print(f"bench_soak: {reason}", file=sys.stderr)
        return 2

    def terminate(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)  # a service manager or a test timeout: clean up as on Ctrl-C
    soak = Soak(args)
    try:
        return soak.run()
    except KeyboardInterrupt:  # during set-up, before the loop: everything already cleaned up
        print("interrupted during set-up", file=sys.stderr)
        return 2
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:  # the room, noise or player failed
        print(f"bench_soak: could not run: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
