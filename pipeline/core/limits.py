"""What the pipeline accepts as input: every bound in one place, and the checks that apply them.

Inputs come from staff (config.yaml, review files) and from elsewhere (caption exports, Word
files, transcripts sent by a speaker), so each is bounded before it is parsed: a broken or hostile
file gives one error line naming the file, the limit and what to do, instead of hours of work,
gigabytes of memory or a crash later in the pipeline. The bounds are far above any real session
(a webinar lasts one to three hours; the limits allow about nine) and are constants on purpose:
raising one means accepting the memory and time that go with it (see README, "Limits and safety").

Text is also made safe here: control characters, which no document format can carry, are
removed on import, and out-of-order cues are sorted.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .artefacts import Segment

log = logging.getLogger(__name__)

# --- the limits ------------------------------------------------------------------------------------

# config.yaml: the repository's is 13 KB; a cycle of twenty sessions with long codebooks stays
# under 200 KB.
MAX_CONFIG_BYTES = 1_000_000
# YAML values (mappings, lists, scalars) after aliases (*name) are expanded: a 1 KB file can
# otherwise stand for billions of values (the "billion laughs"). The repository's config has ~900.
MAX_CONFIG_NODES = 100_000

# A transcript file on disk (VTT, SRT, TXT, DOCX, JSON). Nine hours of speech are ~500 KB of text,
# a few MB as captions or as JSON with word timings.
MAX_TRANSCRIPT_BYTES = 20_000_000
# Words in one session's transcript. Tagging keeps every passage's spaCy document and vector in
# memory: ~1.3 GB for 36,000 words (four hours), ~3.6 GB for 150,000 (measured with
# fr_core_news_md); 80,000 words is about nine hours of speech at 150 words a minute.
MAX_TRANSCRIPT_WORDS = 80_000
# A session's length, in seconds: a webinar lasts one to three hours, so a time beyond twelve is
# a typing error (a cue at 99999:00:00). A recording or a transcript that runs past it is refused
# before anything is drawn against time (the timeline chart and its table, the annex's times).
MAX_SESSION_SECONDS = 12 * 3600
# One word, a run of characters without a space: French words have at most ~25 letters, a web
# address rarely more than a hundred characters. Beyond, it is not speech (10 MB without a space
# is one "word"), and sentence splitting and the encoder's tokenizer take minutes over it.
MAX_WORD_CHARS = 200
# Characters in one session's transcript: nine hours of speech are ~500,000. With the bound on
# words, what spaCy reads stays in proportion to the speech.
MAX_TRANSCRIPT_CHARS = 1_000_000
# Pieces of text as the language model reads them (runs of letters and digits, and each
# punctuation mark): spaCy's time follows them, not the words. Nine hours of French speech are
# ~110,000 (elisions and punctuation add a third to the words); words made of dozens of pieces
# ("a-b-c-…", "x.y.z…") would otherwise keep tagging busy for many minutes in a small file.
MAX_NLP_PIECES = 200_000
# Characters of one text (a sentence, a passage) given to the sentence encoder, whose cost grows
# with the text: a sentence of 130 words has ~800; beyond, the rest is left out of its vector.
MAX_ENCODER_CHARS = 2_000
# Cues (VTT, SRT), paragraphs (TXT, DOCX) or segments (JSON): one every 0.65 s for nine hours.
MAX_SEGMENTS = 50_000
# One line of a caption file: a subtitle is a few dozen characters, a long cue a few thousand.
MAX_CAPTION_LINE_CHARS = 20_000
# A Word file is a zip archive: its members and their total size once uncompressed are read from
# the archive's directory before anything is extracted (a zip bomb is refused at once).
MAX_DOCX_MEMBERS = 1_000
MAX_DOCX_UNCOMPRESSED_BYTES = 50_000_000
# JSON inputs (transcripts, tags, render manifests): our own artefacts nest 6 levels deep.
MAX_JSON_DEPTH = 64
# Before spaCy: a segment longer than this (a whole lecture as one paragraph) is cut at sentence
# or word boundaries, and a piece of transcript given to spaCy at once stays under this many
# characters (spaCy refuses more than nlp.max_length, 1,000,000, and needs ~3 GB for that many).
MAX_NLP_SEGMENT_CHARS = 20_000
MAX_NLP_TEXT_CHARS = 100_000
# publication.logo: a logo is a few hundred kilobytes and a few hundred pixels wide.
MAX_LOGO_BYTES = 5_000_000
MAX_LOGO_PIXELS = 25_000_000  # 5000 x 5000
# An address in config.yaml (replay_url, cycle.url).
MAX_URL_CHARS = 2000
# User text quoted in an error message is cut to this many characters.
QUOTE_CHARS = 80


# --- error messages ----------------------------------------------------------------------------

def shorten(text: object, max_chars: int = QUOTE_CHARS) -> str:
    """User text for an error message, cut to max_chars: a binary file or a pasted page must not
    turn one error line into a hundred kilobytes."""
    text = str(text)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def quote(text: object, max_chars: int = QUOTE_CHARS) -> str:
    """`repr` of user text for an error message, cut to max_chars."""
    return repr(shorten(text, max_chars))


def _size_text(size_bytes: int) -> str:
    if size_bytes >= 1_000_000:
        return f"{size_bytes / 1_000_000:.1f} MB"
    return f"{size_bytes / 1000:.0f} KB" if size_bytes >= 1000 else f"{size_bytes} bytes"


# --- input files -------------------------------------------------------------------------------

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_reported_links: set[tuple[str, str]] = set()


def input_file(path: Path, *, root: Path | None = None) -> Path:
    """Check that `path` names a regular file, possibly through a symbolic link; return `path`.

    Named pipes, sockets and devices are refused: reading one blocks forever or never ends.
    A symbolic link is followed, and the log says where it leads; with `root` (the config's
    folder), a link must lead to a file inside that folder. A path written in config.yaml is
    trusted as written, wherever it points; a link found on the way is not, so that a link
    left in the project (by an unpacked archive, say) cannot publish a file from elsewhere in the
    transcript annex. Raises FileNotFoundError or IsADirectoryError for the caller to word, and
    InputError otherwise.
    """
    st = os.stat(path)  # follows links; FileNotFoundError for a missing file or a dangling link
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(path))
    for test, kind in _SPECIAL_KINDS:
        if test(st.st_mode):
            raise InputError(f"{path}: is {kind}, not a file. Synthèse reads regular files only; "
                             "give the path of the file itself.")
    if os.path.islink(path):
        target = Path(os.path.realpath(path))
        if root is not None:
            folder = Path(os.path.realpath(root))
            if not target.is_relative_to(folder):
                raise InputError(
                    f"{path}: is a symbolic link to {target}, outside the project folder {folder}. "
                    "A link is followed only to a file inside that folder: write the file's real "
                    "path in the configuration, or copy the file into the folder."
                )
        if (str(path), str(target)) not in _reported_links:
            _reported_links.add((str(path), str(target)))
            log.info("%s is a symbolic link: reading %s", path, target)
    return path


def check_file_size(path: Path, limit_bytes: int, what: str, fix: str) -> None:
    size = os.stat(path).st_size
    if size > limit_bytes:
        raise InputError(f"{path.name}: the file is {_size_text(size)}, more than the {_size_text(limit_bytes)} "
                         f"a {what} may have. {fix}")


# --- text ----------------------------------------------------------------------------------------

# C0 controls but tab and newline, DEL and C1 controls, lone surrogates (from JSON escapes) and the
# two non-characters: none can be written to XML (DOCX) or shown, and some crash the writers.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_controls(text: str) -> str:
    """The text without control characters (tab and newline kept; a carriage return, form feed or
    vertical tab becomes a space)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", text.replace("\r", " ").replace("\x0c", " ").replace("\x0b", " "))


