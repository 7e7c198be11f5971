"""Reviewers' decisions applied to a tagging: themes accepted, rejected or added on a passage,
passages pinned to a theme (optionally shortened) or excluded from it.

The review file itself (its parsing, the passage keys) is `core.review_file`: staff write it
and several stages read it; what a decision does to passages and quotes is the tagger's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..core.artefacts import Evidence, Passage, ThemeTag
from ..core.review_file import Decision, find_passage, why_not_applied
from .excerpts import ExcerptChoices

log = logging.getLogger(__name__)


@dataclass
class ReviewOutcome:
    """What the decisions did to one tagging: counts, orphans, and the excerpt choices."""

    applied: int = 0
    orphaned: list[str] = field(default_factory=list)
    choices: ExcerptChoices = field(default_factory=ExcerptChoices)


def apply_review(passages: list[Passage], decisions: Sequence[Decision], theme_ids: Sequence[str],
                 scores: dict[str, dict[str, float]]) -> ReviewOutcome:
    """Apply the decisions to the passages' themes (in place) and collect the excerpt choices.

    `scores` holds the tagger's score of every theme for every passage id, so an accepted or added
    theme keeps a meaningful score. Reviewed themes carry `"source": "review"`.
    """
    outcome = ReviewOutcome()
    for decision in decisions:
        passage = find_passage(decision.passage, passages)
        reason = why_not_applied(decision, passage, theme_ids)
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
        if decision.sentences:
            choices.sentences.setdefault(decision.theme, {})[passage.id] = list(decision.sentences)
    else:
        choices.excluded.setdefault(decision.theme, set()).add(passage.id)
