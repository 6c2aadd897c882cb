"""PocketSphinx with its bundled US English model: the embedded default when no Vosk model is installed.

Free-form, this model gets ~79% of espeak-ng words wrong; restricted to the domain it is usable. The
decoder gets a dictionary of only the domain and garbage words (cuts memory from ~120 MB to ~30 MB) and
a trigram model of thousands of generated domain phrasings plus off-topic sentences (see
`language_model`). A JSGF loop over the same phrases and words was measured too and never finished
within 600 s on 21 questions, so it is gone. A second, tiny search ("commands") holds only command
phrasings for the warm-up.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import pocketsphinx
from pocketsphinx.lm import ArpaBoLM

from voicecoach.audio.format import SAMPLE_RATE, AudioChunk
from voicecoach.errors import ModelError
from voicecoach.recognizer.base import Transcript, Word, mean_confidence
from voicecoach.recognizer.endpoint import StreamEndpointer, frames_of
from voicecoach.recognizer.language_model import BARGE_IN_FILLERS, BARGE_IN_WORDS, barge_in_corpus, lm_corpus
from voicecoach.text.domain import Domain

FRAMES_PER_SECOND = 100
"""PocketSphinx's feature frame rate (its `frate`): segment frames to seconds."""
FWDFLAT = False
"""PocketSphinx's second (flat-lexicon) pass runs at the end of each utterance: 50-125 ms there (median 77)
against 4 ms without, time the lifter waits for the answer; benchmarks/bench_speech.py measured its accuracy."""
MAX_UTTERANCE_SECONDS = 8.0
"""In steady gym noise the endpointer may never hear the end of speech: close the utterance anyway."""


def _is_filler(word: str) -> bool:
    """<s>, <sil>, [NOISE], [SPEECH], ++GARBAGE++: the model's non-words, in any case."""
    return word.startswith(("<", "[", "++"))


def model_dir() -> Path:
    """The folder with `en-us/` (acoustic model), `cmudict-en-us.dict` and `en-us.lm.bin`."""
    return Path(pocketsphinx.get_model_path()) / "en-us"


def read_dictionary(words: Iterable[str], path: Path | None = None) -> dict[str, list[str]]:
    """The lines of `cmudict-en-us.dict` for `words` (with their "word(2)" variants), by word."""
    wanted = set(words)
    found: dict[str, list[str]] = {}
    source = path or model_dir() / "cmudict-en-us.dict"
    with open(source, encoding="utf-8") as lines:
        for line in lines:
            head = line.split(" ", 1)[0]
            word = head.split("(", 1)[0]
            if word in wanted:
                found.setdefault(word, []).append(line.rstrip("\n"))
    return found