_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Text for a terminal: control characters but newline and tab written as escapes (\\x1b…),
    so that a name or a theme written in a file cannot move the cursor, recolour the terminal,
    rewrite its title or overwrite a line."""
    return _TERMINAL_CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def count_controls(text: str) -> int:
    return len(_CONTROL.findall(text))


def xml_safe(value: Any) -> Any:
    """`value` with control characters removed from every string in it, through dataclasses,
    lists, tuples and dicts: a last line of defence before a writer that refuses them."""
    import dataclasses

    if isinstance(value, str):
        return strip_controls(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: xml_safe(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, list):
        return [xml_safe(item) for item in value]
    if isinstance(value, tuple):
        return tuple(xml_safe(item) for item in value)
    if isinstance(value, dict):
        return {xml_safe(key): xml_safe(item) for key, item in value.items()}
    return value


def truncate(text: str, max_chars: int) -> str:
    """Text cut to max_chars, an ellipsis marking the cut (for fields a format limits)."""
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


# --- JSON ------------------------------------------------------------------------------------------

class JsonLimitError(ValueError):
    """Valid JSON that is out of bounds (too deep, NaN, a number too large)."""


def _refuse_constant(name: str) -> float:
    raise JsonLimitError(f"{name} is not a number here (NaN and Infinity are not allowed)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonLimitError(f"the number {quote(text, 24)} is too large")
    return value


_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads_json(text: str) -> Any:
    """json.loads with bounds: nesting at most MAX_JSON_DEPTH, finite numbers only, lone
    surrogates (\\ud800 written alone, which no UTF-8 file can hold) replaced by U+FFFD.

    Raises json.JSONDecodeError for a syntax error and JsonLimitError for the rest.
    """
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise JsonLimitError(f"it is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:
        if isinstance(exc, JsonLimitError):
            raise
        raise JsonLimitError(str(exc).split(";")[0]) from None  # e.g. an integer of 5,000 digits
    depth_of = [(data, 1)]
    while depth_of:
        value, depth = depth_of.pop()
        if depth > MAX_JSON_DEPTH:
            raise JsonLimitError(f"it is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, dict):
            depth_of.extend((item, depth + 1) for item in value.values() if isinstance(item, (dict, list)))
        elif isinstance(value, list):
            depth_of.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    if _LONE_SURROGATE_ESCAPE.search(text):
        data = _replace_surrogates(data)
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_replace_surrogates(key): _replace_surrogates(item) for key, item in value.items()}
    return value


# --- transcripts -----------------------------------------------------------------------------------

def word_count(texts: Iterable[str]) -> int:
    return sum(len(text.split()) for text in texts)


def check_transcript_size(name: str, segments: int, words: int) -> None:
    """Refuse a transcript too long to tag on an ordinary laptop (see MAX_TRANSCRIPT_WORDS)."""
    if segments > MAX_SEGMENTS:
        raise InputError(f"{name}: {segments:,} cues or paragraphs, more than the {MAX_SEGMENTS:,} a session "
                         "may have. Split the recording into several sessions, or merge the cues.")
    if words > MAX_TRANSCRIPT_WORDS:
        raise InputError(f"{name}: {words:,} words, more than the {MAX_TRANSCRIPT_WORDS:,} a session may have "
                         "(about nine hours of speech; tagging needs memory in proportion). Split the "
                         "recording into several sessions.")


def check_session_duration(name: str, seconds: float, what: str) -> None:
    """Refuse a recording or a time beyond MAX_SESSION_SECONDS; `what` says where that time is
    ("a cue at 00:00:05 ends at 99999:00:00", "the recording lasts 13:00:00")."""
    if not seconds <= MAX_SESSION_SECONDS:  # NaN too
        raise InputError(f"{name}: {what}, beyond the {MAX_SESSION_SECONDS // 3600} hours a session may last. "
                         "Fix that time if it is a typing error, or split the recording into several sessions.")


def check_words_and_characters(name: str, timed_texts: Iterable[tuple[float | None, str]]) -> None:
    """Refuse a text with a word over MAX_WORD_CHARS or, in all, over MAX_TRANSCRIPT_CHARS
    characters or MAX_NLP_PIECES pieces (`timed_texts`: each segment's start, or None, and
    text), before any NLP runs."""
    from .typography import timestamp

    long_word = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")
    total, pieces = 0, 0
    for start, text in timed_texts:
        total += len(text)
        pieces += len(_NLP_PIECE.findall(text))
        match = long_word.search(text)
        if match:
            at = f" at {timestamp(start)}" if start is not None else ""
            raise InputError(f"{name}: a word of {len(match.group()):,} characters{at} ({quote(match.group(), 40)}), "
                             f"more than the {MAX_WORD_CHARS} a word may have: that is not speech. Check that it is "
                             "the transcript, or remove that text.")
    if total > MAX_TRANSCRIPT_CHARS:
        raise InputError(f"{name}: {total:,} characters, more than the {MAX_TRANSCRIPT_CHARS:,} a session may have "
                         "(about nine hours of speech). Split the recording into several sessions.")
    if pieces > MAX_NLP_PIECES:
        raise InputError(f"{name}: {pieces:,} words and punctuation marks, more than the {MAX_NLP_PIECES:,} a session "
                         "may have (about nine hours of speech; words joined by many hyphens or dots count as "
                         "several). Check that it is the transcript, or split the recording into several sessions.")


_NLP_PIECE = re.compile(r"\w+|[^\w\s]")


_SENTENCE_END = re.compile(r"[.!?…]['’»\")\]]*\s+")


def _cut(text: str, max_chars: int) -> list[str]:
    """Pieces of at most max_chars: cut after the last sentence end in the window, else at the
    last space, else (a run of characters without spaces) at max_chars."""
    pieces = []
    while len(text) > max_chars:
        window = text[:max_chars + 1]
        ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= max_chars]
        cut = ends[-1] if ends and ends[-1] > max_chars // 2 else window.rfind(" ") + 1
        if cut <= max_chars // 4:
            cut = max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].lstrip()
    if text.strip():
        pieces.append(text.strip())
    return [piece for piece in pieces if piece]


def split_long_segments(segments: Sequence[Segment], nlp_max_length: int) -> list[Segment]:
    """Segments whose text exceeds MAX_NLP_SEGMENT_CHARS (or spaCy's nlp.max_length) cut into
    several, in order, the time shared out by characters (word timings, if any, are dropped: the
    pieces' times are interpolated). Refuses a transcript over MAX_TRANSCRIPT_WORDS or
    MAX_TRANSCRIPT_CHARS, or with a word over MAX_WORD_CHARS, whatever its source (an imported
    file is checked on import; a transcription, a hand-edited one or corrections here)."""
    max_chars = min(MAX_NLP_SEGMENT_CHARS, nlp_max_length // 2)
    check_transcript_size("the transcript", 0, word_count(s.text for s in segments))
    check_words_and_characters("the transcript", ((s.start, s.text) for s in segments))
    result: list[Segment] = []
    for segment in segments:
        text = segment.text.strip()
        if len(text) <= max_chars:
            result.append(segment)
            continue
        start, end = segment.start, segment.end
        position, total = 0, len(text)
        for piece in _cut(text, max_chars):
            begin = text.find(piece, position)
            position = begin + len(piece)
            result.append(segment.model_copy(update={
                "text": piece, "words": [],
                "start": round(start + (end - start) * begin / total, 3),
                "end": round(start + (end - start) * position / total, 3)}))
    return result


def split_long_turns(turns: list[list[Segment]], nlp_max_length: int) -> list[list[Segment]]:
    """Turns (consecutive segments given to spaCy as one text) cut between segments so that no
    text exceeds MAX_NLP_TEXT_CHARS or spaCy's nlp.max_length. Expects split_long_segments first."""
    limit = min(MAX_NLP_TEXT_CHARS, nlp_max_length - 1)
    result = []
    for turn in turns:
        current: list[Segment] = []
        length = 0
        for segment in turn:
            size = len(segment.text.strip()) + 1
            if current and length + size > limit:
                result.append(current)
                current, length = [], 0
            current.append(segment)
            length += size
        if current:
            result.append(current)
    return result
