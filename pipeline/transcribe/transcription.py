"""Stage 1, transcribe: a replay (audio or video) or an existing transcript to `<stem>.transcript.json`.

Audio is decoded to 16 kHz mono as it is read (audio.py) and transcribed by faster-whisper in
blocks of a few minutes, cut in the quietest moment near each block end (asr.py decodes a
block: batched windows, checks, the coverage audit). Only one block is in memory at a time, so
a four-hour replay needs no more memory than a short one; a first decoding pass, keeping
nothing, checks the whole file before the long work. Blocks drive the progress bar and the
checkpoint: after a crash or Ctrl-C, the next run skips the blocks already done.

The transcript keeps, per segment, its words with their times and probability, and the language
when it is not the session's; speech that could not be turned into words is listed in `gaps`
and logged, never dropped silently. Diarization then gives each segment and word its voice.
Whisper is given the session's title, names and organisations as its prompt; what it wrote of
them is kept only where it hears them without the prompt too (hints.py: each stretch decoded
again is listed in `hint_checks`), and afterwards the names heard nearly right are written as
declared (spellings.py: each change is listed in `spelling_fixes`).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core import artefacts
from ..core.artefacts import Centroid, Diarization, Gap, HintCheck, SourceFile, Transcript, VoiceCentroids
from ..core.config import Config, Session
from ..core.errors import InputError
from ..core.storage import file_hash, hash_of
from ..core.textnorm import (
    normalise,
    wer,  # noqa: F401 - wer is part of this module's API
)
from ..core.typography import timestamp
from .asr import (  # noqa: F401 - the guards are part of this module's API
    BlockDecoder,
    BlockResult,
    DecodeSettings,
    DecodeStats,
    Dropped,
    clean_segments,
    collapse_repetitions,
    compression_ratio,
)
from .audio import (  # noqa: F401 - re-exported: the stage's audio helpers
    SAMPLE_RATE,
    SILENT_PEAK,
    audio_blocks,
    check_audio,
    decode_audio,
    load_audio,
    release_free_memory,
)
from .checkpoint import read_checkpoint, segments_from, write_checkpoint
from .importers import import_transcript, is_transcript_file
from .segments import Segment
from .spellings import apply_spellings

log = logging.getLogger(__name__)

# Audio handed to Whisper at once (the last block of a file takes up to a quarter more): bounds
# the features in memory.
MAX_BLOCK_S = 300.0


@dataclass
class AsrResult:
    segments: list[Segment]
    duration_s: float
    language: str | None
    language_probability: float | None
    dropped: Dropped = field(default_factory=Dropped)
    warnings: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    stats: DecodeStats = field(default_factory=DecodeStats)
    source_sha256: str = ""  # hashed once: a replay can be GBs
    hint_checks: list[HintCheck] = field(default_factory=list)


_TITLE_PARTS = re.compile(r"\s*[:;,.()«»–—]\s*")


def declared_spellings(config: Config, session: Session | None) -> list[str]:
    """How the session's names are written, applied after recognition (spellings.py): the parts
    of its title, its speakers' names, surnames and first names, their organisations and the
    cycle's organiser (a name in brackets, "Plan Urbanisme Construction Architecture (Puca)",
    also on its own); none without a session, or when `transcribe.hints` is "none".

    Only words heard nearly as one of them are rewritten, so none is written where nothing like
    it was said: what Whisper did not hear of a name (it also gets them as a prompt,
    `hints_prompt`) is written as declared where it heard it nearly so.
    """
    if config.transcribe.hints == "none" or session is None:
        return []
    parts = _TITLE_PARTS.split(session.title)
    for name in [config.cycle.organiser, *(s.organisation for s in session.speakers)]:
        parts += [re.sub(r"\s*\([^)]*\)", "", name or ""), *re.findall(r"\(([^)]*)\)", name or "")]
    for speaker in session.speakers:
        words = speaker.name.split()
        parts += [speaker.name, *([" ".join(words[1:]), words[0]] if len(words) > 1 else [])]
    return [p for p in dict.fromkeys(" ".join(p.split()) for p in parts) if p]


def hints_prompt(config: Config, session: Session | None) -> str | None:
    """Whisper's prompt: the parts of the session's title, the cycle's organiser, the speakers'
    names and organisations, those holding a codebook keyword left out (a keyword in the prompt
    is written where it was not said), at most 400 characters; None without a session, or when
    `transcribe.hints` is "none".

    With it Whisper spells the names right and hears the title's words (without it, "Séance" said
    ten times in the sample session was written "C'est en se"), but it also wrote it as speech
    where something else was said: the decoder checks every hint word it wrote against a decoding
    without the prompt (hints.py).
    """
    if config.transcribe.hints == "none" or session is None:
        return None
    keywords = [normalise(k) for theme in config.themes for k in theme.all_keywords]

    def mentions(text: str) -> bool:
        padded = f" {normalise(text)} "
        return any(f" {keyword} " in padded for keyword in keywords if keyword)

    parts = _TITLE_PARTS.split(session.title) + [config.cycle.organiser]
    for speaker in session.speakers:
        parts += [speaker.name, speaker.organisation]
    kept = [p.strip() for p in dict.fromkeys(parts) if p and p.strip() and not mentions(p)]
    text = ", ".join(kept)
    if len(text) > 400:
        text = text[:400].rsplit(",", 1)[0]
    return text + "." if text else None


def decode_settings(config: Config, session: Session | None = None) -> DecodeSettings:
    """The decoder's settings from `transcribe:` in config.yaml, with the session's names and
    title as Whisper's prompt (`hints_prompt`), checked against a decoding without it."""
    options = config.transcribe
    return DecodeSettings(
        language=options.language if options.language not in ("", "auto") else None,
        beam_size=options.beam_size, batch_size=options.batch_size, batched=options.batched,
        prompt=hints_prompt(config, session), check_windows=True, audit=options.vad, check_hints=True)


