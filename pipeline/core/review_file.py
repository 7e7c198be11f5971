"""Human review: `<stem>.review.yaml`, written by staff, read at every tagging and rendering.

Staff accept, reject or add a theme on a passage, pin or exclude a passage as an excerpt of a
theme, name the voices the recording was cut into ("Intervenant 1": a person's name), say that a
voice recognised by a voice profile is not that person (`rejected_names`), confirm sentences
whose words the recogniser was unsure of (`confirm`), approve the session (`approved`), correct
the text (core/revision.py), and write what the documents say in their words: the messages to
retain (`key_messages`), a sentence presenting each speaker (`presentations`), the questions from
the audience (`questions`). The cycle's review file (`transcripts/_cycle/cycle.review.yaml`)
holds the introduction of the cycle's synthesis and the tensions staff point out
(`CycleReview`). Passages are named by a stable key, "HH:MM:SS first words
of the passage" (the `key` of each passage in `<stem>.tags.json`), so decisions survive a re-run
with new thresholds or keywords; a correction is anchored to the moment and the words as they
were transcribed. A decision that can no longer be applied (its passage, voice or words are
gone, after a new transcription say) is kept in the file, reported in the log and listed in the
artefact's `review.orphaned`: never dropped, never applied elsewhere.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .artefacts import Passage, Transcript
from .errors import ReviewError
from .glossary import GlossaryEntry
from .limits import strip_controls
from .revision import INAUDIBLE, Piece, Revision
from .staff_yaml import compose
from .storage import write_text

log = logging.getLogger(__name__)

THEME_DECISIONS = ("accept", "reject", "add")
EXCERPT_DECISIONS = ("pin", "exclude")
DECISIONS = THEME_DECISIONS + EXCERPT_DECISIONS
# What staff write for the documents themselves: the messages to retain, a sentence presenting
# each speaker, the audience's questions.
WRITING = ("key_messages", "presentations", "questions")
SECTIONS = (*DECISIONS, "speakers", "corrections", "confirm", "approved", "rejected_names", *WRITING)
KEY_WORDS = 6  # words of the passage's beginning in its key


@dataclass(frozen=True)
class Decision:
    kind: str  # one of DECISIONS
    passage: str  # the passage key as written by staff
    theme: str
    line: int  # 1-based line in the review file, for messages
    # pin only: the sentences of the passage to quote (indices into Passage.sentences), to
    # shorten a quote; empty: the whole passage.
    sentences: tuple[int, ...] = ()

    def describe(self) -> str:
        return f"{self.kind} {self.theme} on \"{self.passage}\" (line {self.line})"


@dataclass(frozen=True)
class Correction:
    """Words as the transcript reads them (`original`, compared without case and the punctuation
    around them) and as they were said (`corrected`), near a moment: misheard words, changed
    punctuation or sentences, across the recogniser's segments. `corrected` empty deletes the
    words (nobody said them); `[inaudible]` in it marks what nobody can make out."""

    at_s: float  # where they were said (the HH:MM:SS written in the file)
    original: str
    corrected: str
    line: int

    @property
    def kind(self) -> str:
        """"delete", "inaudible" (a stretch marked so) or "replace"."""
        if not self.corrected.split():
            return "delete"
        # "[inaudible]" alone, with the punctuation around it kept ("[inaudible],").
        return "inaudible" if re.fullmatch(r"\W*" + re.escape(INAUDIBLE) + r"\W*", self.corrected.strip()) else "replace"

    def describe(self) -> str:
        return f"correction \"{self.original}\" -> \"{self.corrected}\" at {format_time(self.at_s)} (line {self.line})"


@dataclass(frozen=True)
class Confirmation:
    """Sentences of a passage whose text a reviewer checked against the recording: they may be
    quoted although the recogniser was unsure of some of their words."""

    passage: str  # the passage key as written by staff
    sentences: tuple[int, ...]  # indices into Passage.sentences
    line: int

    def describe(self) -> str:
        numbers = ", ".join(str(i) for i in self.sentences)
        return f"confirm sentences [{numbers}] of \"{self.passage}\" (line {self.line})"


@dataclass(frozen=True)
class Approved:
    """Who approved the session, when, and the fingerprint of what they approved
    (core/approval.py): the transcript as corrected, the decisions, the voices' names."""

    by: str
    at: dt.datetime
    fingerprint: str
    line: int


