"""Speech recognition of one block of audio: Whisper decoding, checks, re-decoding, the coverage audit.

A block (a few minutes of the replay) goes through these steps:

1. the voice-activity detector (Silero, on the levelled audio) finds the stretches of speech;
2. the stretches are put end to end in windows of at most 30 s, decoded in batches without
   timestamps (the batched decoder stops early in timestamp mode and never decodes the rest of
   a window), then aligned word by word;
3. each window's language is detected on its encoder output (one decoder step): a window in
   another language than the session's is decoded again in that language, a window that mixes
   languages has its utterances checked one by one; a window whose output
   fails Whisper's own checks (compression ratio above 2.4: a loop; average log-probability below
   -1: guesswork) is decoded again on its own, sequentially, with beam 5 and temperature fallback,
   which batched decoding never applies;
4. the hint check, when Whisper was given the session's names and title as its prompt: the
   speech of each sentence whose hint words could be the prompt written as speech is decoded
   again without the prompt (batched, side by side); a sentence where two or more of its hint
   words, and half, are not heard so takes the words decoded without the prompt (hints.py).
   Each such sentence is a `HintCheck`, recorded in the transcript. The stretches the audit
   decodes alone then get no prompt;
5. the coverage audit: every stretch of speech of 1.5 s or more that no decoded word covers is
   decoded again on its own (sequential, temperature fallback, language detected on it); what
   stays empty is a `Gap`, logged and recorded in the transcript. Speech is never dropped silently.

Words keep their times and probability; segments are sentences (cut at final punctuation, long
pauses or a change of language). Whisper's known failure modes (phrases repeated in a loop, text
invented in silences, times going backwards) are removed and counted in `Dropped`.
"""

from __future__ import annotations

import itertools
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

# Gap: speech heard and no decoding turned into words, even alone; HintCheck: an utterance
# decoded again without the prompt.
from ..core.artefacts import Gap, HintCheck
from ..core.textnorm import normalise
from .audio import SAMPLE_RATE, levelled
from .hints import flagged_sentences, hint_vocabulary, reconcile
from .segments import Segment, Word

log = logging.getLogger(__name__)

# Whisper's own thresholds for its failure modes (openai/whisper transcribe.py).
COMPRESSION_RATIO_MAX = 2.4
NO_SPEECH_PROB_MIN = 0.6
AVG_LOGPROB_MIN = -1.0
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
REDECODE_BEAM_SIZE = 5  # a window or stretch decoded again on its own gets the careful search
# Captions that Whisper learned from subtitled videos and writes into silences, in French.
SILENCE_PHRASES = ("amara org", "sous titres réalisés par", "sous titrage st 501", "merci d avoir regardé")

WINDOW_S = 30.0  # Whisper hears 30 s at a time
MIN_AUDITED_S = 1.5  # speech at least this long without a word is decoded again, then reported
WORD_REACH_S = 0.3  # aligned word times are approximate: a word vouches for the speech this close to it
# A window or stretch is decoded in another language only when the detector is sure of it and
# has heard enough: on the French of FLEURS, the long session and the sample, the detector gave
# French p >= 0.92 for every utterance of 1.5 s or more but one, of 1.5 s, heard as Japanese (0.59).
OTHER_LANGUAGE_P = 0.7
MIN_OTHER_LANGUAGE_S = 2.5
# Below this probability of the session's language, a window mixes languages: its utterances
# are checked one by one. French windows of the same sets: p >= 0.948 (39 windows); a window
# holding 8 s of English among French: 0.875.
MIXED_WINDOW_P = 0.95
# Above it, a stretch without words in the window is taken to be in the session's language
# without asking the detector again.
SURE_WINDOW_P = 0.99
MAX_MIXED_CHECKS = 8  # utterances of a mixed window sent to the detector (30 s of encoder each)
SENTENCE_ENDS = (".", "?", "!", "…")
PAUSE_SPLIT_S = 1.0  # a silence this long between words ends a segment
MAX_SEGMENT_WORDS = 60
# Languages written without spaces: Whisper's words are then pieces of text, joined as they are.
NO_SPACE_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})
_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"


# --- data between steps -------------------------------------------------------------------------

@dataclass
class Dropped:
    repetition: int = 0
    silence: int = 0
    backwards: int = 0