# --- speech recognition -----------------------------------------------------------------------

def _language_check(heard: dict[str, float], language: str, name: str) -> tuple[float, str | None]:
    """(probability of the configured language, warning or None), from the detector's verdict on
    the first window of speech (up to 30 s), which the decoder computes anyway.

    A replay entirely in another language (a wrong file, or a wrong setting) is worth a warning;
    a passage in another language is transcribed in it and marked, not warned about.
    """
    detected = max(heard, key=heard.__getitem__)
    configured = heard.get(language, 0.0)
    if detected != language and heard[detected] >= 0.5:
        return round(configured, 3), (
            f"{name}: the speech sounds like '{detected}' (probability {heard[detected]:.2f}), not "
            f"'{language}' as configured: check the file, or set transcribe.language"
        )
    return round(configured, 3), None


def _decode_block(decoder: BlockDecoder, block: np.ndarray, on_progress: Callable[[float], None]) -> BlockResult:
    return decoder.decode(block, on_progress)


def _report_gap(name: str, gap: Gap) -> None:
    why = ("it sounds like another language and nothing could be decoded" if gap.reason == "other_language"
           else "the voice detector heard speech but nothing could be decoded, even alone")
    log.warning("%s: no transcript for %s–%s (%s): recorded as a gap; listen to it and complete the "
                "transcript by hand if needed", name, timestamp(gap.start), timestamp(gap.end), why)