@dataclass(frozen=True)
class KeyMessage:
    """A message to retain from the session, written by staff, with the passages that support it
    (their keys, as written; their moments become links in the documents)."""

    text: str
    passages: tuple[str, ...]
    line: int

    def describe(self) -> str:
        return f"key message \"{self.text[:40]}\" (line {self.line})"


@dataclass(frozen=True)
class MarkedQuestion:
    """A passage staff mark as a question from the audience: optionally only some of its
    sentences, and the passage that answers it (by default the next one by another voice)."""

    passage: str  # the passage key as written by staff
    sentences: tuple[int, ...]  # empty: the passage's questions (sentences ending with "?"), else all
    answer: str  # the answer's passage key, "" for the next passage by another voice
    line: int

    def describe(self) -> str:
        return f"question \"{self.passage}\" (line {self.line})"


@dataclass
class Review:
    """Everything a review file says."""

    decisions: list[Decision] = field(default_factory=list)
    speakers: dict[str, str] = field(default_factory=dict)  # voice label -> the person's name
    speaker_lines: dict[str, int] = field(default_factory=dict)
    corrections: list[Correction] = field(default_factory=list)
    confirmations: list[Confirmation] = field(default_factory=list)
    approved: Approved | None = None
    # Names a voice was recognised by (a voice profile) and staff said it is not: label -> names.
    rejected_names: dict[str, list[str]] = field(default_factory=dict)
    # The cycle's glossary (glossary.yaml beside config.yaml, not this file): applied with the
    # corrections, before them.
    glossary: list[GlossaryEntry] = field(default_factory=list)
    key_messages: list[KeyMessage] = field(default_factory=list)  # « À retenir », in the file's order
    presentations: dict[str, str] = field(default_factory=dict)  # a speaker's name -> one sentence about them
    presentation_lines: dict[str, int] = field(default_factory=dict)
    questions: list[MarkedQuestion] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.speakers or self.corrections or self.confirmations or self.rejected_names
                    or self.key_messages or self.presentations or self.questions)


def ensure_review_file(path: Path, template: str) -> None:
    """Create the review file from `template` (its explanations and empty decision lists), if it
    is missing. An existing file is never touched, whatever it holds."""
    if path.exists():
        return
    write_text(path, template)
    log.info("created review file %s", path)


