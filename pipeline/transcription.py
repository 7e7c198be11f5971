"""Stage 1, transcribe: a replay (audio or video) or an existing transcript to `<stem>.transcript.json`.

Audio is decoded to 16 kHz mono float32 (PyAV) as it is read, and transcribed by faster-whisper
in blocks of a few minutes, cut in the quietest moment near each block end. Only one block is in
memory at a time, so a four-hour replay needs no more memory than a short one; a first decoding
pass, keeping nothing, checks the whole file before the long work. Blocks drive the progress bar
and the checkpoint: after a crash or Ctrl-C, the next run skips the blocks already done. Whisper's known failure modes (phrases
repeated in a loop, text invented in silences, timestamps going backwards) are removed and
counted in the artefact's `dropped`.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthese import artefacts
from synthese.artefacts import SourceFile, Transcript
from synthese.config import Config, Session
from synthese.errors import InputError, SyntheseError
from synthese.importers import Segment, import_transcript, is_transcript_file
from synthese.storage import file_hash, hash_of, read_json, write_json
from synthese.textnorm import normalise, wer  # noqa: F401 - wer is part of this module's API

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CHECKPOINT_SCHEMA = "synthese.transcribe-checkpoint/1"
MAX_BLOCK_S = 300.0  # longest audio handed to Whisper at once: bounds the features in memory
LANGUAGE_CHECK_S = 60.0  # of the replay's start, where the language is checked
SILENT_PEAK = 1e-4  # -80 dBFS: below this everywhere, the file holds no sound (real quiet replays peak near -48)
# Whisper's own thresholds for its failure modes (openai/whisper transcribe.py).
COMPRESSION_RATIO_MAX = 2.4
NO_SPEECH_PROB_MIN = 0.6
AVG_LOGPROB_MAX = -1.0
# Captions that Whisper learned from subtitled videos and writes into silences, in French.
SILENCE_PHRASES = ("amara org", "sous titres réalisés par", "sous titrage st 501", "merci d avoir regardé")
HINTS_MAX_CHARS = 600  # about 150–200 Whisper tokens of French: well under the 224-token prompt limit


@dataclass
class Dropped:
    repetition: int = 0
    silence: int = 0
    backwards: int = 0


@dataclass
class AsrResult:
    segments: list[Segment]
    duration_s: float
    language: str | None
    language_probability: float | None
    dropped: Dropped = field(default_factory=Dropped)
    warnings: list[str] = field(default_factory=list)
    source_sha256: str = ""  # hashed once: a replay can be GBs


def vocabulary_hints(config: Config, session: Session | None) -> str:
    """A short prompt that primes Whisper with the names and words of the cycle.

    Names of people and organisations and the theme vocabulary are what a general model gets
    wrong most; "" when `transcribe.vocabulary_hints` is off.
    """
    if not config.transcribe.vocabulary_hints:
        return ""
    parts = [config.cycle.title]
    if session is not None:
        people = [", ".join(x for x in (s.name, s.organisation) if x) for s in session.speakers]
        parts += [session.title, *people]
    parts.append(", ".join(theme.label for theme in config.themes))
    keywords = [k for theme in config.themes for k in theme.keywords[:3]]
    parts.append(", ".join(dict.fromkeys(keywords)))
    text = ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip()) + "."
    if len(text) > HINTS_MAX_CHARS:
        text = text[:HINTS_MAX_CHARS].rsplit(" ", 1)[0].rstrip(",") + "."
    return text


# --- audio ------------------------------------------------------------------------------------

def _ogg_ending_problem(path: Path) -> str | None:
    """Why an Ogg file looks cut short, or None. FFmpeg decodes a truncated Ogg silently, but a
    complete one ends with a whole page carrying the end-of-stream flag."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(0, size - 70_000))  # a page is at most 65,307 bytes
        tail = handle.read()
    start = tail.rfind(b"OggS")
    if start < 0 or len(tail) - start < 27:
        return "no complete Ogg page at its end"
    header_type, segment_count = tail[start + 5], tail[start + 26]
    lacing = tail[start + 27:start + 27 + segment_count]
    page_end = start + 27 + segment_count + sum(lacing)
    if len(lacing) < segment_count or page_end > len(tail):
        return "its last Ogg page is cut off"
    if not header_type & 0x04:
        return "it has no end-of-stream mark"
    return None


