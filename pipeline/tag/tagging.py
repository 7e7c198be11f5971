"""Stage 2, tag: a transcript cut into readable passages, each tagged by the cycle's themes.

Transcript -> passages of whole sentences, cut where the topic shifts (passages.py) -> themes
from the codebook of config.yaml, for each passage and each of its sentences (themes.py) ->
named entities (entities.py) -> human review decisions (review.py) -> quotes per theme and key
points (excerpts.py), the name index (entities.py), and what staff write the synthesis from
(synthesis.py: « À retenir », the speakers, the questions, the axes' sentences and the
statements the cycle compares) -> Tags. The programme's transversal axes are tagged as themes
are, from their keywords (`axis_classifier`).

The work that needs spaCy (`machine_tags`) is kept apart from applying the review decisions
(`tag`): the workspace caches the first, so a review edit is re-applied in a second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core import limits
from ..core.approval import voice_pattern
from ..core.artefacts import (
    Codebook,
    CodebookTheme,
    Evidence,
    KeyMessages,
    Models,
    Passage,
    ReviewSummary,
    Tags,
    ThemeTag,
    Transcript,
)
from ..core.config import Config, Session, TagOptions
from ..core.heard import Mending
from ..core.ideas import pack_vectors, unpack_vectors
from ..core.review_file import Review, confirmed_sentences, passage_key, revise_transcript
from ..core.storage import hash_of
from .decisions import apply_review
from .entities import declared_names, entity_index, leading_article, passage_entities
from .excerpts import (
    SentenceEvidence,
    SessionEvidence,
    held_quotes,
    key_points,
    select_quotes,
    sentence_doubts,
    subtheme_of,
)
from .passages import split_passages
from .references import acronyms_said, reference_patterns, references_said
from .synthesis import axis_quotes, exchanges, printed, propose_key_messages, speaker_summaries, statements, written_messages
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

    VERSION = 4  # of the cache file's shape

    nlp: str
    passages: list[Passage]  # with the tagger's themes and axes
    scores: dict[str, dict[str, float]]  # passage id -> theme id -> score
    sentences: dict[str, list[SentenceEvidence]]  # passage id -> evidence of each of its sentences
    vectors: dict[str, Any]  # passage id -> (sentences, dims) unit vectors (numpy); absent without encoder
    warnings: list[str]
    # passage id -> what each of its sentences says of each transversal axis (cycle.axes)
    axis_sentences: dict[str, list[SentenceEvidence]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        dims = next((int(v.shape[1]) for v in self.vectors.values() if len(v)), 0)
        return {"version": self.VERSION, "nlp": self.nlp,
                "passages": [p.model_dump(mode="json", exclude_none=True) for p in self.passages],
                "scores": self.scores,
                "sentences": {pid: [e.to_json() for e in evidence] for pid, evidence in self.sentences.items()},
                "axis_sentences": {pid: [e.to_json() for e in evidence]
                                   for pid, evidence in self.axis_sentences.items()},
                "dims": dims, "vectors": {pid: pack_vectors(v) for pid, v in self.vectors.items()},
                "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MachineTags:
        if data.get("version") != cls.VERSION:
            raise KeyError("version")

        def evidence(section: dict[str, Any]) -> dict[str, list[SentenceEvidence]]:
            return {pid: [SentenceEvidence.from_json(e) for e in items] for pid, items in section.items()}

        return cls(data["nlp"], [Passage.model_validate(p) for p in data["passages"]], data["scores"],
                   evidence(data["sentences"]),
                   {pid: unpack_vectors(text, data["dims"]) for pid, text in data["vectors"].items()},
                   list(data["warnings"]), evidence(data["axis_sentences"]))


def codebook(config: Config) -> Codebook:
    """The themes (and the programme's transversal axes) as the tags record them, with a short
    version hash of the whole codebook."""
    themes = [CodebookTheme(id=t.id, label=t.label, description=t.description, keywords=t.all_keywords)
              for t in config.themes]
    axes = [CodebookTheme(id=a.id, label=a.label, description=a.description, keywords=a.keywords)
            for a in config.cycle.axes]
    version = hash_of([t.model_dump(mode="json") for t in config.themes],
                      *([[a.model_dump(mode="json") for a in config.cycle.axes]] if axes else []))[:12]
    return Codebook(version=version, themes=themes, axes=axes)


def axis_classifier(nlp: Any, config: Config) -> ThemeClassifier | None:
    """The programme's transversal axes compiled as themes are, from their keywords (an axis has
    no description to compare meanings with, nor calibrated weights: the threshold learned with
    tag.weights_file is the themes', so axes keep the default one); None when the cycle names
    no axis. Its `options` are those to tag with."""
    if not config.cycle.axes:
        return None
    threshold = TagOptions.model_fields["threshold"].default if config.tag.weights_file else config.tag.threshold
    options = config.tag.model_copy(update={"meaning": "none", "threshold": threshold})
    return ThemeClassifier(nlp, [axis.as_theme() for axis in config.cycle.axes], options, config.acronyms)


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
        log.info(message)  # a warning of the tags: whoever runs the stage shows them (`synthese run` after each session)
        warnings.append(message)
    passages: list[Passage] = []
    scores: dict[str, dict[str, float]] = {}
    sentences: dict[str, list[SentenceEvidence]] = {}
    vectors: dict[str, Any] = {}
    all_theme_scores = classifier.score_many([found_passage.span for found_passage in found])
    axes = axis_classifier(nlp, config)
    all_axis_scores = axes.score_many([p.span for p in found]) if axes is not None else [[] for _ in found]
    axis_sentences: dict[str, list[SentenceEvidence]] = {}
    for number, (found_passage, theme_scores, axis_scores) in enumerate(zip(found, all_theme_scores, all_axis_scores),
                                                                        start=1):
        pid = f"p{number:03d}"
        scores[pid] = {s.theme_id: s.score for s in theme_scores}
        sentences[pid] = classifier.sentence_evidence(found_passage.span, found_passage.sentence_spans,
                                                      found_passage.sentence_vectors, meta_talk)
        if axes is not None:
            axis_sentences[pid] = axes.sentence_evidence(found_passage.span, found_passage.sentence_spans, None,
                                                         meta_talk)
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
            axes=[theme_tag(s) for s in above_threshold(axis_scores, axes.options)] if axes is not None else [],
        ))
    return MachineTags(model_label(nlp, options), passages, scores, sentences, vectors, warnings, axis_sentences)


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
    off_topic = off_topic_warning(passages)
    if off_topic:
        log.info("%s: %s", session_id or (session.id if session else "the session"), off_topic)  # shown by the caller
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
    # What staff write the synthesis from (tag/synthesis.py): the sentences the chapters quote
    # are never printed again, nor those each section takes before the next.
    quoted, quoted_texts = printed(excerpts, passages)
    proposals = propose_key_messages(passages, evidence, quoted, quoted_texts, config.tag.key_messages)
    used, used_texts = printed([*(q for quotes in excerpts.values() for q in quotes), *(p.quote for p in proposals)],
                               passages)
    written, message_orphans = written_messages(review.key_messages, passages)
    duration_s = float(transcript.duration_s or max((p.end for p in passages), default=0.0))
    # The questions staff mark, and the answers they name, are theirs: printed as they chose,
    # they come before the sentences the tool picks for the speakers and the key points, which
    # then never say them again. The questions the tool proposes take what is left, last.
    talks, question_orphans = exchanges(passages, evidence, review.questions, duration_s, used) \
        if review.questions else ([], [])
    asked = [quote for talk in talks for quote in (talk.question, talk.answer) if quote is not None]
    asked_sentences, asked_texts = printed(asked, passages)
    used |= asked_sentences
    used_texts |= asked_texts
    speakers, presentation_orphans = speaker_summaries(
        passages, evidence, revised_transcript.segments, voice_pattern(wording["speaker_label"]), review.presentations,
        review.presentation_lines, used, used_texts)
    points = key_points(passages, evidence, excerpts, outcome.choices, session=[p.quote for p in proposals],
                        reserved=[*(q for speaker in speakers for q in speaker.quotes), *asked])
    used.update((q.passage, i) for chosen in points.themes.values() for q in chosen for i in q.sentences)
    if not review.questions:
        talks, question_orphans = exchanges(passages, evidence, review.questions, duration_s, used)
    written_orphans = [*message_orphans, *presentation_orphans, *question_orphans]
    for orphan in written_orphans:
        log.warning("review: %s; it is kept in the file but not applied", orphan)
    orphaned += written_orphans
    warnings += [f"review decision not applied: {o}" for o in written_orphans]
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
        key_points=points,
        key_messages=KeyMessages(written=written, proposals=proposals),
        speakers=speakers,
        exchanges=talks,
        axis_quotes=axis_quotes(passages, machine.axis_sentences, [a.id for a in config.cycle.axes], evidence,
                                quoted, quoted_texts),
        statements=statements(passages, evidence),
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


def off_topic_warning(passages: Sequence[Passage]) -> str:
    """A warning when most passages carry no theme of the codebook ("" otherwise): the session
    may not belong to the cycle, or discusses what its codebook does not name. Like the tags'
    other warnings it does not name the session: whoever shows it says which."""
    untagged = sum(1 for p in passages if not p.themes)
    if not passages or untagged / len(passages) <= OFF_TOPIC_SHARE:
        return ""
    return (f"{untagged} of {len(passages)} passages "
            f"({round(100 * untagged / len(passages))} %) have no theme of the cycle: check that the session "
            f"belongs to the cycle, or add the themes it discusses to config.yaml's themes")


def classify_texts(texts: Sequence[str], config: Config) -> list[list[ThemeScore]]:
    """Evaluation mode: every theme's score for each text, classified as it is (no passages)."""
    limits.check_words_and_characters("the passages", ((None, text) for text in texts))
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    return classifier.score_many(list(nlp.pipe(texts)))