def format_time(seconds: float) -> str:
    total = int(max(0.0, seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _words(text: str) -> list[str]:
    return re.findall(r"\w+(?:['’-]\w+)*", text)


def passage_key(start_s: float, text: str) -> str:
    """The stable name of a passage: start time and its first words ("00:01:05 Bonjour à tous…")."""
    return f"{format_time(start_s)} {' '.join(_words(text)[:KEY_WORDS])}".strip()


def _normalise(text: str) -> str:
    # Keys are compared loosely (case, accents, punctuation) so a retyped key still matches.
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return " ".join(_words("".join(c for c in text if not unicodedata.combining(c))))


def _split_key(key: str) -> tuple[str | None, str]:
    match = re.match(r"^\s*(\d{1,2}:\d{2}:\d{2})\s*(.*)$", key)
    if match:
        return match.group(1).zfill(8), _normalise(match.group(2))
    return None, _normalise(key)


def find_passage(key: str, passages: Sequence[Passage]) -> Passage | None:
    """The passage a key names: same time and first words; else the only passage with those
    first words (the times moved, e.g. after a new transcription); else None."""
    time, words = _split_key(key)
    if not words:
        return None
    candidates = [p for p in passages if _split_key(p.key)[1] == words]
    exact = [p for p in candidates if _split_key(p.key)[0] == time]
    if exact:
        return exact[0]
    if len(candidates) == 1:
        return candidates[0]
    # The first words changed (a correction, a new transcription) but the passage starts at the
    # same second: it is the same passage.
    same_time = [p for p in passages if time is not None and _split_key(p.key)[0] == time]
    return same_time[0] if len(same_time) == 1 and not candidates else None


def load_review(path: Path) -> Review:
    """Read a review file; one that does not parse raises ReviewError with its line."""
    if not path.is_file():
        return Review()
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{name}: cannot read the review file ({exc}). Save it as UTF-8 text.") from None
    return parse_review(text, name)


def parse_review(text: str, name: str) -> Review:
    """The review file's text as a Review; ReviewError naming the line where it is wrong."""
    root = compose(text, name, "Fix the review file (it was left unchanged) and re-run.")
    review = Review()
    if root is None:
        return review
    if not isinstance(root, yaml.MappingNode):
        raise ReviewError(f"{name}, line {root.start_mark.line + 1}: expected the lists "
                          f"{', '.join(SECTIONS)} at the top level. Fix the review file and re-run.")
    for key_node, value_node in root.value:
        kind, line = str(key_node.value), key_node.start_mark.line + 1
        if kind not in SECTIONS:
            raise ReviewError(f"{name}, line {line}: unknown list '{kind}' (expected one of "
                              f"{', '.join(SECTIONS)}). Fix its spelling and re-run.")
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            continue
        if kind == "speakers":
            _speakers(value_node, review, name)
            continue
        if kind == "approved":
            review.approved = _approved(value_node, name)
            continue
        if kind == "rejected_names":
            _rejected_names(value_node, review, name)
            continue
        if kind == "presentations":
            _presentations(value_node, review, name)
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            usage = {"corrections": CORRECTION_USAGE, "confirm": CONFIRM_USAGE, "key_messages": KEY_MESSAGE_USAGE,
                     "questions": QUESTION_USAGE}.get(kind, "{passage: \"HH:MM:SS first words\", theme: ID}")
            raise ReviewError(f"{name}, line {value_node.start_mark.line + 1}: '{kind}' must be a list "
                              f"of {usage}. Fix it and re-run.")
        for item in value_node.value:
            if kind == "corrections":
                review.corrections.append(_correction(item, name))
            elif kind == "confirm":
                review.confirmations.append(_confirmation(item, name))
            elif kind == "key_messages":
                review.key_messages.append(_key_message(item, name))
            elif kind == "questions":
                review.questions.append(_question(item, name))
            else:
                review.decisions.append(_decision(kind, item, name))
    return review


CORRECTION_USAGE = '{at: "HH:MM:SS", original: "words as transcribed", corrected: "words as said"}'
CONFIRM_USAGE = '{passage: "HH:MM:SS first words", sentences: [0, 2]}'
KEY_MESSAGE_USAGE = ('a sentence in quotes, or {text: "the message", passages: ["HH:MM:SS first words", …]} '
                     "(the passages that support it)")
QUESTION_USAGE = ('"HH:MM:SS first words" (the passage of the question), or {passage: "HH:MM:SS first words", '
                  'sentences: [0], answer: "HH:MM:SS first words"}')
PRESENTATION_USAGE = ("'presentations' must map each speaker's name to one sentence about them, e.g. "
                      "{\"Claire Vasseur\": \"Chercheuse en urbanisme, elle étudie les villes moyennes.\"}")
APPROVED_USAGE = ('{by: "Name", at: "YYYY-MM-DDTHH:MM+01:00", fingerprint: "…"}, as `synthese approve` or the '
                  "review page writes it")


def _scalars(node: yaml.Node, name: str, usage: str) -> dict[str, str]:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    fields: dict[str, str] = {}
    for key_node, value_node in node.value:
        if not isinstance(value_node, yaml.ScalarNode):
            raise ReviewError(f"{name}, line {value_node.start_mark.line + 1}: {usage}. Fix it and re-run.")
        fields[str(key_node.value)] = strip_controls(str(value_node.value)).strip()
    return fields


def _speakers(node: yaml.Node, review: Review, name: str) -> None:
    usage = "'speakers' must map each voice to a name, e.g. {\"Intervenant 1\": \"François Ménard\"}"
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {node.start_mark.line + 1}: {usage}. Fix it and re-run.")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(value_node, yaml.ScalarNode) or not str(value_node.value).strip():
            raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
        label = strip_controls(str(key_node.value)).strip()
        review.speakers[label] = " ".join(strip_controls(str(value_node.value)).split())
        review.speaker_lines[label] = line


def _rejected_names(node: yaml.Node, review: Review, name: str) -> None:
    usage = ("'rejected_names' must map each voice to the names it is not, e.g. {\"Intervenant 2\": "
             "[\"François Ménard\"]}")
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {node.start_mark.line + 1}: {usage}. Fix it and re-run.")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            continue
        items = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        if not all(isinstance(item, yaml.ScalarNode) and str(item.value).strip() for item in items):
            raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
        names = review.rejected_names.setdefault(str(key_node.value).strip(), [])
        names += [n for n in (" ".join(str(item.value).split()) for item in items) if n not in names]


def _plain_text(node: yaml.Node) -> str:
    return " ".join(strip_controls(str(node.value)).split())


def _passage_keys(node: yaml.Node, name: str, usage: str) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not all(isinstance(item, yaml.ScalarNode) and str(item.value).strip() for item in items):
        raise ReviewError(f"{name}, line {node.start_mark.line + 1}: {usage}. Fix it and re-run.")
    return tuple(_plain_text(item) for item in items)


def _key_message(node: yaml.Node, name: str, usage: str = f"each item of 'key_messages' must be {KEY_MESSAGE_USAGE}"
                 ) -> KeyMessage:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        text = _plain_text(node)
        if not text:
            raise ReviewError(f"{name}, line {line}: an empty message; {usage}. Fix it and re-run.")
        return KeyMessage(text, (), line)
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    text, passages = "", tuple[str, ...]()
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key == "passages":
            passages = () if _is_null(value_node) else _passage_keys(value_node, name, usage)
        elif key == "text" and isinstance(value_node, yaml.ScalarNode):
            text = _plain_text(value_node)
        elif key != "note":
            detail = f"unknown key '{key}'" if key != "text" else "'text' must be plain text"
            raise ReviewError(f"{name}, line {key_node.start_mark.line + 1}: {detail}; {usage}. Fix it and re-run.")
    if not text:
        raise ReviewError(f"{name}, line {line}: 'text' is required; {usage}. Fix it and re-run.")
    return KeyMessage(text, passages, line)


def _question(node: yaml.Node, name: str) -> MarkedQuestion:
    line = node.start_mark.line + 1
    usage = f"each item of 'questions' must be {QUESTION_USAGE}"
    if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
        return MarkedQuestion(_plain_text(node), (), "", line)
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    rest, sentences = _without_sentences(node, name, "the numbers of the passage's sentences that ask the "
                                                     "question, from 0, e.g. [1]")
    fields = _scalars(rest, name, usage)
    unknown = sorted(set(fields) - {"passage", "answer", "note"})
    if unknown or not fields.get("passage"):
        detail = f"unknown key '{unknown[0]}'" if unknown else "'passage' is required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it and re-run.")
    return MarkedQuestion(fields["passage"], sentences, fields.get("answer", ""), line)


def _presentations(node: yaml.Node, review: Review, name: str) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {node.start_mark.line + 1}: {PRESENTATION_USAGE}. Fix it and re-run.")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if _is_null(value_node):
            continue
        if not isinstance(value_node, yaml.ScalarNode) or not str(key_node.value).strip():
            raise ReviewError(f"{name}, line {line}: {PRESENTATION_USAGE}. Fix it and re-run.")
        person = _plain_text(key_node)
        review.presentations[person] = _plain_text(value_node)
        review.presentation_lines[person] = line


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")


def _correction(node: yaml.Node, name: str) -> Correction:
    line = node.start_mark.line + 1
    usage = f"each item of 'corrections' must be {CORRECTION_USAGE}"
    fields = _scalars(node, name, usage)
    unknown = sorted(set(fields) - {"at", "original", "corrected", "note"})
    time = parse_time(fields.get("at", ""))
    if unknown or time is None or not fields.get("original") or "corrected" not in fields:
        detail = f"unknown key '{unknown[0]}'" if unknown else "'at' (HH:MM:SS), 'original' and 'corrected' are required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it and re-run.")
    return Correction(time, fields["original"], fields["corrected"], line)