@dataclass
class DecodeStats:
    """How much extra work a block needed: the bench reports these, the log shows them."""

    windows: int = 0
    failed_check: int = 0  # windows decoded again because their output failed a check
    other_language: int = 0  # windows or utterances decoded in another language
    mixed_checked: int = 0  # utterances checked one by one in windows that mix languages
    holes: int = 0  # stretches of speech without words, decoded again
    recovered: int = 0  # of which gave words
    hint_checked: int = 0  # utterances holding hint words, decoded again without the prompt
    hint_echoes: int = 0  # of which took the words decoded without the prompt
    session_language_p: list[float] = field(default_factory=list)  # per window, from the detector
    # CPU seconds (all threads) per step: vad, batched (features, encoder, detector, decoder, word
    # alignment, windows decoded again: batches run side by side), hints (utterances decoded
    # again without the prompt), audit.
    cpu_s: dict[str, float] = field(default_factory=dict)

    def add(self, other: DecodeStats) -> None:
        for name, value in vars(other).items():
            if name == "cpu_s":
                for step, seconds in value.items():
                    self.cpu_s[step] = round(self.cpu_s.get(step, 0.0) + seconds, 3)
            elif name == "session_language_p":
                self.session_language_p += value
            else:
                setattr(self, name, getattr(self, name) + value)

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        started = time.process_time()
        try:
            yield
        finally:
            self.cpu_s[step] = round(self.cpu_s.get(step, 0.0) + time.process_time() - started, 3)


@dataclass(frozen=True)
class DecodeSettings:
    """What the decoder does; built from `TranscribeOptions` (see transcribe.decode_settings)."""

    language: str | None  # the session's language; None: detected window by window
    beam_size: int = 2
    batch_size: int = 8
    batched: bool = True
    # Text given to Whisper as the previous text: the session's names and title (transcription.
    # hints_prompt), in the session's language only. Whisper may write it as speech where it was
    # not said: with check_hints, what it wrote of it is kept only where it is heard without the
    # prompt too (hints.py), and the stretches the audit decodes alone get no prompt.
    prompt: str | None = None
    check_windows: bool = True
    audit: bool = True
    check_hints: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"language": self.language, "beam_size": self.beam_size, "batch_size": self.batch_size,
                "batched": self.batched, "prompt": self.prompt, "check_windows": self.check_windows,
                "audit": self.audit, "check_hints": self.check_hints, "redecode_beam_size": REDECODE_BEAM_SIZE,
                "min_audited_s": MIN_AUDITED_S}


@dataclass
class BlockResult:
    segments: list[Segment]  # times in the block
    gaps: list[Gap] = field(default_factory=list)
    dropped: Dropped = field(default_factory=Dropped)
    stats: DecodeStats = field(default_factory=DecodeStats)
    hint_checks: list[HintCheck] = field(default_factory=list)  # times in the block
    language: str | None = None  # of the first window, when the session's is not set
    language_probability: float | None = None
    # The detector's probabilities on the block's first window of speech: the stage checks the
    # configured language with them.
    first_window_languages: dict[str, float] | None = None


@dataclass
class _Piece:
    """Whisper's output for a stretch of audio: words in block time and the decoding's scores."""

    words: list[Word]
    language: str
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0


@dataclass
class _Batch:
    """What the batched pass made of a batch of windows, each list in the windows' order."""

    detected: list[dict[str, float]]  # the language detector's probabilities
    outputs: list[Any]  # CTranslate2's generation results
    words: list[list[Any]]  # faster-whisper's aligned words
    tokenizer: Any
    language: str


class _Window:
    """Speech stretches of a block put end to end (at most 30 s): Whisper hears them as one."""

    def __init__(self, stretches: Sequence[tuple[int, int]]):
        self.stretches = list(stretches)  # sample ranges in the block

    @property
    def duration_s(self) -> float:
        return sum(end - start for start, end in self.stretches) / SAMPLE_RATE

    @property
    def start_s(self) -> float:
        return self.stretches[0][0] / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        return self.stretches[-1][1] / SAMPLE_RATE

    def audio(self, block: np.ndarray) -> np.ndarray:
        return np.concatenate([block[start:end] for start, end in self.stretches])

    def to_block(self, words: list[Word]) -> list[Word]:
        """Window time to block time: each word goes to the stretch holding its middle."""
        offsets, position = [], 0.0
        for start, end in self.stretches:
            offsets.append((position, position + (end - start) / SAMPLE_RATE, start / SAMPLE_RATE))
            position = offsets[-1][1]
        placed = []
        for word in words:
            middle = (word.start + word.end) / 2
            begin, finish, origin = next((o for o in offsets if middle < o[1]), offsets[-1])
            placed.append(Word(origin + min(max(word.start, begin), finish) - begin,
                               origin + min(max(word.end, begin), finish) - begin, word.text, word.p))
        return placed


# --- Whisper's failure modes ----------------------------------------------------------------------

