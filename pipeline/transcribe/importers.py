"""Existing transcripts in, segments out: WebVTT, SRT, plain text, DOCX and our own JSON.

Staff often already have a transcript (captions exported by Zoom or Teams, a text typed in Word):
importing it skips speech recognition. Each importer returns the same `ImportedTranscript`.
Cue text is data: markup tags are removed (a WebVTT voice tag `<v Name>` first gives the speaker)
and nothing in the text is interpreted further.
"""

from __future__ import annotations

import codecs
import functools
import html
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import limits
from ..core.errors import InputError
from ..core.typography import format_timestamp
from .segments import Segment, Word

log = logging.getLogger(__name__)

TRANSCRIPT_SUFFIXES = (".vtt", ".srt", ".txt", ".docx", ".json")
WORDS_PER_SECOND = 2.5  # speaking rate used to give times to a transcript that has none
TRANSCRIPT_SCHEMAS = ("synthese.transcript/1", "synthese.transcript/2")


def is_transcript_file(path: Path) -> bool:
    """True for an existing transcript (.vtt .srt .txt .docx .json) rather than a recording."""
    return Path(path).suffix.lower() in TRANSCRIPT_SUFFIXES


@dataclass
class ImportedTranscript:
    kind: str  # vtt, srt, txt, docx, json
    segments: list[Segment]
    warnings: list[str] = field(default_factory=list)
    language: str | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)  # speech left untranscribed (our own JSON)


# --- time stamps ------------------------------------------------------------------------------

_CUE_TIME = r"(?:(\d+):)?([0-5]?\d):([0-5]\d)[.,](\d{1,3})"
_CUE_TIMING = re.compile(rf"^\s*{_CUE_TIME}\s*-->\s*{_CUE_TIME}(?:\s+.*)?$")
_MARKER_TIME = re.compile(r"^\[(?:(\d+):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?\]\s*")
# "François Ménard :" or "Zoé: " at the start of a paragraph or cue: the speaker's name, if
# `_speaker_names` agrees.
_NAME_PREFIX = re.compile(
    r"^(?P<name>[A-ZÀ-ÖØ-Þ][\w.'’-]*(?:\s(?:[A-ZÀ-ÖØ-Þ0-9][\w.'’-]*|de|du|des|d’|d'|van|von|le|la)){0,4})"
    r"\s?:\s+(?P<text>\S.*)$",
    re.DOTALL,
)


@functools.lru_cache(maxsize=1)
def _note_labels() -> frozenset[str]:
    """First words of `Label :` prefixes that open a note, a heading or an aside, not a turn
    (the wording's `note_labels`)."""
    from ..core.resources import TemplateSet

    return frozenset(label.lower() for label in TemplateSet().wording()["note_labels"])


_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    ms = int((fraction or "0").ljust(3, "0"))
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + ms / 1000


# --- text helpers -----------------------------------------------------------------------------