def _confirmation(node: yaml.Node, name: str) -> Confirmation:
    line = node.start_mark.line + 1
    usage = f"each item of 'confirm' must be {CONFIRM_USAGE}"
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    rest, sentences = _without_sentences(node, name, "the numbers of the passage's sentences whose words "
                                                     "you checked, from 0, e.g. [0, 2]")
    fields = _scalars(rest, name, usage)
    unknown = sorted(set(fields) - {"passage", "note"})
    if unknown or not fields.get("passage") or not sentences:
        detail = f"unknown key '{unknown[0]}'" if unknown else "'passage' and 'sentences' are required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it and re-run.")
    return Confirmation(fields["passage"], sentences, line)


def _approved(node: yaml.Node, name: str) -> Approved:
    line = node.start_mark.line + 1
    usage = f"'approved' must be {APPROVED_USAGE}"
    fields = _scalars(node, name, usage)
    unknown = sorted(set(fields) - {"by", "at", "fingerprint", "note"})
    if unknown or not all(fields.get(k) for k in ("by", "at", "fingerprint")):
        detail = f"unknown key '{unknown[0]}'" if unknown else "'by', 'at' and 'fingerprint' are required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it (or remove it to approve again) and re-run.")
    try:
        at = dt.datetime.fromisoformat(fields["at"])
    except ValueError:
        raise ReviewError(f"{name}, line {line}: 'at' {fields['at']!r} is not a date and time; {usage}. "
                          "Fix it and re-run.") from None
    return Approved(" ".join(fields["by"].split()), at, fields["fingerprint"], line)