def _open_media(path: Path):
    """The PyAV container of a replay and its audio stream, or an InputError saying what is wrong."""
    import av

    if not path.is_file():
        raise InputError(f"{path}: file not found. Check the path.")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty (0 bytes). Copy or export the recording again.")
    not_media = InputError(
        f"{path.name}: not an audio or video file, or a damaged one (no decoder can read it). Check "
        "that it is the replay, or convert it to .mp3, .m4a, .ogg, .wav or .mp4."
    )
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise not_media from None
    if not container.streams.audio:
        is_video = bool(container.streams.video)
        container.close()
        if is_video:
            raise InputError(f"{path.name}: the video has no audio track. Export the replay with its sound.")
        raise not_media
    return container, container.streams.audio[0]


def decode_audio(path: Path) -> Generator[np.ndarray, None, int]:
    """The sound of any audio or video file as 16 kHz mono float32 chunks, decoded as they are
    read: memory holds one chunk, never the recording (four hours would be 0.9 GB). Returns the
    number of damaged packets skipped.

    A file that is cut short or damaged raises InputError after its last chunk; `check_audio`
    runs this once before the long work so that the error comes first.
    """
    import av

    path = Path(path)
    container, stream = _open_media(path)
    declared_s = container.duration / 1_000_000 if container.duration else None
    # Frames of one second: per-frame overhead would otherwise dominate (an MP3 frame is 72 ms).
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE, frame_size=SAMPLE_RATE)
    decoded, bad_packets = 0, 0
    with container:
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    bad_packets += 1  # an isolated damaged packet is skipped, as players do
                    continue
                for frame in frames:
                    for resampled in resampler.resample(frame):
                        samples = resampled.to_ndarray().reshape(-1)
                        decoded += len(samples)
                        yield samples
            for resampled in resampler.resample(None):
                samples = resampled.to_ndarray().reshape(-1)
                decoded += len(samples)
                yield samples
        except av.error.FFmpegError as exc:
            raise InputError(f"{path.name}: the file is truncated or corrupt ({exc}). "
                             "Download or export the recording again.") from None
    decoded_s = decoded / SAMPLE_RATE
    if decoded == 0:
        problem = "no sound could be decoded"
    elif bad_packets > 10:
        problem = f"{bad_packets} damaged packets"
    elif declared_s and decoded_s < declared_s * 0.98 - 0.5:
        problem = f"the sound stops at {decoded_s:.1f} s of {declared_s:.1f} s"
    else:
        problem = _ending_problem(path)
    if problem:
        raise InputError(f"{path.name}: the file is truncated or corrupt ({problem}). "
                         "Download or export the recording again.")
    return bad_packets


@dataclass(frozen=True)
class AudioCheck:
    samples: int  # at 16 kHz
    peak: float  # loudest absolute sample
    damaged_packets: int = 0  # skipped, as players do: a few milliseconds of sound each

    @property
    def duration_s(self) -> float:
        return self.samples / SAMPLE_RATE


def check_audio(path: Path) -> AudioCheck:
    """Decode the whole file once, keeping nothing: its exact length and loudest sample, or the
    InputError that would otherwise come at the end of a long transcription. Decoding is cheap
    next to Whisper: an hour of Ogg Vorbis takes about 11 s on 2 cores."""
    samples, peak = 0, 0.0
    chunks = decode_audio(path)
    while True:
        try:
            chunk = next(chunks)
        except StopIteration as end:
            return AudioCheck(samples, peak, damaged_packets=end.value)
        samples += len(chunk)
        if len(chunk):
            peak = max(peak, float(np.abs(chunk).max()))