def compression_ratio(text: str) -> float:
    """How well the text compresses: a loop of one phrase compresses far better than speech."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _collapse(keys: list[str], min_repeats: int) -> list[int]:
    """Indexes kept when a run of 1–8 items repeated `min_repeats` times or more is kept once."""
    kept = list(range(len(keys)))
    changed = True
    while changed:
        changed = False
        for size in range(1, 9):
            i = 0
            while i + size * min_repeats <= len(kept):
                unit = [keys[k] for k in kept[i:i + size]]
                repeats = 1
                while [keys[k] for k in kept[i + repeats * size:i + (repeats + 1) * size]] == unit:
                    repeats += 1
                if repeats >= min_repeats and any(unit):
                    del kept[i + size:i + repeats * size]
                    changed = True
                i += 1
    return kept


def collapse_repetitions(text: str, min_repeats: int = 3) -> str:
    """A phrase of 1–8 words said `min_repeats` times or more in a row is kept once."""
    words = text.split()
    return " ".join(words[i] for i in _collapse([normalise(w) for w in words], min_repeats))


def clean_segments(raw: list[Segment], scores: list[tuple[float, float]] | None, dropped: Dropped,
                   after_s: float = 0.0) -> list[Segment]:
    """Remove or repair what Whisper makes up; `scores` are (no_speech_prob, avg_logprob) per segment.

    - repetition loops are collapsed to one occurrence (words included), or dropped when still
      loop-like;
    - text in silence (high no-speech probability and low confidence, or a known caption that
      Whisper writes into silences) is dropped;
    - a segment starting before the previous one ends is moved after it (its words too), or
      dropped when it lies entirely before (timestamps going backwards).
    """
    kept: list[Segment] = []
    last_end = after_s
    for index, segment in enumerate(raw):
        no_speech_prob, avg_logprob = scores[index] if scores else (0.0, 0.0)
        text = " ".join(segment.text.split())
        words = [replace(w) for w in segment.words] if segment.words else None
        if not normalise(text):
            continue
        if no_speech_prob > NO_SPEECH_PROB_MIN and avg_logprob < AVG_LOGPROB_MIN:
            dropped.silence += 1
            continue
        if any(phrase in normalise(text) for phrase in SILENCE_PHRASES):
            dropped.silence += 1
            continue
        separator = "" if segment.lang in NO_SPACE_LANGUAGES else " "
        tokens = [w.text for w in words] if words else text.split()
        kept_indexes = _collapse([normalise(t) for t in tokens], 3)
        collapsed = separator.join(tokens[i] for i in kept_indexes)
        if len(kept_indexes) < len(tokens) or compression_ratio(text) > COMPRESSION_RATIO_MAX:
            dropped.repetition += 1
            if compression_ratio(collapsed) > COMPRESSION_RATIO_MAX:
                continue
            text = collapsed if words else collapse_repetitions(text)
            if words:
                words = [words[i] for i in kept_indexes]
        start, end = segment.start, segment.end
        if end <= last_end:
            dropped.backwards += 1
            continue
        if start < last_end - 0.01:
            dropped.backwards += 1
            start = last_end
            if words:
                words = [w for w in words if w.end > start]
                for w in words:
                    w.start = round(max(w.start, start), 3)
                if not words:
                    continue
                text = separator.join(w.text for w in words)
        kept.append(Segment(round(start, 3), round(end, 3), text, segment.speaker, words, segment.lang))
        last_end = end
    return kept


# --- words and segments ---------------------------------------------------------------------------

def whole_words(pieces: Iterator[Any] | Sequence[Any], language: str) -> list[Word]:
    """Whisper's words (dicts or faster-whisper `Word`s, with a leading space) as printed words.

    Whisper splits "États-Unis," into " États" and "-Unis,", and "d'accord" into " d" and
    "'accord": a piece without a leading space joins the word before it, so that a segment's
    words are exactly its text split on spaces.
    """
    words: list[Word] = []
    joined = language in NO_SPACE_LANGUAGES
    for piece in pieces:
        text = piece["word"] if isinstance(piece, dict) else piece.word
        start = float(piece["start"] if isinstance(piece, dict) else piece.start)
        end = float(piece["end"] if isinstance(piece, dict) else piece.end)
        p = float(piece["probability"] if isinstance(piece, dict) else piece.probability)
        if not text.strip():
            continue
        if words and not joined and not text.startswith(" "):
            last = words[-1]
            words[-1] = Word(last.start, max(last.end, end), last.text + text.strip(),
                             p if last.p is None else min(last.p, p))
        else:
            words.append(Word(start, max(start, end), text.strip(), p))
    return words


def _join(words: Sequence[Word], language: str | None) -> str:
    return ("" if language in NO_SPACE_LANGUAGES else " ").join(w.text for w in words)


def monotonic(words: list[Word]) -> list[Word]:
    """Words in time order, each starting where the one before ended at the earliest."""
    ordered = sorted(words, key=lambda w: (w.start, w.end))
    last_end = 0.0
    for word in ordered:
        word.start = max(word.start, last_end)
        word.end = max(word.end, word.start)
        last_end = word.end
    return ordered


def sentences(words: list[tuple[Word, str]], session_language: str | None) -> list[Segment]:
    """Words (each with its language) cut into segments: at the end of a sentence, at a pause of
    PAUSE_SPLIT_S, at a change of language, and after MAX_SEGMENT_WORDS words."""
    segments: list[Segment] = []
    current: list[Word] = []
    current_language: str | None = None

    def flush() -> None:
        if current:
            lang = current_language if current_language != session_language else None
            segments.append(Segment(current[0].start, current[-1].end, _join(current, current_language), None,
                                    [w.rounded() for w in current], lang))
            current.clear()

    for word, language in words:
        if current and (language != current_language or word.start - current[-1].end >= PAUSE_SPLIT_S
                        or len(current) >= MAX_SEGMENT_WORDS):
            flush()
        current_language = language
        current.append(word)
        if word.text.endswith(SENTENCE_ENDS):
            flush()
    flush()
    return segments


def uncovered(spans: Sequence[tuple[float, float]], words: Sequence[Word],
              min_s: float = MIN_AUDITED_S) -> list[tuple[float, float]]:
    """The parts of `spans` (speech, in seconds) at least min_s long that no word covers
    (a word covers its own time and WORD_REACH_S on each side)."""
    covered = sorted((w.start - WORD_REACH_S, w.end + WORD_REACH_S) for w in words)
    holes = []
    for start, end in spans:
        cursor = start
        for begin, finish in covered:
            if finish <= cursor:
                continue
            if begin >= end:
                break
            if begin - cursor >= min_s:
                holes.append((cursor, begin))
            cursor = max(cursor, finish)
        if end - cursor >= min_s:
            holes.append((cursor, end))
    return holes


def utterances(stretches: Sequence[tuple[int, int]]) -> list[tuple[float, float]]:
    """Stretches that touch (the detector pads them into pauses shorter than 0.8 s) joined, in seconds."""
    joined: list[list[int]] = []
    for start, end in stretches:
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(start / SAMPLE_RATE, end / SAMPLE_RATE) for start, end in joined]


# --- the decoder ----------------------------------------------------------------------------------

class BlockDecoder:
    """Whisper on blocks of a replay, with a loaded faster-whisper `WhisperModel`."""

    def __init__(self, model: Any, settings: DecodeSettings):
        self.model = model
        self.settings = settings

    # -- public --

    def decode(self, block: np.ndarray, on_progress: Callable[[float], None] | None = None) -> BlockResult:
        """The block's segments (times in the block), its gaps, what was dropped and how."""
        result = BlockResult([])
        self._heard: list[tuple[float, float, dict[str, float]]] = []  # windows: start, end, languages
        with result.stats.timed("vad"):
            stretches = self.speech_stretches(block)
        if not stretches:
            return result
        if self.settings.batched:
            pieces = self._decode_windows(block, self._windows(stretches), result, on_progress)
        else:
            with result.stats.timed("batched"):
                pieces = self._decode_sequential_block(block, stretches, result)
        words = self._clean_pieces(pieces, result.dropped)
        if self._checks_hints:
            with result.stats.timed("hints"):
                words = self._check_hints(block, stretches, words, result)
        if self.settings.audit:
            with result.stats.timed("audit"):
                words = self._audit(block, stretches, words, result)
        segments = sentences(words, self.settings.language or result.language)
        result.segments = clean_segments(segments, None, result.dropped)
        return result

    def speech_stretches(self, block: np.ndarray) -> list[tuple[int, int]]:
        """Sample ranges of speech, at most 30 s each, as the batched pipeline of faster-whisper
        finds them (pauses of 160 ms split), on the levelled audio."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        options = VadOptions(max_speech_duration_s=WINDOW_S, min_silence_duration_ms=160)
        return [(s["start"], s["end"]) for s in get_speech_timestamps(levelled(block), options)]

    # -- windows --

    @staticmethod
    def _windows(stretches: list[tuple[int, int]]) -> list[_Window]:
        windows: list[list[tuple[int, int]]] = [[]]
        length = 0
        for start, end in stretches:
            if windows[-1] and length + end - start > WINDOW_S * SAMPLE_RATE:
                windows.append([])
                length = 0
            windows[-1].append((start, end))
            length += end - start
        return [_Window(w) for w in windows if w]

    def _choose_language(self, probabilities: dict[str, float], duration_s: float = WINDOW_S) -> str:
        """The session's language unless the detector is sure of another on enough speech."""
        top = max(probabilities, key=probabilities.__getitem__)
        session = self.settings.language
        if session is None or top == session:
            return top
        if probabilities[top] >= OTHER_LANGUAGE_P and duration_s >= MIN_OTHER_LANGUAGE_S:
            return top
        return session

    def _tokenizer(self, language: str):
        from faster_whisper.tokenizer import Tokenizer

        return Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                         language=language)

    def _workers(self) -> int:
        """How many batches the model decodes at once (its workers: whisper_model.worker_threads)."""
        return max(1, int(getattr(getattr(self.model, "model", None), "num_workers", 1) or 1))

    def _in_parallel(self, work: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Any]:
        """work(item) for each item, as many at once as the model has workers; results in order."""
        if self._workers() == 1 or len(items) < 2:
            return map(work, items)
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=self._workers(), thread_name_prefix="whisper")
        futures = [pool.submit(work, item) for item in items]
        pool.shutdown(wait=False)

        def ordered() -> Iterator[Any]:
            try:
                for future in futures:
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()
        return ordered()

    def _batches(self, windows: list[_Window]) -> list[list[_Window]]:
        """Consecutive windows in batches, at most batch_size windows decoded at once over all the
        model's workers (memory), as many batches as a multiple of the workers (so that they all
        have one), sizes as even as can be."""
        workers = self._workers()
        count = -(-len(windows) // max(1, self.settings.batch_size // workers))
        count = min(len(windows), -(-count // workers) * workers)
        bounds = [round(i * len(windows) / count) for i in range(count + 1)]
        return [windows[bounds[i]:bounds[i + 1]] for i in range(count)]

    def _decode_windows(self, block: np.ndarray, windows: list[_Window], result: BlockResult,
                        on_progress: Callable[[float], None] | None) -> list[_Piece]:
        """Batched decoding without timestamps, then word alignment, batches side by side on the
        model's workers; failing and other-language windows decoded again on their own."""
        pieces: list[_Piece] = []
        result.stats.windows += len(windows)
        batches = self._batches(windows)
        language = self.settings.language or result.language
        decoded: list[_Batch] = []
        with result.stats.timed("batched"):  # features, encoder, detector, decoder, alignment, decoding again
            if language is None:  # the first batch's first window chooses the language of the rest
                decoded.append(self._decode_batch(block, batches[0], None))
                top = max(decoded[0].detected[0], key=decoded[0].detected[0].__getitem__)
                result.language, result.language_probability = top, round(decoded[0].detected[0][top], 3)
                language = top
            later = self._in_parallel(lambda batch: self._decode_batch(block, batch, language), batches[len(decoded):])
            for batch, done in zip(batches, itertools.chain(decoded, later)):
                if result.first_window_languages is None:
                    result.first_window_languages = done.detected[0]
                for window, output, probabilities, words in zip(batch, done.outputs, done.detected, done.words):
                    pieces += self._settle_window(block, window, output, probabilities, words, done.tokenizer,
                                                  done.language, result)
                if on_progress:
                    on_progress(batch[-1].end_s)
        return pieces

    def _decode_batch(self, block: np.ndarray, batch: list[_Window], language: str | None,
                      prompt: bool = True) -> _Batch:
        """One batch through the encoder, the language detector, the decoder (in `language`, else
        the one detected on the batch's first window; with the settings' prompt unless `prompt`
        is false) and the word alignment."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_suppressed_tokens

        model, settings = self.model, self.settings
        features = np.stack([pad_or_trim(model.feature_extractor(w.audio(block))[..., :-1]) for w in batch])
        encoder_output = model.encode(features)
        detected = [{token[2:-2]: p for token, p in probs} for probs in model.model.detect_language(encoder_output)]
        language = language or max(detected[0], key=detected[0].__getitem__)
        tokenizer = self._tokenizer(language)
        previous = self._prompt_tokens(tokenizer, language) if prompt else []
        tokens = model.get_prompt(tokenizer, previous, without_timestamps=True)
        outputs = model.model.generate(
            encoder_output, [tokens] * len(batch), beam_size=settings.beam_size, patience=1, length_penalty=1,
            max_length=model.max_length, suppress_blank=True, suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
            return_scores=True, return_no_speech_prob=True)
        aligned = [[{"seek": 0, "start": 0.0, "end": w.duration_s, "tokens": o.sequences_ids[0]}]
                   for w, o in zip(batch, outputs)]
        model.add_word_timestamps(aligned, tokenizer, encoder_output,
                                  [int(np.ceil(w.duration_s) * model.frames_per_second) for w in batch],
                                  _PREPEND, _APPEND, 0.0)
        return _Batch(detected, outputs, [a[0].get("words") or [] for a in aligned], tokenizer, language)

    def _settle_window(self, block, window: _Window, output, probabilities: dict[str, float], raw_words,
                       tokenizer, batch_language: str, result: BlockResult) -> list[_Piece]:
        """Keep a window's batched decoding, or decode it again on its own when it is in another
        language, fails a check, or mixes languages."""
        language = self._choose_language(probabilities, window.duration_s)
        self._heard.append((window.start_s, window.end_s, probabilities))
        if self.settings.language:
            result.stats.session_language_p.append(round(probabilities.get(self.settings.language, 0.0), 4))
        if language != batch_language:
            result.stats.other_language += 1
            log.debug("window %.1f–%.1f s: language %s (p %.2f): decoded again in it", window.start_s,
                      window.end_s, language, probabilities[language])
            return self._decode_alone(window.audio(block), language, window)
        tokens = output.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        avg_logprob = output.scores[0] * len(tokens) / (len(tokens) + 1)
        no_speech_prob = output.no_speech_prob
        silent = no_speech_prob > NO_SPEECH_PROB_MIN and avg_logprob < AVG_LOGPROB_MIN
        if self.settings.check_windows and not silent and (
                compression_ratio(text) > COMPRESSION_RATIO_MAX or avg_logprob < AVG_LOGPROB_MIN):
            result.stats.failed_check += 1
            log.debug("window %.1f–%.1f s failed a check (compression %.2f, log-probability %.2f): decoded "
                      "again", window.start_s, window.end_s, compression_ratio(text), avg_logprob)
            return self._decode_alone(window.audio(block), batch_language, window)
        words = window.to_block(whole_words(raw_words, batch_language))
        piece = _Piece(words, batch_language, no_speech_prob, avg_logprob)
        session = self.settings.language
        if session and probabilities.get(session, 0.0) < MIXED_WINDOW_P and not silent:
            return self._split_mixed(block, window, piece, result)
        return [piece]

    def _split_mixed(self, block: np.ndarray, window: _Window, piece: _Piece, result: BlockResult) -> list[_Piece]:
        """A window whose language is uncertain: its utterances of MIN_AUDITED_S or more (the
        MAX_MIXED_CHECKS longest) go to the detector in one batch, and one in another language is
        decoded in it, its words replacing the window's there."""
        from faster_whisper.audio import pad_or_trim

        spans = sorted((u for u in utterances(window.stretches) if u[1] - u[0] >= MIN_AUDITED_S),
                       key=lambda u: u[0] - u[1])[:MAX_MIXED_CHECKS]
        if not spans:
            return [piece]
        features = np.stack([pad_or_trim(self.model.feature_extractor(
            block[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)])[..., :-1]) for start, end in spans])
        heard = [{token[2:-2]: p for token, p in probs}
                 for probs in self.model.model.detect_language(self.model.encode(features))]
        result.stats.mixed_checked += len(spans)
        pieces = [piece]
        for (start, end), probabilities in sorted(zip(spans, heard)):
            language = self._choose_language(probabilities, end - start)
            probability = probabilities[language]
            if language == piece.language:
                continue
            result.stats.other_language += 1
            log.debug("%.1f–%.1f s: language %s (p %.2f) in a mixed window", start, end, language, probability)
            replaced = self._decode_span(block, start, end, language)
            piece.words = [w for w in piece.words if not start <= (w.start + w.end) / 2 < end]
            pieces += replaced
        return pieces

    def _detect(self, audio: np.ndarray) -> tuple[str, float]:
        """The language chosen for a piece of audio, and the detector's probability for it."""
        _, _, probabilities = self.model.detect_language(audio=audio)
        probabilities = dict(probabilities)
        language = self._choose_language(probabilities, len(audio) / SAMPLE_RATE)
        return language, probabilities.get(language, 0.0)

    @property
    def _checks_hints(self) -> bool:
        return bool(self.settings.prompt) and self.settings.check_hints

    def _prompt_tokens(self, tokenizer, language: str) -> list[int]:
        # The prompt is in the session's language: it would only mislead another.
        prompt = self.settings.prompt
        if not prompt or (self.settings.language and language != self.settings.language):
            return []
        return tokenizer.encode(" " + prompt.strip())

    def _transcribe(self, audio: np.ndarray, language: str, beam_size: int, prompt: bool = True) -> list[_Piece]:
        """faster-whisper's sequential decoding with timestamps, word alignment and temperature
        fallback (with the settings' prompt unless `prompt` is false): segments in the time of
        `audio`."""
        prompt_on = prompt and self.settings.prompt and (
            not self.settings.language or language == self.settings.language)
        segments, _ = self.model.transcribe(
            audio, language=language, beam_size=beam_size, temperature=list(FALLBACK_TEMPERATURES),
            compression_ratio_threshold=COMPRESSION_RATIO_MAX, log_prob_threshold=AVG_LOGPROB_MIN,
            no_speech_threshold=NO_SPEECH_PROB_MIN, condition_on_previous_text=False,
            initial_prompt=self.settings.prompt if prompt_on else None, word_timestamps=True,
            vad_filter=False, without_timestamps=False)
        return [_Piece(whole_words(s.words or [], language), language, s.no_speech_prob, s.avg_logprob)
                for s in segments]

    def _decode_alone(self, audio: np.ndarray, language: str, window: _Window) -> list[_Piece]:
        pieces = self._transcribe(audio, language, REDECODE_BEAM_SIZE)
        for piece in pieces:
            piece.words = window.to_block(piece.words)
        return pieces

    def _decode_span(self, block: np.ndarray, start_s: float, end_s: float, language: str,
                     prompt: bool = True) -> list[_Piece]:
        """A stretch of the block decoded on its own; words kept where their middle falls inside."""
        audio = block[int(start_s * SAMPLE_RATE):int(end_s * SAMPLE_RATE)]
        pieces = self._transcribe(audio, language, REDECODE_BEAM_SIZE, prompt)
        for piece in pieces:
            piece.words = [Word(w.start + start_s, w.end + start_s, w.text, w.p) for w in piece.words
                           if 0 <= (w.start + w.end) / 2 < end_s - start_s]
        return pieces

    def _decode_sequential_block(self, block: np.ndarray, stretches: list[tuple[int, int]],
                                 result: BlockResult) -> list[_Piece]:
        """`batched: false`: the block's speech end to end, decoded sequentially (beam, fallback)."""
        window = _Window(stretches)
        _, _, heard = self.model.detect_language(audio=window.audio(block)[: int(WINDOW_S * SAMPLE_RATE)])
        result.first_window_languages = dict(heard)
        language = self.settings.language
        if language is None:
            language = self._choose_language(result.first_window_languages, window.duration_s)
            result.language = language
            result.language_probability = round(result.first_window_languages[language], 3)
        pieces = self._transcribe(window.audio(block), language, self.settings.beam_size)
        for piece in pieces:
            piece.words = window.to_block(piece.words)
        return pieces

    # -- after decoding --

    @staticmethod
    def _clean_pieces(pieces: list[_Piece], dropped: Dropped) -> list[tuple[Word, str]]:
        """Words of the pieces that are not text in silence, in time order, with their language."""
        words: list[tuple[Word, str]] = []
        for piece in pieces:
            if not piece.words:
                continue
            if piece.no_speech_prob > NO_SPEECH_PROB_MIN and piece.avg_logprob < AVG_LOGPROB_MIN:
                dropped.silence += 1
                continue
            words += [(w, piece.language) for w in piece.words]
        ordered = monotonic([w for w, _ in words])
        language_of = {id(w): language for w, language in words}
        return [(w, language_of[id(w)]) for w in ordered]

    def _check_hints(self, block: np.ndarray, stretches: list[tuple[int, int]], words: list[tuple[Word, str]],
                     result: BlockResult) -> list[tuple[Word, str]]:
        """Decode again without the prompt the speech of each sentence whose hint words could be
        the prompt written as speech (hints.flagged_sentences): the stretches of speech under
        them, put end to end in windows decoded in batches side by side. A sentence where two or
        more of its hint words, and half, are not heard without the prompt takes the words
        decoded without it; another keeps its own (hints.reconcile). Each is recorded in
        `result.hint_checks`."""
        session = self.settings.language
        language = session or result.language
        if language is None:
            return words
        # The prompt is given only in the session's language (any, when it is not set).
        prompted = [w for w, lang in words if session is None or lang == session]
        flagged = flagged_sentences(prompted, hint_vocabulary(self.settings.prompt), SENTENCE_ENDS, PAUSE_SPLIT_S)
        if not flagged:
            return words
        spans = [(prompted[begin].start, prompted[end - 1].end) for begin, end, _ in flagged]
        again = [s for s in stretches if any(s[0] / SAMPLE_RATE < finish and s[1] / SAMPLE_RATE > start
                                             for start, finish in spans)]
        heard = [w for batch_words in self._in_parallel(lambda batch: self._unprompted(block, batch, language),
                                                        self._batches(self._windows(again)))
                 for w in batch_words]
        kept, decisions = reconcile(prompted, flagged, heard)
        for decision in decisions:
            mine = prompted[decision.begin:decision.end]
            result.stats.hint_checked += 1
            result.stats.hint_echoes += decision.echo
            result.hint_checks.append(HintCheck(
                start=round(mine[0].start, 3), end=round(mine[-1].end, 3), hints=decision.checked,
                unsupported=decision.unsupported, prompted=_join(mine, language),
                unprompted=_join(decision.unprompted, language), kept="unprompted" if decision.echo else "prompted"))
            log.debug("%.1f–%.1f s: hint words %s, not heard without the prompt: %s (%s kept)", mine[0].start,
                      mine[-1].end, decision.checked, decision.unsupported, result.hint_checks[-1].kept)
        if not any(d.echo for d in decisions):
            return words
        language_of = {id(w): lang for w, lang in words}
        merged = [w for w, lang in words if not (session is None or lang == session)] + kept
        return [(w, language_of.get(id(w), language)) for w in monotonic(merged)]

    def _unprompted(self, block: np.ndarray, batch: list[_Window], language: str) -> list[Word]:
        """A batch of windows decoded without the prompt: their words in block time. A window
        whose output fails Whisper's checks is decoded again on its own (no prompt either); one
        heard as silence gives no words."""
        done = self._decode_batch(block, batch, language, prompt=False)
        words: list[Word] = []
        for window, output, raw_words in zip(batch, done.outputs, done.words):
            tokens = output.sequences_ids[0]
            text = done.tokenizer.decode(tokens).strip()
            avg_logprob = output.scores[0] * len(tokens) / (len(tokens) + 1)
            if output.no_speech_prob > NO_SPEECH_PROB_MIN and avg_logprob < AVG_LOGPROB_MIN:
                continue
            if compression_ratio(text) > COMPRESSION_RATIO_MAX or avg_logprob < AVG_LOGPROB_MIN:
                pieces = self._transcribe(window.audio(block), language, REDECODE_BEAM_SIZE, prompt=False)
                for piece in pieces:
                    piece.words = window.to_block(piece.words)
                words += [w for w, _ in self._clean_pieces(pieces, Dropped())]
                continue
            words += window.to_block(whole_words(raw_words, language))
        return words

    def _hole_language(self, block: np.ndarray, start: float, end: float) -> tuple[str, float]:
        """The language of a stretch without words: the session's when the windows around it
        were surely in it (the detector has heard them already), else detected on the stretch."""
        session = self.settings.language
        around = [heard for begin, finish, heard in self._heard if begin < end and finish > start]
        if session and around and all(heard.get(session, 0.0) >= SURE_WINDOW_P for heard in around):
            return session, min(heard[session] for heard in around)
        return self._detect(block[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)])

    def _audit(self, block: np.ndarray, stretches: list[tuple[int, int]], words: list[tuple[Word, str]],
               result: BlockResult) -> list[tuple[Word, str]]:
        """Decode again, alone, each stretch of speech that no word covers; report what stays empty."""
        speech = utterances(stretches)
        holes = uncovered(speech, [w for w, _ in words])

        def decode_hole(hole: tuple[float, float]) -> tuple[str, float, list[tuple[Word, str]]]:
            language, probability = self._hole_language(block, *hole)
            # A stretch decoded alone gets no prompt when the hint words are checked: its words
            # are not (and a short stretch is where Whisper writes a prompt most readily).
            pieces = self._decode_span(block, *hole, language, prompt=not self._checks_hints)
            return language, probability, self._clean_pieces(pieces, Dropped())

        added: list[tuple[Word, str]] = []
        for (start, end), (language, probability, kept) in zip(holes, self._in_parallel(decode_hole, holes)):
            result.stats.holes += 1
            if self.settings.language and language != self.settings.language:
                result.stats.other_language += 1
            if kept:
                result.stats.recovered += 1
                added += kept
            log.debug("hole %.1f–%.1f s (%s, p %.2f): %d words decoded alone", start, end, language, probability,
                      len(kept))
            for gap_start, gap_end in uncovered([(start, end)], [w for w, _ in kept]):
                other = self.settings.language is not None and language != self.settings.language
                result.gaps.append(Gap(start=gap_start, end=gap_end,
                                       reason="other_language" if other else "no_speech_decoded"))
        if not added:
            return words
        merged = words + added
        ordered = monotonic([w for w, _ in merged])
        language_of = {id(w): language for w, language in merged}
        return [(w, language_of[id(w)]) for w in ordered]