def parse_time(text: str) -> float | None:
    """Seconds from "HH:MM:SS" (or "MM:SS", with a fraction), None when it is not a time."""
    match = re.match(r"^\s*(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d+))?\s*$", text)
    if not match:
        return None
    hours, minutes, seconds, fraction = match.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction or 0}")


def _decision(kind: str, node: yaml.Node, name: str) -> Decision:
    line = node.start_mark.line + 1
    usage = f"each item of '{kind}' must be {{passage: \"HH:MM:SS first words\", theme: ID}}"
    sentences: tuple[int, ...] = ()
    if kind == "pin" and isinstance(node, yaml.MappingNode):
        # A pin may choose the passage's sentences to quote: `sentences: [0, 2]`.
        node, sentences = _without_sentences(node, name, "the numbers of the passage's sentences to quote, "
                                                         "from 0, e.g. [0, 2]")
    fields = _scalars(node, name, usage)
    unknown = sorted(set(fields) - {"passage", "theme", "note"})
    if unknown or not fields.get("passage") or not fields.get("theme"):
        detail = f"unknown key '{unknown[0]}'" if unknown else "'passage' and 'theme' are required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it and re-run.")
    return Decision(kind, fields["passage"], fields["theme"], line, sentences)


def _without_sentences(node: yaml.MappingNode, name: str, what: str) -> tuple[yaml.MappingNode, tuple[int, ...]]:
    """The item without its `sentences:` list, and the sentence numbers that list gives (`what`
    says which, for the error); () without one."""
    sentences: tuple[int, ...] = ()
    kept = []
    for key_node, value_node in node.value:
        if str(key_node.value) == "sentences":
            sentences = _sentence_indices(value_node, name, what)
        else:
            kept.append((key_node, value_node))
    return yaml.MappingNode(node.tag, kept, node.start_mark, node.end_mark, node.flow_style), sentences


def _sentence_indices(node: yaml.Node, name: str, what: str) -> tuple[int, ...]:
    usage = f"'sentences' must list {what}"
    values = node.value if isinstance(node, yaml.SequenceNode) else None
    if not values or not all(isinstance(v, yaml.ScalarNode) and re.fullmatch(r"\d{1,4}", str(v.value).strip())
                             for v in values):
        raise ReviewError(f"{name}, line {node.start_mark.line + 1}: {usage}. Fix it and re-run.")
    return tuple(sorted({int(str(v.value)) for v in values}))