def load_audio(path: Path, *, max_s: float | None = None) -> np.ndarray:
    """The file's sound as one 16 kHz mono float32 array (only its first max_s seconds if given):
    for short clips. Long replays go through `audio_blocks`, which never holds them whole."""
    chunks, length = [], 0
    for chunk in decode_audio(path):
        chunks.append(chunk)
        length += len(chunk)
        if max_s is not None and length >= max_s * SAMPLE_RATE:
            break  # closes the decoder: the rest of the file is not read
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return audio if max_s is None else audio[: int(max_s * SAMPLE_RATE)]


def _quiet_cut(audio: np.ndarray, target: int, search: int) -> int:
    """Index of the middle of the quietest 100 ms in audio[target - search:target]."""
    frame = SAMPLE_RATE // 10
    window = audio[target - search:target]
    energy = np.square(window[: len(window) // frame * frame].reshape(-1, frame)).mean(axis=1)
    return target - search + int(np.argmin(energy)) * frame + frame // 2


def audio_blocks(chunks: Iterable[np.ndarray], block_s: float, start: int = 0) -> Iterator[tuple[int, np.ndarray]]:
    """Regroup decoded chunks into blocks of about block_s seconds, each cut at the quietest
    100 ms of the 5 s (at most half a block) before its target length, so that no word is split
    between blocks. Yields (index of the block's first sample, block); the samples before
    `start` are skipped. Memory holds at most one block and the search window after it."""
    frame = SAMPLE_RATE // 10
    block = max(int(block_s * SAMPLE_RATE), 2 * frame)
    search = max(frame, min(5 * SAMPLE_RATE, block // 2) // frame * frame)
    pending: list[np.ndarray] = []
    pending_samples, position, begin = 0, 0, start
    for chunk in chunks:
        if position + len(chunk) <= start:
            position += len(chunk)
            continue
        if position < start:
            chunk, position = chunk[start - position:], start
        pending.append(chunk)
        pending_samples += len(chunk)
        position += len(chunk)
        while pending_samples > block + search:
            audio = np.concatenate(pending)
            cut = _quiet_cut(audio, block, search)
            yield begin, audio[:cut]
            begin += cut
            pending, pending_samples = [audio[cut:]], len(audio) - cut
    if pending_samples:
        yield begin, np.concatenate(pending)


def _wav_ending_problem(path: Path) -> str | None:
    """Why a WAV file looks cut short, or None: its header says how long the sound is."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(12)
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return "it has no sound data"
            chunk_id, chunk_size = header[:4], int.from_bytes(header[4:], "little")
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF mean "unknown length" (a recording that was streamed).
                if chunk_size not in (0, 0xFFFFFFFF) and handle.tell() + chunk_size > size:
                    return f"{size - handle.tell()} of {chunk_size} bytes of sound"
                return None
            handle.seek(chunk_size + chunk_size % 2, 1)


def _ending_problem(path: Path) -> str | None:
    """Formats whose truncation FFmpeg does not report: check their ending ourselves."""
    with open(path, "rb") as handle:
        magic = handle.read(12)
    if magic[:4] == b"OggS":
        return _ogg_ending_problem(path)
    if magic[:4] == b"RIFF" and magic[8:12] == b"WAVE":
        return _wav_ending_problem(path)
    return None


# --- Whisper's failure modes ------------------------------------------------------------------

def compression_ratio(text: str) -> float:
    """How well the text compresses: a loop of one phrase compresses far better than speech."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def collapse_repetitions(text: str, min_repeats: int = 3) -> str:
    """A phrase of 1–8 words said `min_repeats` times or more in a row is kept once."""
    words = text.split()
    changed = True
    while changed:
        changed = False
        for size in range(1, 9):
            i = 0
            while i + size * min_repeats <= len(words):
                unit = [normalise(w) for w in words[i:i + size]]
                repeats = 1
                while [normalise(w) for w in words[i + repeats * size:i + (repeats + 1) * size]] == unit:
                    repeats += 1
                if repeats >= min_repeats and any(unit):
                    del words[i + size:i + repeats * size]
                    changed = True
                i += 1
    return " ".join(words)


def clean_segments(raw: list[Segment], scores: list[tuple[float, float]], dropped: Dropped,
                   after_s: float = 0.0) -> list[Segment]:
    """Remove or repair what Whisper makes up; `scores` are (no_speech_prob, avg_logprob).

    - repetition loops are collapsed to one occurrence, or dropped when still loop-like;
    - text in silence (high no-speech probability and low confidence, or a known caption that
      Whisper writes into silences) is dropped;
    - a segment starting before the previous one ends is moved after it, or dropped when it
      lies entirely before (timestamps going backwards).
    """
    kept: list[Segment] = []
    last_end = after_s
    for segment, (no_speech_prob, avg_logprob) in zip(raw, scores):
        text = " ".join(segment.text.split())
        if not normalise(text):
            continue
        if no_speech_prob > NO_SPEECH_PROB_MIN and avg_logprob < AVG_LOGPROB_MAX:
            dropped.silence += 1
            continue
        if any(phrase in normalise(text) for phrase in SILENCE_PHRASES):
            dropped.silence += 1
            continue
        collapsed = collapse_repetitions(text)
        if collapsed != text or compression_ratio(text) > COMPRESSION_RATIO_MAX:
            dropped.repetition += 1
            if compression_ratio(collapsed) > COMPRESSION_RATIO_MAX:
                continue
            text = collapsed
        start, end = segment.start, segment.end
        if end <= last_end:
            dropped.backwards += 1
            continue
        if start < last_end - 0.01:
            dropped.backwards += 1
            start = last_end
        kept.append(Segment(round(start, 3), round(end, 3), text, segment.speaker, segment.words))
        last_end = end
    return kept


# --- checkpoints ------------------------------------------------------------------------------

def _read_checkpoint(checkpoint: Path, source_sha256: str, options_key: str) -> dict[str, Any] | None:
    if not checkpoint.is_file():
        return None
    try:
        data = read_json(checkpoint)
    except SyntheseError:
        data = None
    if not isinstance(data, dict) or data.get("schema") != CHECKPOINT_SCHEMA:
        log.warning("%s: unreadable checkpoint ignored", checkpoint.name)
        return None
    if data.get("source_sha256") != source_sha256 or data.get("options_key") != options_key:
        log.info("%s: checkpoint made from another file or other options; starting over", checkpoint.name)
        return None
    return data


def _write_checkpoint(checkpoint: Path, source_sha256: str, options_key: str, done_s: float,
                      result: AsrResult) -> None:
    write_json(checkpoint, {
        "schema": CHECKPOINT_SCHEMA,
        "source_sha256": source_sha256,
        "options_key": options_key,
        "done_s": round(done_s, 3),
        "language_probability": result.language_probability,
        "segments": [s.as_dict(i) for i, s in enumerate(result.segments)],
        "dropped": vars(result.dropped),
        "warnings": result.warnings,
    })


# --- speech recognition -----------------------------------------------------------------------

def _language_check(model: Any, audio: np.ndarray, language: str, name: str) -> tuple[float | None, str | None]:
    """(probability of the configured language, warning or None), from the first minute of speech.

    With a language given, faster-whisper does not detect it; one extra encoder pass on 30 s of
    speech tells whether the file is in another language than configured.
    """
    try:
        detected, probability, all_probs = model.detect_language(audio=audio, vad_filter=True)
    except (ValueError, IndexError, RuntimeError):  # no speech in the first minute
        return None, None
    configured = dict(all_probs).get(language, 0.0)
    if detected != language and probability >= 0.5:
        return round(configured, 3), (
            f"{name}: the speech sounds like '{detected}' (probability {probability:.2f}), not "
            f"'{language}' as configured: check the file, or set transcribe.language"
        )
    return round(configured, 3), None


def _decode_options(config: Config, hints: str) -> dict[str, Any]:
    options = config.transcribe
    decode: dict[str, Any] = {
        "beam_size": options.beam_size,
        "vad_filter": options.vad,
        "word_timestamps": options.word_timestamps,
        "initial_prompt": hints or None,
        "compression_ratio_threshold": COMPRESSION_RATIO_MAX,
        "no_speech_threshold": NO_SPEECH_PROB_MIN,
        "log_prob_threshold": AVG_LOGPROB_MAX,
    }
    if options.batched:
        # Segment-level timestamps inside each 30 s chunk: finer passages for the tagger.
        decode.update(batch_size=options.batch_size, without_timestamps=False)
    else:
        # Not conditioning on the previous window is what keeps long sequential runs out of loops.
        decode["condition_on_previous_text"] = False
    return decode


def _transcribe_block(pipeline: Any, audio: np.ndarray, language: str | None, decode: dict[str, Any],
                      on_segment: Callable[[float], None] | None = None):
    """Whisper on one block: raw segments, their (no_speech_prob, avg_logprob), the language.

    Segments come lazily; `on_segment` hears how far into the block each one ends.
    """
    segments_iter, info = pipeline.transcribe(audio, language=language, **decode)
    raw, scores = [], []
    for s in segments_iter:
        if on_segment:
            on_segment(s.end)
        words = ([{"start": round(w.start, 3), "end": round(w.end, 3), "word": w.word} for w in s.words]
                 if s.words else None)
        raw.append(Segment(s.start, s.end, s.text, None, words))
        scores.append((s.no_speech_prob, s.avg_logprob))
    return raw, scores, info


def release_free_memory() -> None:
    """Hand the memory freed by the last block back to the system (glibc only; elsewhere a no-op).

    Each block briefly needs hundreds of MB (the voice-activity model runs on the whole block at
    once); glibc keeps much of it after it is freed, and what it kept crept up block after
    block. Trimming after each block brings the process back to the size of the loaded model.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _offset(segment: Segment, offset_s: float) -> Segment:
    words = ([{**w, "start": round(w["start"] + offset_s, 3), "end": round(w["end"] + offset_s, 3)}
              for w in segment.words] if segment.words else None)
    return Segment(segment.start + offset_s, segment.end + offset_s, segment.text, segment.speaker, words)


def transcribe_audio(source: Path, config: Config, *, hints: str, checkpoint: Path | None,
                     quiet: bool = True, model: Any = None) -> AsrResult:
    """Speech to segments with faster-whisper, resuming from `checkpoint` when it matches."""
    from synthese.whisper_model import load_whisper

    options = config.transcribe
    language = options.language if options.language not in ("", "auto") else None
    checked = check_audio(source)
    result = AsrResult([], round(checked.duration_s, 3), language, None, source_sha256=file_hash(source))
    if checked.damaged_packets:
        result.warnings.append(f"{source.name}: {checked.damaged_packets} damaged packet(s) skipped: the sound "
                               "has gaps of a few milliseconds there")
    if checked.peak < SILENT_PEAK:
        result.warnings.append(f"{source.name}: no sound in the recording (silence only): the transcript is empty")
        return result

    if model is None:
        model = load_whisper(options.model, cache_dir=options.model_cache and config.resolve(options.model_cache),
                             compute_type=options.compute_type, cpu_threads=options.cpu_threads,
                             allow_download=options.allow_download)
    decode = _decode_options(config, hints)
    source_sha256 = result.source_sha256
    options_key = hash_of(options.model_dump(mode="json"), decode, language)
    start_s = 0.0
    resumed = _read_checkpoint(checkpoint, source_sha256, options_key) if checkpoint else None
    if resumed:
        start_s = float(resumed["done_s"])
        result.segments = [Segment(s["start"], s["end"], s["text"], s.get("speaker"), s.get("words"))
                           for s in resumed["segments"]]
        result.dropped = Dropped(**resumed["dropped"])
        result.warnings = list(resumed["warnings"])
        result.language_probability = resumed.get("language_probability")
        log.info("%s: resuming after %.0f s already transcribed", source.name, start_s)
    elif language:
        head = load_audio(source, max_s=LANGUAGE_CHECK_S)
        result.language_probability, warning = _language_check(model, head, language, source.name)
        if warning:
            result.warnings.append(warning)

    if options.batched:
        from faster_whisper import BatchedInferencePipeline

        pipeline = BatchedInferencePipeline(model)
    else:
        pipeline = model
    block_s = min(options.checkpoint_every_s, MAX_BLOCK_S)
    # Blocks end a little before their target length (at a quiet moment): count blocks, not seconds.
    blocks_per_checkpoint = max(1, round(options.checkpoint_every_s / block_s))
    progress = _progress_bar(checked.duration_s, start_s, quiet, source.name)
    try:
        blocks = audio_blocks(decode_audio(source), block_s, start=round(start_s * SAMPLE_RATE))
        for number, (begin, block) in enumerate(blocks, start=1):
            offset_s = begin / SAMPLE_RATE
            raw, scores, info = _transcribe_block(
                pipeline, block, language, decode,
                lambda seconds, offset_s=offset_s: progress.update(max(0.0, offset_s + seconds - progress.n)))
            if result.language is None:
                result.language, result.language_probability = info.language, round(info.language_probability, 3)
            after_s = result.segments[-1].end if result.segments else 0.0
            result.segments += clean_segments([_offset(s, offset_s) for s in raw], scores, result.dropped, after_s)
            end = begin + len(block)
            done_s = end / SAMPLE_RATE
            progress.update(max(0.0, done_s - progress.n))
            release_free_memory()
            if checkpoint and end < checked.samples and number % blocks_per_checkpoint == 0:
                _write_checkpoint(checkpoint, source_sha256, options_key, done_s, result)
    finally:
        progress.close()
    if not result.segments:
        result.warnings.append(f"{source.name}: no speech found: the transcript is empty")
    return result


def _progress_bar(total_s: float, done_s: float, quiet: bool, name: str):
    from tqdm import tqdm

    return tqdm(total=round(total_s, 1), initial=round(done_s, 1), unit="s audio", desc=name,
                file=sys.stderr, disable=quiet or not sys.stderr.isatty(), leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")


# --- the stage --------------------------------------------------------------------------------

def _artefact_segments(segments: list[Segment]) -> list[artefacts.Segment]:
    result = []
    for index, s in enumerate(segments):
        words = [artefacts.Word(start=w["start"], end=w["end"], text=str(w.get("word", w.get("text", ""))).strip(),
                                p=w.get("probability", w.get("p")))
                 for w in s.words or []]
        result.append(artefacts.Segment(id=index, start=round(s.start, 3), end=round(s.end, 3), text=s.text,
                                        speaker=s.speaker, words=words))
    return result


def transcribe(source: Path, config: Config, session: Session | None = None, *,
               checkpoint: Path | None = None, quiet: bool = True) -> Transcript:
    """Transcribe a replay (audio or video), or import an existing transcript (VTT, SRT, TXT,
    DOCX, JSON). A long transcription resumes from `checkpoint` when given."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: file not found. Check the path.")
    if is_transcript_file(source):
        imported = import_transcript(source)
        segments, warnings = imported.segments, imported.warnings
        transcript = Transcript(
            options={"import": imported.kind},
            source=SourceFile(file=source.name, sha256=file_hash(source), kind=imported.kind),
            language=imported.language or config.transcribe.language or None,
            duration_s=round(max((s.end for s in segments), default=0.0), 3),
            dropped=vars(Dropped()),
        )
    else:
        from synthese.whisper_model import model_description

        hints = vocabulary_hints(config, session)
        result = transcribe_audio(source, config, hints=hints, checkpoint=checkpoint, quiet=quiet)
        segments, warnings = result.segments, result.warnings
        transcript = Transcript(
            options={**config.transcribe.model_dump(mode="json"), "initial_prompt": hints or None},
            source=SourceFile(file=source.name, sha256=result.source_sha256, kind="audio"),
            language=result.language,
            language_probability=result.language_probability,
            duration_s=result.duration_s,
            model=model_description(config.transcribe.model, config.transcribe.compute_type),
            dropped=vars(result.dropped),
        )
    if session is not None and len(session.speakers) == 1 and not any(s.speaker for s in segments):
        # One declared speaker: every word is theirs.
        for segment in segments:
            segment.speaker = session.speakers[0].name
    for warning in warnings:
        log.warning("%s", warning)
    transcript.segments = _artefact_segments(segments)
    transcript.warnings = warnings
    return transcript