def _read_text(path: Path) -> tuple[str, list[str]]:
    """The file's text (UTF-8, UTF-16 with a byte order mark, else cp1252) without control
    characters, and a warning when some were removed. A file with NUL bytes is not text."""
    data = path.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Notepad's and Word's "Unicode text".
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data:
        raise InputError(f"{path.name}: this is not a text file (it contains NUL bytes, as binary files do). "
                         "Check that it is the transcript; export it again as text.")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Word and older Windows tools save text as cp1252.
            text = data.decode("cp1252", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _without_controls(path.name, text)


def _without_controls(name: str, text: str) -> tuple[str, list[str]]:
    removed = limits.count_controls(text)
    return (limits.strip_controls(text) if removed else text), _controls_warning(name, removed)


def _controls_warning(name: str, removed: int) -> list[str]:
    if not removed:
        return []
    return [f"{name}: {removed} control character(s) removed (invisible characters that no document can hold)"]


def _clean(text: str) -> str:
    """Markup removed, entities decoded, whitespace collapsed: the words only."""
    # Entities are decoded after control characters were removed, so remove again (&#12; is one).
    return " ".join(limits.strip_controls(html.unescape(_TAG.sub("", text))).split())


def _speaker_names(texts: Iterable[str]) -> set[str]:
    """The `Name :` prefixes of a document that name speakers: a name of two words or more
    ("François Ménard"), or a one-word name that opens several turns ("Zoé"), never a label
    that opens a note ("Remarque : …"), which a single capitalised word used once usually is."""
    counts = Counter(match.group("name").strip() for text in texts if (match := _NAME_PREFIX.match(text)))
    return {name for name, count in counts.items()
            if name.split()[0].lower().rstrip(".") not in _note_labels() and (count >= 2 or len(name.split()) >= 2)}


def _split_speaker(text: str, names: set[str]) -> tuple[str | None, str]:
    match = _NAME_PREFIX.match(text)
    if match and match.group("name").strip() in names:
        return match.group("name").strip(), match.group("text").strip()
    return None, text


# --- WebVTT and SRT ---------------------------------------------------------------------------

def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks with the 1-based line number of their first line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            if not current:
                first = number
            current.append(line.rstrip())
        elif current:
            blocks.append((first, current))
            current = []
    if current:
        blocks.append((first, current))
    return blocks


def _timing_error(path: Path, line_number: int, line: str, separator: str) -> InputError:
    example = f"00:01:02{separator}500 --> 00:01:05{separator}000"
    return InputError(
        f"{path.name}, line {line_number}: broken cue timing {limits.quote(line.strip())}: expected "
        f"'{example}'. Fix or remove that cue."
    )


def _parse_timing(path: Path, line_number: int, line: str, separator: str) -> tuple[float, float]:
    match = _CUE_TIMING.match(line)
    if not match:
        raise _timing_error(path, line_number, line, separator)
    start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
    if end < start:
        raise InputError(
            f"{path.name}, line {line_number}: cue ends before it starts ({limits.quote(line.strip())}). "
            "Fix the times of that cue."
        )
    return start, end


def _check_line_lengths(path: Path, text: str) -> None:
    lines = text.split("\n")
    if max(map(len, lines), default=0) > limits.MAX_CAPTION_LINE_CHARS:
        number, line = next((n, line) for n, line in enumerate(lines, start=1)
                            if len(line) > limits.MAX_CAPTION_LINE_CHARS)
        raise InputError(
            f"{path.name}, line {number}: {len(line):,} characters on one line, more than the "
            f"{limits.MAX_CAPTION_LINE_CHARS:,} a caption line may have. Check that it is a caption file; "
            "a text with long paragraphs imports as .txt."
        )


def _parse_cues(path: Path, text: str, separator: str) -> list[Segment]:
    _check_line_lengths(path, text)
    cues: list[tuple[float, float, str | None, str]] = []  # start, end, voice tag, text
    for first, lines in _blocks(text):
        if lines[0].startswith(("WEBVTT", "NOTE", "STYLE", "REGION")) and "-->" not in lines[0]:
            continue  # WebVTT header and comment, style and region blocks
        # The timing is the first line, or the second after a cue identifier (a number in SRT).
        timing_index = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
        if timing_index is None:
            raise _timing_error(path, first, lines[0], separator)
        start, end = _parse_timing(path, first + timing_index, lines[timing_index], separator)
        raw = "\n".join(lines[timing_index + 1:])
        voice = _VOICE.search(raw)
        cues.append((start, end, _clean(voice.group(1)) if voice else None, _clean(raw)))
    names = _speaker_names(text for _, _, voice, text in cues if not voice)
    segments = []
    for start, end, tagged, text in cues:
        speaker, body = (tagged, text) if tagged else _split_speaker(text, names)
        if body:
            segments.append(Segment(start, end, body, speaker))
    return segments


def parse_vtt(path: Path) -> ImportedTranscript:
    """WebVTT as exported by Zoom, Teams or YouTube; `<v Name>` or `Name:` gives the speaker."""
    text, warnings = _read_text(path)
    if not text.lstrip().startswith("WEBVTT"):
        raise InputError(f"{path.name}, line 1: not a WebVTT file (it must start with 'WEBVTT'). "
                         "Export the captions as .vtt again, or rename the file .srt or .txt if it is one.")
    return ImportedTranscript("vtt", _parse_cues(path, text, "."), warnings)


def parse_srt(path: Path) -> ImportedTranscript:
    """SubRip captions; a `Name:` prefix in a cue gives the speaker."""
    text, warnings = _read_text(path)
    return ImportedTranscript("srt", _parse_cues(path, text, ","), warnings)


# --- paragraphs: plain text and DOCX ----------------------------------------------------------

def _from_paragraphs(paragraphs: list[str], kind: str) -> ImportedTranscript:
    """Paragraphs with optional `[hh:mm:ss]` and `Name :` markers to timed segments.

    Paragraphs without a time follow the previous one, lasting their word count at 2.5 words/s.
    """
    marked: list[tuple[float | None, str]] = []
    for paragraph in paragraphs:
        text = " ".join(paragraph.split())
        start = None
        match = _MARKER_TIME.match(text)
        if match:
            start = _seconds(*match.groups())
            text = text[match.end():]
        marked.append((start, text))
    names = _speaker_names(text for _, text in marked)
    entries: list[tuple[float | None, str | None, str]] = []
    speaker: str | None = None
    for start, text in marked:
        named, text = _split_speaker(text, names)
        # A turn goes on until the next name: unmarked paragraphs keep the last speaker.
        speaker = named or speaker
        text = _clean(text)
        if text:
            entries.append((start, speaker, text))
    segments: list[Segment] = []
    warnings: list[str] = []
    if entries and all(start is None for start, _, _ in entries):
        warnings.append(f"no times in the transcript: times estimated from the word count "
                        f"({WORDS_PER_SECOND} words/s)")
    clock = 0.0
    for index, (start, speaker, text) in enumerate(entries):
        begin = start if start is not None else clock
        end = begin + len(text.split()) / WORDS_PER_SECOND
        following = entries[index + 1][0] if index + 1 < len(entries) else None
        if following is not None and following > begin:
            end = following  # the next paragraph's time says when this one ended
        segments.append(Segment(round(begin, 3), round(max(end, begin + 0.001), 3), text, speaker))
        clock = segments[-1].end
    return ImportedTranscript(kind, segments, warnings)


def parse_txt(path: Path) -> ImportedTranscript:
    """Plain text: paragraphs (blank-line separated, else one per line)."""
    text, warnings = _read_text(path)
    if re.search(r"\n\s*\n", text.strip()):
        paragraphs = re.split(r"\n\s*\n", text)
    else:
        paragraphs = text.split("\n")
    transcript = _from_paragraphs(paragraphs, "txt")
    transcript.warnings[:0] = warnings
    return transcript


def parse_docx(path: Path) -> ImportedTranscript:
    """A Word document: one segment per paragraph, with the same markers as plain text."""
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    if not zipfile.is_zipfile(path):
        raise InputError(f"{path.name}: not a Word .docx file (it is not a zip archive). Save it as "
                         ".docx from Word or LibreOffice, or export it as .txt.")
    _check_archive(path)
    try:
        document = Document(str(path))
        paragraphs = [p.text for p in document.paragraphs]
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, LxmlError) as exc:
        # LxmlError: broken XML, or XML entities that expand a few kilobytes into gigabytes
        # (lxml stops them), which Word never writes.
        raise InputError(f"{path.name}: cannot read this Word file ({limits.quote(exc, 200)}). "
                         "Save it again as .docx.") from None
    removed = sum(limits.count_controls(text) for text in paragraphs)
    transcript = _from_paragraphs([limits.strip_controls(text) for text in paragraphs], "docx")
    transcript.warnings[:0] = _controls_warning(path.name, removed)
    return transcript