# --- the cycle's review file: what staff write for the cycle's synthesis ---------------------------

CYCLE_SECTIONS = ("introduction", "tensions")
TENSION_USAGE = ('{text: "what the sessions disagree on", passages: ["SESSION_ID HH:MM:SS first words", …]} '
                 "(the passages where each side is said)")


@dataclass(frozen=True)
class Tension:
    """A difference between sessions or speakers that staff point out, with the passages where
    each side is said: (session id, passage key) pairs."""

    text: str
    passages: tuple[tuple[str, str], ...]
    line: int

    def describe(self) -> str:
        return f"tension \"{self.text[:40]}\" (line {self.line})"


@dataclass
class CycleReview:
    """Everything the cycle's review file (transcripts/_cycle/cycle.review.yaml) says."""

    introduction: list[str] = field(default_factory=list)  # paragraphs, as written
    tensions: list[Tension] = field(default_factory=list)


def load_cycle_review(path: Path) -> CycleReview:
    """Read the cycle's review file (a missing one says nothing); ReviewError with its line."""
    if not path.is_file():
        return CycleReview()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{path.name}: cannot read the cycle's review file ({exc}). Save it as UTF-8 text.") from None
    return parse_cycle_review(text, path.name)


def session_passage(reference: str) -> tuple[str, str]:
    """'seance-2 00:12:34 Les capteurs' -> ('seance-2', '00:12:34 Les capteurs')."""
    session, _, key = reference.strip().partition(" ")
    return session, key.strip()


def parse_cycle_review(text: str, name: str) -> CycleReview:
    """The cycle's review file as a CycleReview; ReviewError naming the line where it is wrong."""
    root = compose(text, name, "Fix the file (it was left unchanged) and re-run.")
    review = CycleReview()
    if root is None:
        return review
    if not isinstance(root, yaml.MappingNode):
        raise ReviewError(f"{name}, line {root.start_mark.line + 1}: expected {', '.join(CYCLE_SECTIONS)} at the "
                          "top level. Fix the file and re-run.")
    for key_node, value_node in root.value:
        kind, line = str(key_node.value), key_node.start_mark.line + 1
        if kind not in CYCLE_SECTIONS:
            raise ReviewError(f"{name}, line {line}: unknown section '{kind}' (expected one of "
                              f"{', '.join(CYCLE_SECTIONS)}). Fix its spelling and re-run.")
        if _is_null(value_node):
            continue
        if kind == "introduction":
            if not isinstance(value_node, yaml.ScalarNode):
                raise ReviewError(f"{name}, line {line}: 'introduction' must be text (write it after `introduction: |`, "
                                  "paragraphs separated by a blank line). Fix it and re-run.")
            paragraphs = re.split(r"\n\s*\n", strip_controls(str(value_node.value)))
            review.introduction = [" ".join(p.split()) for p in paragraphs if p.strip()]
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise ReviewError(f"{name}, line {value_node.start_mark.line + 1}: 'tensions' must be a list of "
                              f"{TENSION_USAGE}. Fix it and re-run.")
        for item in value_node.value:
            review.tensions.append(_tension(item, name))
    return review


def _tension(node: yaml.Node, name: str) -> Tension:
    line = node.start_mark.line + 1
    usage = f"each item of 'tensions' must be {TENSION_USAGE}"
    if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
        return Tension(_plain_text(node), (), line)
    message = _key_message(node, name, usage) if isinstance(node, yaml.MappingNode) else None
    if message is None:
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    references = tuple(session_passage(p) for p in message.passages)
    for session, key in references:
        if not key:
            raise ReviewError(f"{name}, line {line}: passage {session!r} names no session; write the session's id, "
                              f"then the passage's key; {usage}. Fix it and re-run.")
    return Tension(message.text, references, line)


