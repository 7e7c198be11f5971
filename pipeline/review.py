"""Human review of the tags: `<stem>.review.yaml`, written by staff, read at every tagging.

Staff accept, reject or add a theme on a passage, and pin or exclude a passage as an excerpt of a
theme. Passages are named by a stable key, "HH:MM:SS first words of the passage" (the `key` of
each passage in `<stem>.tags.json`), so decisions survive a re-run with new thresholds or
keywords. A decision whose passage can no longer be found is kept in the file, reported in the
log and listed in the artefact's `review.orphaned`. The file is only ever created, never
rewritten: it belongs to the people who edit it.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from synthese.artefacts import Evidence, Passage, ThemeTag
from synthese.errors import ReviewError
from synthese.excerpts import ExcerptChoices
from synthese.storage import write_text

log = logging.getLogger(__name__)

THEME_DECISIONS = ("accept", "reject", "add")
EXCERPT_DECISIONS = ("pin", "exclude")
DECISIONS = THEME_DECISIONS + EXCERPT_DECISIONS
KEY_WORDS = 6  # words of the passage's beginning in its key



@dataclass(frozen=True)
class Decision:
    kind: str  # one of DECISIONS
    passage: str  # the passage key as written by staff
    theme: str
    line: int  # 1-based line in the review file, for messages

    def describe(self) -> str:
        return f"{self.kind} {self.theme} on \"{self.passage}\" (line {self.line})"


@dataclass
class ReviewOutcome:
    """What the decisions did to one tagging: counts, orphans, and the excerpt choices."""

    applied: int = 0
    orphaned: list[str] = field(default_factory=list)
    choices: ExcerptChoices = field(default_factory=ExcerptChoices)


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
    return candidates[0] if len(candidates) == 1 else None


def load_review(path: Path) -> list[Decision]:
    """Read the decisions; a file that does not parse raises ReviewError with its line."""
    if not path.is_file():
        return []
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{name}: cannot read the review file ({exc}). Save it as UTF-8 text.") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReviewError(
            f"{where}: YAML syntax error: {problem}. Fix the review file (it was left unchanged) and re-run."
        ) from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise ReviewError(f"{name}, line {root.start_mark.line + 1}: expected the lists "
                          f"{', '.join(DECISIONS)} at the top level. Fix the review file and re-run.")
    decisions = []
    for key_node, value_node in root.value:
        kind, line = str(key_node.value), key_node.start_mark.line + 1
        if kind not in DECISIONS:
            raise ReviewError(f"{name}, line {line}: unknown list '{kind}' (expected one of "
                              f"{', '.join(DECISIONS)}). Fix its spelling and re-run.")
        if isinstance(value_node, yaml.ScalarNode) and value_node.value in ("", "~", "null"):
            continue
        if not isinstance(value_node, yaml.SequenceNode):
            raise ReviewError(f"{name}, line {value_node.start_mark.line + 1}: '{kind}' must be a list "
                              f"of {{passage: \"HH:MM:SS first words\", theme: ID}}. Fix it and re-run.")
        for item in value_node.value:
            decisions.append(_decision(kind, item, name))
    return decisions


def _decision(kind: str, node: yaml.Node, name: str) -> Decision:
    line = node.start_mark.line + 1
    usage = f"each item of '{kind}' must be {{passage: \"HH:MM:SS first words\", theme: ID}}"
    if not isinstance(node, yaml.MappingNode):
        raise ReviewError(f"{name}, line {line}: {usage}. Fix it and re-run.")
    fields: dict[str, str] = {}
    for key_node, value_node in node.value:
        if not isinstance(value_node, yaml.ScalarNode):
            raise ReviewError(f"{name}, line {value_node.start_mark.line + 1}: {usage}. Fix it and re-run.")
        fields[str(key_node.value)] = str(value_node.value).strip()
    unknown = sorted(set(fields) - {"passage", "theme", "note"})
    if unknown or not fields.get("passage") or not fields.get("theme"):
        detail = f"unknown key '{unknown[0]}'" if unknown else "'passage' and 'theme' are required"
        raise ReviewError(f"{name}, line {line}: {detail}; {usage}. Fix it and re-run.")
    return Decision(kind, fields["passage"], fields["theme"], line)


def apply_review(passages: list[Passage], decisions: Sequence[Decision], theme_ids: Sequence[str],
                 scores: dict[str, dict[str, float]]) -> ReviewOutcome:
    """Apply the decisions to the passages' themes (in place) and collect the excerpt choices.

    `scores` holds the tagger's score of every theme for every passage id, so an accepted or added
    theme keeps a meaningful score. Reviewed themes carry `"source": "review"`.
    """
    outcome = ReviewOutcome()
    for decision in decisions:
        passage = find_passage(decision.passage, passages)
        if decision.theme not in theme_ids:
            reason = f"unknown theme {decision.theme!r}"
        elif passage is None:
            reason = "passage not found"
        else:
            reason = ""
        if reason:
            message = f"{decision.describe()}: {reason}"
            log.warning("review: %s; the decision is kept in the file but not applied", message)
            outcome.orphaned.append(message)
            continue
        assert passage is not None
        _apply(decision, passage, scores.get(passage.id, {}), outcome.choices)
        outcome.applied += 1
    return outcome


def _apply(decision: Decision, passage: Passage, scores: dict[str, float], choices: ExcerptChoices) -> None:
    current = passage.theme(decision.theme)
    if decision.kind in ("accept", "add"):
        if current is None:
            current = ThemeTag(id=decision.theme, score=scores.get(decision.theme, 0.0),
                               evidence=[Evidence(kind="review")])
            passage.themes.append(current)
        current.source = "review"
        passage.themes.sort(key=lambda t: -t.score)
    elif decision.kind == "reject":
        passage.themes = [t for t in passage.themes if t.id != decision.theme]
    elif decision.kind == "pin":
        pinned = choices.pinned.setdefault(decision.theme, [])
        if passage.id not in pinned:
            pinned.append(passage.id)
    else:
        choices.excluded.setdefault(decision.theme, set()).add(passage.id)