def _check_archive(path: Path) -> None:
    """Refuse a Word file whose archive holds too many members or too much once uncompressed,
    from the archive's directory, before anything is extracted. (Python's zipfile never inflates
    a member past the size the directory declares, so the declared sizes are the real bound.)"""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"{path.name}: cannot read this Word file ({limits.quote(exc, 200)}). "
                         "Save it again as .docx.") from None
    if len(members) > limits.MAX_DOCX_MEMBERS:
        raise InputError(f"{path.name}: the Word file holds {len(members):,} parts, more than the "
                         f"{limits.MAX_DOCX_MEMBERS:,} a transcript may have. Save it again from Word, or "
                         "export the text as .txt.")
    total = sum(member.file_size for member in members)
    if total > limits.MAX_DOCX_UNCOMPRESSED_BYTES:
        raise InputError(f"{path.name}: the Word file unpacks to {total / 1e6:,.0f} MB, more than the "
                         f"{limits.MAX_DOCX_UNCOMPRESSED_BYTES / 1e6:,.0f} MB a transcript may take. "
                         "Remove its pictures, or export the text as .txt.")


# --- our own JSON -----------------------------------------------------------------------------

def parse_json(path: Path) -> ImportedTranscript:
    """A transcript written by this program (`synthese.transcript/1` or `/2`, possibly corrected by
    hand): segments, their words and language, and the gaps it records."""
    text, warnings = _read_text(path)
    try:
        data = limits.loads_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name}, line {exc.lineno}: not valid JSON ({exc.msg}). Fix the file.") from None
    except limits.JsonLimitError as exc:
        raise InputError(f"{path.name}: not a usable transcript: {exc}. Fix the file.") from None
    if not isinstance(data, dict) or data.get("schema") not in TRANSCRIPT_SCHEMAS:
        raise InputError(f"{path.name}: not a Synthèse transcript (no 'schema': '{TRANSCRIPT_SCHEMAS[-1]}'). "
                         "Import captions as .vtt or .srt, or text as .txt or .docx.")
    items = data.get("segments") or []
    if not isinstance(items, list):
        raise InputError(f"{path.name}: 'segments' must be a list of {{start, end, text}} objects. Fix the file.")
    segments = []
    for index, item in enumerate(items):
        try:
            start, end = float(item["start"]), float(item["end"])
            text = _clean(str(item["text"]))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise InputError(f"{path.name}: segment {index} needs numbers 'start', 'end' and a 'text'. "
                             "Fix that segment.") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0:
            raise InputError(f"{path.name}: segment {index} has times out of range. Fix its times.")
        if end < start:
            raise InputError(f"{path.name}: segment {index} ends before it starts. Fix its times.")
        speaker = item.get("speaker")
        speaker = " ".join(limits.strip_controls(str(speaker)).split()) if speaker else None
        lang = item.get("lang")
        lang = lang if isinstance(lang, str) and re.fullmatch(r"[a-z]{2,3}", lang) else None
        if text:
            segments.append(Segment(start, end, text, speaker or None, _word_timings(item.get("words")), lang))
    language = data.get("language") if isinstance(data.get("language"), str) else None
    return ImportedTranscript("json", segments, warnings, language=language, gaps=_gaps(data.get("gaps")))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _word_timings(words: Any) -> list[Word] | None:
    """Word times `{start, end, text, p}` (schema /2; /1 had the text under "word" with its
    leading space, and "probability"), kept only when every word has a text and numeric times:
    a hand edit that breaks one leaves the segment without word times, never with wrong ones."""
    if not isinstance(words, list):
        return None
    kept = []
    for word in words:
        text = word.get("text", word.get("word")) if isinstance(word, dict) else None
        if not isinstance(text, str) or not all(_number(word.get(k)) for k in ("start", "end")):
            return None
        p = word.get("p", word.get("probability"))
        entry = Word(float(word["start"]), float(word["end"]), limits.strip_controls(text).strip(),
                     float(p) if _number(p) else None)
        if entry.text:
            kept.append(entry)
    return kept or None