class PocketSphinxRecognizer:
    """Streaming recogniser: `endpoint.Endpointer` cuts utterances, the decoder is restricted to the domain."""

    name = "pocketsphinx"

    def __init__(self, domain: Domain, *, hmm: Path | None = None) -> None:
        self.domain = domain
        entries = read_dictionary(domain.all_words | {*BARGE_IN_WORDS, *BARGE_IN_FILLERS})
        known = frozenset(entries) & domain.all_words  # the barge-in words join the dictionary, not these LMs
        self.missing_words = frozenset(domain.words - known)
        self.open_vocabulary = False  # the domain's own language model
        if not known:
            raise ModelError("the PocketSphinx dictionary knows none of the domain words")
        hmm_path = hmm or model_dir() / "en-us"
        if not (hmm_path / "mdef").is_file():
            raise ModelError(f"{hmm_path}: PocketSphinx acoustic model missing; reinstall pocketsphinx")
        self._decoder = self._make_decoder(hmm_path, entries, known)
        self._search = "domain"
        self._decoder.activate_search(self._search)
        self._in_utterance = False
        self._stream = StreamEndpointer()
        self.description = (
            f"pocketsphinx (bundled US English, n-gram of {len(known & domain.words)} domain words); "
            "for better accuracy install Vosk English: voicecoach model download"
        )

    def _make_decoder(self, hmm: Path, entries: dict[str, list[str]], known: frozenset[str]) -> pocketsphinx.Decoder:
        # The decoder reads the dictionary and LM from files; a private temp folder, removed at once.
        with tempfile.TemporaryDirectory(prefix="voicecoach-ps-") as tmp:
            dict_path = Path(tmp) / "domain.dict"
            dict_path.write_text("\n".join(line for lines in entries.values() for line in lines) + "\n")
            config = pocketsphinx.Config(
                hmm=str(hmm), dict=str(dict_path), samprate=SAMPLE_RATE, lm=None, loglevel="FATAL", fwdflat=FWDFLAT
            )
            try:
                decoder = pocketsphinx.Decoder(config)
                arpa = Path(tmp) / "domain.arpa"
                self._write_lm(arpa, known)
                decoder.add_lm_file("domain", str(arpa))
                commands = Path(tmp) / "commands.arpa"
                self._write_lm(commands, known, commands_only=True)
                decoder.add_lm_file("commands", str(commands))
                interrupt = Path(tmp) / "interrupt.arpa"
                self._write_corpus(interrupt, barge_in_corpus(), frozenset(entries))
                decoder.add_lm_file("interrupt", str(interrupt))
            except (RuntimeError, ValueError) as err:
                raise ModelError(f"PocketSphinx could not load the domain search: {err}") from None
        return decoder

    def _write_lm(self, path: Path, known: frozenset[str], *, commands_only: bool = False) -> None:
        self._write_corpus(path, lm_corpus(self.domain, commands_only=commands_only), known)

    @staticmethod
    def _write_corpus(path: Path, corpus: str, known: frozenset[str]) -> None:
        lines = (line for line in corpus.splitlines() if line)
        text = "\n".join(line for line in lines if all(w in known for w in line.split()))
        lm = ArpaBoLM(text=text + "\n", add_start=True)
        lm.compute()
        lm.write_file(str(path))

    def commands_only(self, enabled: bool) -> None:
        self.reset()
        self._search = "commands" if enabled else "domain"
        self._decoder.activate_search(self._search)

    def interrupt_only(self, enabled: bool) -> None:
        """While the coach speaks (echo cancelled): only the words that may cut in (see `barge_in_corpus`)."""
        self.reset()
        self._decoder.activate_search("interrupt" if enabled else self._search)

    def accept(self, chunk: AudioChunk) -> Transcript | None:
        result: Transcript | None = None
        for frame, timestamp in frames_of(chunk):
            result = self._process(frame, timestamp) or result
        return result

    def _process(self, frame: bytes, timestamp: float) -> Transcript | None:
        speech = self._stream.feed(frame, timestamp)
        if speech is None:
            return None
        if self._stream.opened or not self._in_utterance:
            self._decoder.start_utt()
            self._in_utterance = True
            if not self._stream.opened:
                self._stream.continue_at(timestamp)
        self._decoder.process_raw(speech, False, False)
        if not self._stream.in_speech:
            return self._end_utterance()
        if self._stream.stream_time - self._stream.start > MAX_UTTERANCE_SECONDS:
            return self._end_utterance()  # the next speech frames open a new utterance
        return None

    def _end_utterance(self) -> Transcript:
        self._decoder.end_utt()
        self._in_utterance = False
        hyp = self._decoder.hyp()
        words: list[Word] = []
        for seg in self._decoder.seg() or ():  # None when the grammar found no path
            if _is_filler(seg.word):
                continue
            words.append(
                Word(
                    text=seg.word.split("(", 1)[0],
                    start=self._stream.start + seg.start_frame / FRAMES_PER_SECOND,
                    end=self._stream.start + (seg.end_frame + 1) / FRAMES_PER_SECOND,
                    # The binding already turns the log posterior into a probability.
                    confidence=min(1.0, max(0.0, float(seg.prob))),
                )
            )
        fallback = " ".join(w for w in (hyp.hypstr.split() if hyp is not None else ()) if not _is_filler(w))
        text = " ".join(w.text for w in words) if words else fallback
        return Transcript(
            text=text,
            is_final=True,
            confidence=mean_confidence(words),
            words=tuple(words),
            start=words[0].start if words else self._stream.start,
            end=words[-1].end if words else self._stream.stream_time,
            engine=self.name,
        )

    def partial(self) -> str:
        if not self._in_utterance:
            return ""
        hyp = self._decoder.hyp()
        return str(hyp.hypstr) if hyp is not None else ""

    def hearing(self) -> bool:
        return self._in_utterance

    def finish(self) -> Transcript | None:
        if not self._in_utterance:
            self._stream.restart()
            return None
        self._stream.end_stream()  # every frame of the utterance is already in the decoder
        result = self._end_utterance()
        self._stream.restart()
        return result

    def reset(self) -> None:
        if self._in_utterance:
            self._decoder.end_utt()
            self._in_utterance = False
        self._stream.restart()
