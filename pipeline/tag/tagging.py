"""Stage 2, tag: a transcript cut into readable passages, each tagged by the cycle's themes.

Transcript -> passages of whole sentences, cut where the topic shifts (passages.py) -> themes
from the codebook of config.yaml, for each passage and each of its sentences (themes.py) ->
named entities (entities.py) -> human review decisions (review.py) -> quotes per theme and key
points (excerpts.py), the name index (entities.py) -> Tags.

The work that needs spaCy (`machine_tags`) is kept apart from applying the review decisions
(`tag`): the workspace caches the first, so a review edit is re-applied in a second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core import limits
from ..core.artefacts import (
    Codebook,
    CodebookTheme,
    Evidence,
    Models,
    Passage,
    ReviewSummary,
    Tags,
    ThemeTag,
    Transcript,
)
from ..core.config import Config, Session
from ..core.heard import Mending
from ..core.review_file import Review, confirmed_sentences, passage_key, revise_transcript
from ..core.storage import hash_of
from .decisions import apply_review
from .entities import declared_names, entity_index, leading_article, passage_entities
from .excerpts import (
    SentenceEvidence,
    SessionEvidence,
    held_quotes,
    key_points,
    pack_vectors,
    select_quotes,
    sentence_doubts,
    subtheme_of,
    unpack_vectors,
)
from .passages import split_passages
from .references import acronyms_said, reference_patterns, references_said
from .themes import ThemeClassifier, ThemeScore, above_threshold, load_nlp, model_label

__all__ = ["MachineTags", "classify_texts", "codebook", "machine_tags", "tag", "wording_read"]

log = logging.getLogger(__name__)

# A session where more passages than this share carry no theme is said to be off the cycle's themes.
OFF_TOPIC_SHARE = 0.5
# The keys of wording.fr.yaml the tag stage reads: editing one of them changes the tags.
WORDING_READ = ("name_articles", "meta_talk", "function_words", "cut_words", "continuation_words",
                "reference_patterns")


def wording_read(wording: dict[str, Any]) -> dict[str, Any]:
    """What the tag stage reads of the wording (for the orchestration's inputs hash)."""
    return {key: wording.get(key) for key in WORDING_READ}


@dataclass
class MachineTags:
    """Passages with the tagger's themes, every theme's score, and what each sentence says of
    each theme (with its sentence-encoder vector), before any human decision: what tagging
    costs, and what a review edit does not change."""

    VERSION = 3  # of the cache file's shape

    nlp: str
    passages: list[Passage]
    scores: dict[str, dict[str, float]]  # passage id -> theme id -> score
    sentences: dict[str, list[SentenceEvidence]]  # passage id -> evidence of each of its sentences
    vectors: dict[str, Any]  # passage id -> (sentences, dims) unit vectors (numpy); absent without encoder
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        dims = next((int(v.shape[1]) for v in self.vectors.values() if len(v)), 0)
        return {"version": self.VERSION, "nlp": self.nlp,
                "passages": [p.model_dump(mode="json", exclude_none=True) for p in self.passages],
                "scores": self.scores,
                "sentences": {pid: [e.to_json() for e in evidence] for pid, evidence in self.sentences.items()},
                "dims": dims, "vectors": {pid: pack_vectors(v) for pid, v in self.vectors.items()},
                "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MachineTags:
        if data.get("version") != cls.VERSION:
            raise KeyError("version")
        return cls(data["nlp"], [Passage.model_validate(p) for p in data["passages"]], data["scores"],
                   {pid: [SentenceEvidence.from_json(e) for e in evidence] for pid, evidence in data["sentences"].items()},
                   {pid: unpack_vectors(text, data["dims"]) for pid, text in data["vectors"].items()},
                   list(data["warnings"]))


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
    """Cut the transcript into passages and score every theme on each, and on each of their
    sentences (loads spaCy and the sentence encoder)."""
    options = config.tag
    nlp = load_nlp(options.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, options, config.acronyms)
    wording = config.templates.wording()
    articles = leading_article(wording["name_articles"])
    meta_talk = wording.get("meta_talk", [])
    warnings: list[str] = []
    mending = Mending.from_wording(wording) if (transcript.language or "fr") == "fr" else None
    found = split_passages(transcript.segments, nlp, options, mending=mending)
    if not found:
        name = transcript.path.name if transcript.path else "the transcript"
        message = f"{name}: the transcript has no text, so there are no passages to tag."
        log.warning(message)
        warnings.append(message)
    passages: list[Passage] = []
    scores: dict[str, dict[str, float]] = {}
    sentences: dict[str, list[SentenceEvidence]] = {}
    vectors: dict[str, Any] = {}
    all_theme_scores = classifier.score_many([found_passage.span for found_passage in found])
    for number, (found_passage, theme_scores) in enumerate(zip(found, all_theme_scores), start=1):
        pid = f"p{number:03d}"
        scores[pid] = {s.theme_id: s.score for s in theme_scores}
        sentences[pid] = classifier.sentence_evidence(found_passage.span, found_passage.sentence_spans,
                                                      found_passage.sentence_vectors, meta_talk)
        if found_passage.sentence_vectors is not None:
            vectors[pid] = found_passage.sentence_vectors
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
    return MachineTags(model_label(nlp, options), passages, scores, sentences, vectors, warnings)


def tag(transcript: Transcript, config: Config, *, review: Review | None = None, review_file: str = "",
        session_id: str | None = None, machine: MachineTags | None = None, session: Session | None = None,
        revised: tuple[Transcript, list[str]] | None = None) -> Tags:
    """Tag a transcript: the reviewers' corrections and names of voices applied to it, the
    machine's tags (computed here unless given, from that revised transcript), then the
    reviewers' decisions on themes and excerpts, then the quotes of each theme, the key points
    and the name index (`session` gives the declared speakers and organisations the index always
    keeps). `revised` is `revise_transcript(transcript, review)` when the caller made it already.
    Pure: reads and writes no file."""
    review = review or Review()
    revised_transcript, revision_orphans = revised or revise_transcript(transcript, review)
    machine = machine or machine_tags(revised_transcript, config)
    passages = [p.model_copy(deep=True) for p in machine.passages]
    theme_ids = [t.id for t in config.themes]
    outcome = apply_review(passages, review.decisions, theme_ids, machine.scores)
    confirmed, confirmation_orphans = confirmed_sentences(review.confirmations, passages)
    orphaned = [*revision_orphans, *outcome.orphaned, *confirmation_orphans]
    warnings = [*machine.warnings, *(f"review decision not applied: {o}" for o in orphaned)]
    off_topic = off_topic_warning(passages, session_id or (session.id if session else None))
    if off_topic:
        log.warning("%s", off_topic)
        warnings.append(off_topic)
    wording = config.templates.wording()
    evidence = SessionEvidence(machine.sentences, machine.vectors, theme_ids, config.tag,
                               doubtful=sentence_doubts(passages, revised_transcript.gaps, confirmed),
                               mending=Mending.from_wording(wording))
    # The words the recogniser was unsure of, by passage, where no reviewer checked them: names
    # and references said only in such words are not listed.
    unsure = {p.id: {w.text.lower().strip(".,;:!?«»\"()…") for i, s in enumerate(p.sentences)
                     if i not in confirmed.get(p.id, ()) for w in s.unsure} for p in passages}
    excerpts = select_quotes(passages, evidence, outcome.choices)
    for theme in config.themes:
        labels = [sub.label for sub in theme.subthemes]
        keywords = [sub.keywords for sub in theme.subthemes]
        for quote in excerpts.get(theme.id, []):
            quote.subtheme = subtheme_of(quote, theme.id, labels, keywords, evidence)
    if session is not None:
        session_id = session_id or session.id
    tags = Tags(
        options=config.tag.model_dump(mode="json"),
        session_id=session_id,
        transcript=transcript.path.name if transcript.path else "",
        language=transcript.language or config.transcribe.language,
        duration_s=transcript.duration_s,
        models=Models(asr=transcript.model, nlp=machine.nlp),
        codebook=codebook(config),
        passages=passages,
        excerpts=excerpts,
        held=held_quotes(passages, evidence, outcome.choices, excerpts),
        key_points=key_points(passages, evidence, excerpts, outcome.choices),
        entities=entity_index(passages, config.index, declared_names(config, session), config.themes, unsure),
        references=references_said(passages, reference_patterns(wording.get("reference_patterns") or []), unsure),
        glossary=acronyms_said(passages, config.acronyms, unsure),
        review=ReviewSummary(file=review_file, status="reviewed" if outcome.applied or not review.empty
                             else "not reviewed", decisions_applied=outcome.applied,
                             corrections=len(review.corrections) - sum(o.startswith("correction ") for o in orphaned),
                             speakers={k: v for k, v in review.speakers.items()
                                       if any(s.speaker == k for s in transcript.segments)},
                             orphaned=orphaned),
        warnings=warnings,
    )
    log.info("%d passages, %d tagged, %d quotes, review %s", len(passages), sum(1 for p in passages if p.themes),
             sum(len(q) for q in excerpts.values()), tags.review.status)
    return tags


def off_topic_warning(passages: Sequence[Passage], session_id: str | None) -> str:
    """A warning when most passages carry no theme of the codebook ("" otherwise): the session
    may not belong to the cycle, or discusses what its codebook does not name."""
    untagged = sum(1 for p in passages if not p.themes)
    if not passages or untagged / len(passages) <= OFF_TOPIC_SHARE:
        return ""
    return (f"{session_id or 'the session'}: {untagged} of {len(passages)} passages "
            f"({round(100 * untagged / len(passages))} %) have no theme of the cycle: check that the session "
            f"belongs to the cycle, or add the themes it discusses to config.yaml's themes")


def classify_texts(texts: Sequence[str], config: Config) -> list[list[ThemeScore]]:
    """Evaluation mode: every theme's score for each text, classified as it is (no passages)."""
    limits.check_words_and_characters("the passages", ((None, text) for text in texts))
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    return classifier.score_many(list(nlp.pipe(texts)))