def why_not_applied(decision: Decision, passage: Passage | None, theme_ids: Sequence[str]) -> str:
    """Why a decision cannot apply to the passage its key names ("" when it can)."""
    if decision.theme not in theme_ids:
        return f"unknown theme {decision.theme!r}"
    if passage is None:
        return "passage not found"
    if decision.sentences and decision.sentences[-1] >= len(passage.sentences):
        # Never quote other sentences than those chosen: the passage changed since.
        return f"sentence {decision.sentences[-1]} not in the passage (it has {len(passage.sentences)}, numbered from 0)"
    return ""


def orphaned_decisions(decisions: Sequence[Decision], passages: Sequence[Passage], theme_ids: Sequence[str]) -> list[str]:
    """The decisions that cannot apply to these passages, described with the reason."""
    found = ((d, why_not_applied(d, find_passage(d.passage, passages), theme_ids)) for d in decisions)
    return [f"{d.describe()}: {reason}" for d, reason in found if reason]


def confirmed_sentences(confirmations: Sequence[Confirmation], passages: Sequence[Passage]
                        ) -> tuple[dict[str, set[int]], list[str]]:
    """The sentences reviewers confirmed, by passage id, and the confirmations that no longer
    apply (their passage is gone, or has fewer sentences: its text changed since), described."""
    confirmed: dict[str, set[int]] = {}
    orphaned = []
    for confirmation in confirmations:
        passage = find_passage(confirmation.passage, passages)
        if passage is None:
            orphaned.append(f"{confirmation.describe()}: passage not found")
        elif confirmation.sentences[-1] >= len(passage.sentences):
            orphaned.append(f"{confirmation.describe()}: sentence {confirmation.sentences[-1]} not in the passage "
                            f"(it has {len(passage.sentences)}, numbered from 0)")
        else:
            confirmed.setdefault(passage.id, set()).update(confirmation.sentences)
    return confirmed, orphaned


# --- what the review changes in the transcript: names of voices, corrected words ----------------

@dataclass
class Revised:
    """The transcript as the review revises it, with the words each of its segments shows
    (their times, and which a correction or the glossary wrote), and what could not apply."""

    transcript: Transcript
    pieces: list[list[Piece]]  # per segment of `transcript`
    orphaned: list[str]
    applied: list[bool]  # per correction of the review: whether it applied
    glossary_counts: list[int]  # per glossary entry: how many times it applied


def revise(transcript: Transcript, review: Review) -> Revised:
    """The transcript as staff revised it: the cycle's glossary applied, then the corrections
    in the order of the file (each on the text the ones before it left, as the review page
    showed it), then the voices named. The transcript given is untouched."""
    revision = Revision(transcript)
    counts = revision.apply_glossary([(e.heard, e.written) for e in review.glossary]) if review.glossary else []
    orphaned: list[str] = []
    applied = []
    for correction in review.corrections:
        done = revision.apply(correction.original.split(), correction.corrected.split(), correction.at_s)
        applied.append(done)
        if not done:
            orphaned.append(f"{correction.describe()}: words not found near that time")
    revised, pieces = revision.result()
    labels = {s.speaker for s in revised.segments if s.speaker}
    for label, line in review.speaker_lines.items():
        if label not in labels:
            orphaned.append(f"speakers: \"{label}\" (line {line}): no voice of that name in the transcript")
    if review.speakers:
        for segment in revised.segments:
            segment.speaker = review.speakers.get(segment.speaker, segment.speaker) if segment.speaker else None
            for word in segment.words:
                if word.speaker:
                    word.speaker = review.speakers.get(word.speaker, word.speaker)
    for message in orphaned:
        log.warning("review: %s; it is kept in the file but not applied", message)
    return Revised(revised, pieces, orphaned, applied, counts)


def revise_transcript(transcript: Transcript, review: Review) -> tuple[Transcript, list[str]]:
    """The transcript as staff corrected it (glossary, corrections, names of voices): a copy,
    and the decisions that could not be applied, described."""
    revised = revise(transcript, review)
    return revised.transcript, revised.orphaned


def locate_correction(transcript: Transcript, correction: Correction) -> tuple[int, int] | None:
    """Where revise_transcript applies a correction: (segment index, index of its first word in
    the segment's text split on spaces), or None when its words are not found near its time."""
    return Revision(transcript).locate(correction.original.split(), correction.at_s)