def _gaps(items: Any) -> list[dict[str, Any]]:
    """The gaps a transcript of ours records (speech nobody could transcribe), kept on import:
    at most as many as a transcript may have segments (each becomes a line of the annex)."""
    if not isinstance(items, list):
        return []
    kept = [{"start": float(g["start"]), "end": float(g["end"]), "reason": str(g.get("reason") or "undecodable")[:40]}
            for g in items[: limits.MAX_SEGMENTS]
            if isinstance(g, dict) and _number(g.get("start")) and _number(g.get("end")) and g["end"] >= g["start"] >= 0]
    return sorted(kept, key=lambda gap: gap["start"])


IMPORTERS: dict[str, Callable[[Path], ImportedTranscript]] = {
    ".vtt": parse_vtt,
    ".srt": parse_srt,
    ".txt": parse_txt,
    ".docx": parse_docx,
    ".json": parse_json,
}


def import_transcript(path: Path) -> ImportedTranscript:
    """Read an existing transcript; an empty one gives zero segments and a warning.

    The file is checked against the limits of pipeline/limits.py before it is parsed (a regular
    file, its size, a Word file's archive) and after (cues and words); control characters are
    removed and cues out of time order are sorted, each with a warning.
    """
    importer = IMPORTERS.get(path.suffix.lower())
    if importer is None:
        raise InputError(f"{path.name}: unknown transcript format; use .vtt, .srt, .txt, .docx or .json.")
    try:
        limits.input_file(path)
        limits.check_file_size(path, limits.MAX_TRANSCRIPT_BYTES, "transcript",
                               "Split it into several sessions, or export the text alone (.txt).")
        transcript = importer(path)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found. Check the path.") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a transcript file.") from None
    segments = transcript.segments
    limits.check_transcript_size(path.name, len(segments), limits.word_count(s.text for s in segments))
    limits.check_words_and_characters(path.name, ((s.start, s.text) for s in segments))
    _check_times(path.name, transcript)
    _sort_by_time(path.name, transcript)
    if not transcript.segments:
        transcript.warnings.append(f"{path.name}: the transcript contains no text")
    return transcript