def transcribe_audio(source: Path, config: Config, *, checkpoint: Path | None, session: Session | None = None,
                     quiet: bool = True, model: Any = None, settings: DecodeSettings | None = None) -> AsrResult:
    """Speech to segments with faster-whisper, resuming from `checkpoint` when it matches; the
    session's names and title are Whisper's prompt.

    `settings` replaces the decoder settings drawn from the configuration (for benchmarks).
    """
    from .whisper_model import load_whisper

    options = config.transcribe
    settings = settings or decode_settings(config, session)
    language = settings.language
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
    source_sha256 = result.source_sha256
    options_key = hash_of(options.model_dump(mode="json"), settings.as_dict())
    start_s = 0.0
    resumed = read_checkpoint(checkpoint, source_sha256, options_key) if checkpoint else None
    if resumed:
        start_s = float(resumed["done_s"])
        result.segments = segments_from(resumed["segments"])
        result.gaps = [Gap.model_validate(g) for g in resumed.get("gaps", [])]
        result.hint_checks = [HintCheck.model_validate(c) for c in resumed.get("hint_checks", [])]
        result.dropped = Dropped(**resumed["dropped"])
        result.warnings = list(resumed["warnings"])
        result.language = resumed.get("language", result.language)
        result.language_probability = resumed.get("language_probability")
        log.info("%s: resuming after %.0f s already transcribed", source.name, start_s)
    checked_language = bool(resumed) or not language

    if result.language and not settings.language:
        settings = dataclasses.replace(settings, language=result.language)
    decoder = BlockDecoder(model, settings)
    block_s = min(options.checkpoint_every_s, MAX_BLOCK_S)
    # Blocks end a little before their target length (at a quiet moment): count blocks, not seconds.
    blocks_per_checkpoint = max(1, round(options.checkpoint_every_s / block_s))
    progress = _progress_bar(checked.duration_s, start_s, quiet, source.name)
    try:
        blocks = audio_blocks(decode_audio(source), block_s, start=round(start_s * SAMPLE_RATE))
        for number, (begin, block) in enumerate(blocks, start=1):
            offset_s = begin / SAMPLE_RATE

            def advance(seconds: float, offset_s: float = offset_s) -> None:
                progress.update(max(0.0, offset_s + seconds - progress.n))

            decoded = _decode_block(decoder, block, advance)
            if not checked_language and language and decoded.first_window_languages:
                checked_language = True
                result.language_probability, warning = _language_check(decoded.first_window_languages, language,
                                                                        source.name)
                if warning:
                    result.warnings.append(warning)
            if result.language is None and decoded.language:
                result.language, result.language_probability = decoded.language, decoded.language_probability
                settings = dataclasses.replace(settings, language=result.language)
                decoder = BlockDecoder(model, settings)
            after_s = result.segments[-1].end if result.segments else 0.0
            result.segments += clean_segments([s.shifted(offset_s) for s in decoded.segments], None,
                                              result.dropped, after_s)
            for gap in decoded.gaps:
                gap = Gap(start=round(gap.start + offset_s, 3), end=round(gap.end + offset_s, 3), reason=gap.reason)
                _report_gap(source.name, gap)
                result.gaps.append(gap)
            result.hint_checks += [check.model_copy(update={"start": round(check.start + offset_s, 3),
                                                            "end": round(check.end + offset_s, 3)})
                                   for check in decoded.hint_checks]
            result.stats.add(decoded.stats)
            for name, count in vars(decoded.dropped).items():
                setattr(result.dropped, name, getattr(result.dropped, name) + count)
            end = begin + len(block)
            done_s = end / SAMPLE_RATE
            progress.update(max(0.0, done_s - progress.n))
            release_free_memory()
            if checkpoint and end < checked.samples and number % blocks_per_checkpoint == 0:
                write_checkpoint(checkpoint, source_sha256, options_key, done_s, {
                    "language": result.language, "language_probability": result.language_probability,
                    "segments": [s.as_dict(i) for i, s in enumerate(result.segments)],
                    "gaps": [g.model_dump() for g in result.gaps], "dropped": vars(result.dropped),
                    "hint_checks": [c.model_dump() for c in result.hint_checks],
                    "warnings": result.warnings})
    finally:
        progress.close()
    log.info("%s: %d windows, %d decoded again after a failed check, %d in another language, %d utterances "
             "holding hint words decoded again without the prompt (%d not heard so: the prompt's text replaced), "
             "%d stretches of speech without words decoded again (%d gave words), %d gap(s)", source.name,
             result.stats.windows, result.stats.failed_check, result.stats.other_language, result.stats.hint_checked,
             result.stats.hint_echoes, result.stats.holes, result.stats.recovered, len(result.gaps))
    if result.gaps:
        seconds = sum(g.end - g.start for g in result.gaps)
        result.warnings.append(f"{source.name}: {len(result.gaps)} passage(s) of speech ({seconds:.0f} s) could "
                               "not be transcribed: see `gaps` in the transcript")
    if not result.segments:
        result.warnings.append(f"{source.name}: no speech found: the transcript is empty")
    return result


