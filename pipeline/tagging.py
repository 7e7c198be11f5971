"""Stage 2, tag: a transcript cut into readable passages, each tagged by the cycle's themes.

Transcript -> passages (passages.py) -> themes from the codebook of config.yaml (themes.py) ->
named entities (entities.py) -> human review decisions (review.py) -> quotes per theme
(excerpts.py) -> Tags.

The work that needs spaCy (`machine_tags`) is kept apart from applying the review decisions
(`tag`): the workspace caches the first, so a review edit is re-applied in a second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synthese.artefacts import Codebook, CodebookTheme, Evidence, Models, Passage, ReviewSummary, Tags, ThemeTag, Transcript
from synthese.config import Config
from synthese.entities import entity_index, leading_article, passage_entities
from synthese.excerpts import quotes, select_excerpts
from synthese.passages import split_passages
from synthese.review import Review, apply_review, passage_key, revise_transcript
from synthese.storage import hash_of
from synthese.themes import ThemeClassifier, ThemeScore, above_threshold, load_nlp, mean_vector, model_label

__all__ = ["MachineTags", "classify_texts", "codebook", "machine_tags", "tag"]

log = logging.getLogger(__name__)


@dataclass
class MachineTags:
    """Passages with the tagger's themes, every theme's score and each passage's vector, before
    any human decision: what tagging costs, and what a review edit does not change."""

    nlp: str
    passages: list[Passage]
    scores: dict[str, dict[str, float]]  # passage id -> theme id -> score
    vectors: dict[str, list[float]]  # passage id -> unit mean word vector
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"nlp": self.nlp, "passages": [p.model_dump(mode="json", exclude_none=True) for p in self.passages],
                "scores": self.scores, "vectors": self.vectors, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MachineTags:
        return cls(data["nlp"], [Passage.model_validate(p) for p in data["passages"]], data["scores"],
                   data["vectors"], list(data["warnings"]))


def codebook(config: Config) -> Codebook:
    """The themes as the tags record them, with a short version hash of the whole codebook."""
    themes = [CodebookTheme(id=t.id, label=t.label, description=t.description, keywords=t.all_keywords)
              for t in config.themes]
    return Codebook(version=hash_of([t.model_dump(mode="json") for t in config.themes])[:12], themes=themes)


def theme_tag(score: ThemeScore) -> ThemeTag:
    """A theme the tagger gives, with what a reader can check: the keywords found, or the
    closeness in meaning to the theme's description when no keyword was said."""
    evidence = [Evidence(kind="keyword", term=k) for k in score.keywords]
    if not evidence and score.meaning_points > 0:
        evidence = [Evidence(kind="similarity")]
    return ThemeTag(id=score.theme_id, score=score.score, source="tagger", evidence=evidence)


def machine_tags(transcript: Transcript, config: Config) -> MachineTags:
    """Cut the transcript into passages and score every theme on each (loads spaCy)."""
    options = config.tag
    nlp = load_nlp(options.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, options, config.acronyms)
    articles = leading_article(config.templates.wording()["name_articles"])
    warnings: list[str] = []
    found = split_passages(transcript.segments, nlp, options)
    if not found:
        name = transcript.path.name if transcript.path else "the transcript"
        message = f"{name}: the transcript has no text, so there are no passages to tag."
        log.warning(message)
        warnings.append(message)
    passages: list[Passage] = []
    scores: dict[str, dict[str, float]] = {}
    vectors: dict[str, list[float]] = {}
    all_theme_scores = classifier.score_many([found_passage.span for found_passage in found])
    for number, (found_passage, theme_scores) in enumerate(zip(found, all_theme_scores), start=1):
        pid = f"p{number:03d}"
        tokens = list(found_passage.span)
        scores[pid] = {s.theme_id: s.score for s in theme_scores}
        vectors[pid] = [round(float(x), 6) for x in mean_vector(tokens)]
        passages.append(Passage(
            id=pid,
            key=passage_key(found_passage.start, found_passage.text),
            start=found_passage.start,
            end=found_passage.end,
            speaker=found_passage.speaker,
            text=found_passage.text,
            lang=found_passage.lang,
            sentences=found_passage.sentences,
            themes=[theme_tag(s) for s in above_threshold(theme_scores, options)],
            entities=passage_entities(found_passage.span, articles),
        ))
    return MachineTags(model_label(nlp, options), passages, scores, vectors, warnings)


def tag(transcript: Transcript, config: Config, *, review: Review | None = None, review_file: str = "",
        session_id: str | None = None, machine: MachineTags | None = None) -> Tags:
    """Tag a transcript: the reviewers' corrections and names of voices applied to it, the
    machine's tags (computed here unless given, from that revised transcript), then the
    reviewers' decisions on themes and excerpts, then the quotes of each theme. Pure: reads and
    writes no file."""
    import numpy as np

    review = review or Review()
    revised, revision_orphans = revise_transcript(transcript, review)
    machine = machine or machine_tags(revised, config)
    passages = [p.model_copy(deep=True) for p in machine.passages]
    theme_ids = [t.id for t in config.themes]
    outcome = apply_review(passages, review.decisions, theme_ids, machine.scores)
    orphaned = [*revision_orphans, *outcome.orphaned]
    warnings = [*machine.warnings, *(f"review decision not applied: {o}" for o in orphaned)]
    vectors = {pid: np.asarray(vector, dtype=np.float32) for pid, vector in machine.vectors.items()}
    chosen = select_excerpts(passages, vectors, theme_ids, config.tag, outcome.choices)
    tags = Tags(
        options=config.tag.model_dump(mode="json"),
        session_id=session_id,
        transcript=transcript.path.name if transcript.path else "",
        language=transcript.language or config.transcribe.language,
        duration_s=transcript.duration_s,
        models=Models(asr=transcript.model, nlp=machine.nlp),
        codebook=codebook(config),
        passages=passages,
        excerpts=quotes(passages, chosen, outcome.choices.sentences),
        entities=entity_index(passages),
        review=ReviewSummary(file=review_file, status="reviewed" if outcome.applied or not review.empty
                             else "not reviewed", decisions_applied=outcome.applied,
                             corrections=len(review.corrections) - sum(o.startswith("correction") for o in orphaned),
                             speakers={k: v for k, v in review.speakers.items()
                                       if any(s.speaker == k for s in transcript.segments)},
                             orphaned=orphaned),
        warnings=warnings,
    )
    log.info("%d passages, %d tagged, review %s", len(passages), sum(1 for p in passages if p.themes),
             tags.review.status)
    return tags


def classify_texts(texts: Sequence[str], config: Config) -> list[list[ThemeScore]]:
    """Evaluation mode: every theme's score for each text, classified as it is (no passages)."""
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    return classifier.score_many(list(nlp.pipe(texts)))