def _check_times(name: str, transcript: ImportedTranscript) -> None:
    """Refuse a cue, a word or a gap that ends beyond the longest session (limits.MAX_SESSION_SECONDS)."""
    def end_of(segment: Segment) -> float:
        return max([segment.end, *(w.end for w in segment.words or [])])

    beyond = [s for s in transcript.segments if end_of(s) > limits.MAX_SESSION_SECONDS]
    if beyond:
        # The first that starts too late is the typing error (the paragraph before it ends there too).
        segment = next((s for s in beyond if s.start > limits.MAX_SESSION_SECONDS), beyond[0])
        limits.check_session_duration(name, end_of(segment), f"the cue or paragraph at {format_timestamp(segment.start)} "
                                      f"({limits.quote(segment.text, 40)}) ends at {format_timestamp(end_of(segment))}")
    for gap in transcript.gaps:
        limits.check_session_duration(name, gap["end"], f"a gap at {format_timestamp(gap['start'])} ends at "
                                      f"{format_timestamp(gap['end'])}")


def _sort_by_time(name: str, transcript: ImportedTranscript) -> None:
    """Cues out of time order are sorted by start time, with a warning. Caption editors and merged
    exports do produce them, players show them by time, and the times are what the synthesis
    quotes; refusing the file would leave staff to sort hundreds of cues by hand."""
    segments = transcript.segments
    late = [(before, after) for before, after in zip(segments, segments[1:]) if after.start < before.start]
    if not late:
        return
    before, after = late[0]
    segments.sort(key=lambda segment: segment.start)  # stable: cues with the same start keep their order
    transcript.warnings.append(
        f"{name}: {len(late)} cue(s) out of time order (the first, at {format_timestamp(after.start)}, comes after "
        f"one at {format_timestamp(before.start)}): sorted by start time. Check those times if the file's "
        "order was right."
    )