def _progress_bar(total_s: float, done_s: float, quiet: bool, name: str):
    from tqdm import tqdm

    return tqdm(total=round(total_s, 1), initial=round(done_s, 1), unit="s audio", desc=name,
                file=sys.stderr, disable=quiet or not sys.stderr.isatty(), leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")


def languages_spoken(segments: list[artefacts.Segment], language: str | None) -> dict[str, float]:
    """Seconds of speech per language (the segments' durations), the transcript's first."""
    seconds: dict[str, float] = {language: 0.0} if language else {}
    for segment in segments:
        code = segment.lang or language
        if code:
            seconds[code] = seconds.get(code, 0.0) + segment.end - segment.start
    return {code: round(value, 1) for code, value in seconds.items()}


# --- the stage --------------------------------------------------------------------------------

def artefact_segments(segments: list[Segment]) -> list[artefacts.Segment]:
    """The recogniser's segments as the transcript's (numbered from 0)."""
    result = []
    for index, s in enumerate(segments):
        words = [artefacts.Word(start=w.start, end=w.end, text=w.text.strip(), p=w.p) for w in s.words or []]
        result.append(artefacts.Segment(id=index, start=round(s.start, 3), end=round(s.end, 3), text=s.text,
                                        speaker=s.speaker, lang=s.lang, words=words))
    return result


def transcribe(source: Path, config: Config, session: Session | None = None, *,
               checkpoint: Path | None = None, quiet: bool = True) -> Transcript:
    """Transcribe a replay (audio or video), or import an existing transcript (VTT, SRT, TXT,
    DOCX, JSON). A long transcription resumes from `checkpoint` when given."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: file not found. Check the path.")
    spellings = declared_spellings(config, session)
    if is_transcript_file(source):
        imported = import_transcript(source)
        segments, warnings = imported.segments, imported.warnings
        gaps = [Gap(**gap) for gap in imported.gaps]
        transcript = Transcript(
            options={"import": imported.kind},
            source=SourceFile(file=source.name, sha256=file_hash(source), kind=imported.kind),
            language=imported.language or config.transcribe.language or None,
            duration_s=round(max((s.end for s in segments), default=0.0), 3),
            dropped=vars(Dropped()),
        )
    else:
        from .whisper_model import model_description

        result = transcribe_audio(source, config, checkpoint=checkpoint, session=session, quiet=quiet)
        segments, warnings = result.segments, result.warnings
        gaps = result.gaps
        transcript = Transcript(
            # Whisper's prompt, checked (hint_checks); the declared spellings applied after recognition.
            options={**config.transcribe.model_dump(mode="json"), "initial_prompt": hints_prompt(config, session),
                     "spellings": spellings},
            source=SourceFile(file=source.name, sha256=result.source_sha256, kind="audio"),
            language=result.language,
            language_probability=result.language_probability,
            duration_s=result.duration_s,
            model=model_description(config.transcribe.model, config.transcribe.compute_type),
            dropped=vars(result.dropped),
            hint_checks=result.hint_checks,
        )
    transcript.segments = artefact_segments(segments)
    transcript.gaps = gaps
    transcript.languages = languages_spoken(transcript.segments, transcript.language)
    if transcript.source.kind == "audio" and config.diarize.enabled and transcript.segments:
        declared = len(session.speakers) if session is not None else 0
        transcript.segments, transcript.diarization = who_spoke(source, transcript.segments, config, declared,
                                                                quiet=quiet)
        heard = transcript.diarization.heard
        if declared and heard != declared:
            warnings.append(f"{source.name}: {_voices(heard)} heard, {declared} speaker(s) declared in "
                            "config.yaml: check the session's speakers, or set diarize.speakers")
    if transcript.source.kind == "audio":  # an imported transcript is written as people wrote it
        transcript.segments, transcript.spelling_fixes = apply_spellings(transcript.segments, spellings)
        if transcript.spelling_fixes:
            log.info("%s: %d name(s) heard nearly as declared, written as declared (spelling_fixes in the "
                     "transcript)", source.name, len(transcript.spelling_fixes))
    for warning in warnings:
        log.warning("%s", warning)
    transcript.warnings = warnings
    return transcript


def _voices(count: int) -> str:
    return f"{count} voice" + ("s" if count > 1 else "")


def who_spoke(source: Path, segments: list[artefacts.Segment], config: Config, declared: int, *,
              quiet: bool = True) -> tuple[list[artefacts.Segment], Diarization]:
    """Speaker labels ("Intervenant 1"… in order of first appearance) for the segments and words
    of a recording: its voices found by diarize.py, as many as `declared` when the settings say
    so. Names come only from people (the review file's `speakers:`, or a voice profile made by
    naming the voice in another session), never from here. With `voices.remember` on, the
    record keeps each voice's centroids, which voice profiles are learned from and matched
    against without transcribing again."""
    from .diarize import DiarizeSettings, assign_speakers, diarize_file

    options = config.diarize
    progress = _progress_bar(float(segments[-1].end), 0.0, quiet, f"{source.name} (voix)")
    try:
        result = diarize_file(source, num_speakers=options.voices_to_find(declared), max_speakers=options.max_speakers,
                              label_format=config.templates.wording()["speaker_label"],
                              settings=DiarizeSettings(model=options.model),
                              progress=lambda done_s: progress.update(max(0.0, done_s - progress.n)))
    finally:
        progress.close()
    revised = [s.model_copy(update={"id": i}) for i, s in enumerate(assign_speakers(segments, result.turns))]
    summary = Diarization(speakers_found=result.speakers_found, estimated_speakers=result.estimated_speakers,
                          requested=result.requested, declared=declared, model=options.model,
                          seconds_of_speech=round(result.seconds_of_speech, 1),
                          same_voice_cosine=result.options.get("same_speaker_cosine"),
                          voices=voice_records(result.voices) if config.voices.remember else [])
    return revised, summary


def voice_records(voices: list[Any]) -> list[VoiceCentroids]:
    """The diarization's voices and centroids (diarize.Voice) as the transcript records them."""
    return [VoiceCentroids(label=v.label, seconds=v.seconds,
                           centroids=[Centroid(start=c.start, end=c.end, vector=[round(float(x), 5) for x in c.vector])
                                      for c in v.centroids])
            for v in voices]
