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

import logging
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthese import artefacts
from synthese.audio import (
    SAMPLE_RATE,
    SILENT_PEAK,
    audio_blocks,
    check_audio,
    decode_audio,
    load_audio,
    release_free_memory,
)
from synthese.artefacts import SourceFile, Transcript
from synthese.config import Config, Session
from synthese.errors import InputError, SyntheseError
from synthese.importers import Segment, import_transcript, is_transcript_file
from synthese.storage import file_hash, hash_of, read_json, write_json
from synthese.textnorm import normalise, wer  # noqa: F401 - wer is part of this module's API

log = logging.getLogger(__name__)

CHECKPOINT_SCHEMA = "synthese.transcribe-checkpoint/1"
MAX_BLOCK_S = 300.0  # longest audio handed to Whisper at once: bounds the features in memory
LANGUAGE_CHECK_S = 60.0  # of the replay's start, where the language is checked
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
    transcript.segments = _artefact_segments(segments)
    if transcript.source.kind == "audio" and config.diarize.enabled and transcript.segments:
        declared = len(session.speakers) if session is not None else 0
        transcript.segments, transcript.diarization = who_spoke(source, transcript.segments, config, declared,
                                                                quiet=quiet)
        found = transcript.diarization["speakers_found"]
        estimated = transcript.diarization.get("estimated_speakers") or found
        if declared and estimated != declared:
            warnings.append(f"{source.name}: {_voices(estimated)} heard, {declared} speaker(s) declared in "
                            "config.yaml: check the session's speakers, or set diarize.speakers")
    for warning in warnings:
        log.warning("%s", warning)
    transcript.warnings = warnings
    return transcript


def _voices(count: int) -> str:
    return f"{count} voice" + ("s" if count > 1 else "")


def who_spoke(source: Path, segments: list[artefacts.Segment], config: Config, declared: int, *,
              quiet: bool = True) -> tuple[list[artefacts.Segment], dict[str, Any]]:
    """Speaker labels ("Intervenant 1"… in order of first appearance) for the segments and words
    of a recording: its voices found by diarize.py, as many as `declared` when the settings say
    so. Names come only from people (the review file's `speakers:`), never from here."""
    from synthese.diarize import DiarizeSettings, assign_speakers, diarize_file

    options = config.diarize
    progress = _progress_bar(float(segments[-1].end), 0.0, quiet, f"{source.name} (voix)")
    try:
        result = diarize_file(source, num_speakers=options.voices_to_find(declared), max_speakers=options.max_speakers,
                              label_format=config.templates.wording()["speaker_label"],
                              settings=DiarizeSettings(model=options.model),
                              progress=lambda done_s: progress.update(max(0.0, done_s - progress.n)))
    finally:
        progress.close()
    labelled = assign_speakers([s.model_dump() for s in segments], result.turns)
    revised = [artefacts.Segment.model_validate({**s, "id": i}) for i, s in enumerate(labelled)]
    summary = {"speakers_found": result.speakers_found, "estimated_speakers": result.estimated_speakers,
               "requested": result.requested, "declared": declared, "model": options.model,
               "seconds_of_speech": round(result.seconds_of_speech, 1)}
    return revised, summary
