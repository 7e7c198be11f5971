"""Theme classifier: the codebook of config.yaml applied to passages of French text.

A theme's evidence in a passage is counted in points:

* keywords (pipeline/keywords.py: inflected and derived forms, compounds, acronyms, phrases
  with words in between): each distinct keyword found adds its weight. A weight is what the
  keyword alone says of the theme: specific phrases weigh 1 point or more and tag a passage
  alone, generic words less and need other evidence. Weights come, by order of precedence, from
  the keyword's `weight:` in config.yaml, from tag.weights_file (written by `synthese
  calibrate` from labelled passages, pipeline/calibrate.py), else from tag.phrase_weight or
  tag.word_weight. A keyword marked `weak: true` counts at most tag.weak_points, below the
  bar: it never tags alone.
  Passages longer than tag.reference_words have their keyword points scaled down;
* meaning (pipeline/meaning.py): the passage's similarity to the theme relative to the other
  themes. Calibrated (tag.weights_file has a `meaning:` section), it is the similarity to the
  theme's direction learned from labelled passages times the calibrated points per unit of
  similarity, and may be negative: a passage far from the theme needs more keyword evidence.
  Otherwise it is the similarity to the theme's description, examples and sub-themes, worth 0
  to tag.similarity_points.

score = 1 - 2^-points, in [0, 1) (0 when the points are negative); a theme is tagged when its
score reaches tag.threshold (0.5, i.e. 1 point, by default; the calibrated one where
tag.weights_file gives it). Weights are log-odds in base 2 of a keyword's precision: a keyword
found in passages about the theme 3 times out of 4 weighs -log2(1 - 0.75) = 2 points.
"""

from __future__ import annotations

import bisect
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.config import TagOptions, Theme
from ..core.errors import ModelError
from .keywords import KeywordMatcher, Match

if TYPE_CHECKING:  # spaCy is a heavy import: only for type names here.
    import numpy as np
    from spacy.language import Language
    from spacy.tokens import Span, Token

    from .meaning import CalibratedMeaning, ThemeMeaning

log = logging.getLogger(__name__)



@functools.lru_cache(maxsize=2)
def load_nlp(model_name: str) -> Language:
    """Load a spaCy pipeline once per process; a missing model names the package to install."""
    try:
        import spacy
    except ImportError:  # pragma: no cover - spaCy is a core dependency
        raise ModelError("spaCy is not installed. Install it with: pip install spacy") from None
    try:
        nlp = spacy.load(model_name)
    except OSError:
        raise ModelError(
            f"spaCy model {model_name!r} is not installed. Install the package {model_name} "
            f"(python -m spacy download {model_name}) or set tag.spacy_model in config.yaml."
        ) from None
    log.debug("loaded spaCy model %s %s", model_name, nlp.meta.get("version", ""))
    return nlp


def model_label(nlp: Language, options: TagOptions | None = None) -> str:
    """'fr_core_news_md 3.8.0' (with the sentence encoder when it is used), as recorded in the
    tags artefact."""
    meta = nlp.meta
    label = f"{meta.get('lang', '')}_{meta.get('name', '')} {meta.get('version', '')}".strip()
    if options is not None and options.meaning == "sentence-encoder":
        from .meaning import encoder_label

        label = f"{label} + {encoder_label()}"
    return label


def content_tokens(tokens: Sequence[Token]) -> list[Token]:
    """Words that carry meaning: alphabetic, not stop words, with a vector."""
    return [t for t in tokens if t.is_alpha and not t.is_stop and len(t) > 2 and t.has_vector]


@dataclass(frozen=True)
class ThemeEvidence:
    """What the classifier found for one theme in one passage, before any weight."""

    theme_id: str
    keywords: tuple[str, ...]  # codebook keywords found, each once, in order of first occurrence
    occurrences: tuple[int, ...]  # how many times each was found
    words: int  # the passage's length, as text.split() counts
    # meaning: similarity to the theme minus the mean over themes; calibrated, already in points
    similarity: float


@dataclass
class SentenceEvidence:
    """What the tagger found in one sentence of a passage, for choosing quotes and key points."""

    words: int
    points: dict[str, float]  # theme id -> points of the theme's keywords said in the sentence
    keywords: dict[str, list[str]]  # theme id -> those keywords
    meaning: list[float]  # similarity to each theme (codebook order) minus the mean over themes
    subthemes: dict[str, list[float]]  # theme id -> cosine similarity to each of its sub-themes
    verb: bool  # it has a verb: a clause, not a heading
    meta: bool = False  # it talks about the session itself (welcome, turns, thanks, agenda)

    def to_json(self) -> dict[str, Any]:
        return {"w": self.words, "p": self.points, "k": self.keywords, "m": self.meaning, "s": self.subthemes,
                "v": self.verb, "t": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceEvidence:
        return cls(data["w"], data["p"], data["k"], data["m"], data["s"], data["v"], data.get("t", False))


@functools.lru_cache(maxsize=4)
def _meta_pattern(words: tuple[str, ...]):
    import re

    if not words:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?![\w-])")


def _addresses(sentence: Span) -> bool:
    """A sentence that opens by naming someone and speaks to them ("Sophie Garnier, vous avez
    accompagné…"): a moderator handing over, not a statement."""
    tokens = [t for t in sentence if not t.is_space]
    names = 0
    while names < len(tokens) and tokens[names].pos_ == "PROPN":
        names += 1
    return 0 < names < len(tokens) and tokens[names].text == "," and any(t.lower_ == "vous" for t in tokens)


@dataclass(frozen=True)
class ThemeScore:
    theme_id: str
    score: float
    keyword_points: float
    meaning_points: float
    keywords: tuple[str, ...]  # the codebook keywords found: the evidence a reader can check


def keyword_weights(theme: Theme, kinds: dict[str, str], options: TagOptions) -> dict[str, float]:
    """Every keyword's weight in points: config.yaml's weight, else the calibrated one, else the
    default for its kind; weak keywords capped below the bar."""
    weights = {}
    for term, kind in kinds.items():
        setting = theme.setting(term)
        if setting.weight is not None:
            weight = setting.weight
        elif term in theme.calibrated_weights:
            weight = theme.calibrated_weights[term]
        else:
            weight = default_weight(kind, options)
        if setting.weak:
            weight = min(weight, options.weak_points)
        weights[term] = weight
    return weights


def default_weight(kind: str, options: TagOptions) -> float:
    """A phrase or a compound prefix is specific; a single word is not, until data says so."""
    return options.phrase_weight if kind in ("phrase", "prefix") else options.word_weight


def meaning_points(similarity: float, options: TagOptions) -> float:
    """Points of the codebook's meaning signal: 0 up to similarity_low, similarity_points from
    similarity_high."""
    low, high = options.similarity_low, options.similarity_high
    return options.similarity_points * min(1.0, max(0.0, (similarity - low) / (high - low)))


def length_factor(words: int, options: TagOptions) -> float:
    """Keyword points are scaled down beyond tag.reference_words."""
    return min(1.0, options.reference_words / max(words, 1))


def combine(evidence: ThemeEvidence, weights: dict[str, float], options: TagOptions,
            calibrated_meaning: bool = False) -> ThemeScore:
    """Score one theme from its evidence: pure arithmetic. pipeline/calibrate.py does the same
    on arrays of labelled passages."""
    keyword = sum(weights.get(term, 0.0) for term in evidence.keywords) * length_factor(evidence.words, options)
    if options.meaning == "none":
        meaning = 0.0
    elif calibrated_meaning:
        meaning = evidence.similarity
    else:
        meaning = meaning_points(evidence.similarity, options)
    score = max(0.0, 1.0 - 2.0 ** -(keyword + meaning))
    return ThemeScore(evidence.theme_id, round(score, 4), round(keyword, 4), round(meaning, 4),
                      tuple(evidence.keywords))


class ThemeClassifier:
    """The codebook compiled against a spaCy pipeline: keyword matcher, weights, theme meanings."""

    def __init__(self, nlp: Language, themes: Sequence[Theme], options: TagOptions,
                 acronyms: dict[str, str] | None = None):
        self.nlp = nlp
        self.themes = list(themes)
        self.options = options
        self.matcher = KeywordMatcher(nlp, self.themes, acronyms)
        kinds: dict[str, dict[str, str]] = {t.id: {} for t in self.themes}
        for keyword in self.matcher.keywords:
            kinds[keyword.theme_id][keyword.term] = keyword.kind
        self.kinds = kinds
        self.weights = {t.id: keyword_weights(t, kinds[t.id], options) for t in self.themes}
        # Meaning learned from labelled passages replaces the codebook's where the weights file
        # gives it for any theme (the others then get no meaning points).
        self.calibrated_meaning = any(t.calibrated_meaning for t in self.themes)
        self._meaning: ThemeMeaning | CalibratedMeaning | None = None
        self._codebook_meaning: ThemeMeaning | None = None

    @property
    def meaning(self) -> ThemeMeaning | CalibratedMeaning | None:
        if self.options.meaning == "none":
            return None
        if self._meaning is None:
            from .meaning import CalibratedMeaning, ThemeMeaning

            if self.calibrated_meaning:
                self._meaning = CalibratedMeaning([t.calibrated_meaning for t in self.themes])
            else:
                self._meaning = ThemeMeaning(self.themes)
        return self._meaning

    @property
    def codebook_meaning(self) -> ThemeMeaning | None:
        """The themes' and sub-themes' closeness in meaning as the codebook describes them: what
        sentences are compared with to choose quotes, key points and sub-themes (a similarity,
        not points, whatever the passages' meaning signal is)."""
        if self.options.meaning == "none":
            return None
        if self._codebook_meaning is None:
            from .meaning import ThemeMeaning

            meaning = self.meaning
            self._codebook_meaning = meaning if isinstance(meaning, ThemeMeaning) else ThemeMeaning(self.themes)
        return self._codebook_meaning

    def matches(self, tokens: Sequence[Token]) -> list[Match]:
        return self.matcher.match(tokens)

    def evidence_many(self, passages: Sequence[Iterable[Token]]) -> list[list[ThemeEvidence]]:
        """Keywords found and meaning similarity for every theme of every passage, in codebook
        order (the sentence encoder runs once over all passages)."""
        token_lists = [list(p) for p in passages]
        texts = ["".join(t.text_with_ws for t in tokens).strip() for tokens in token_lists]
        meaning = self.meaning
        similarities = meaning.similarities(texts) if meaning is not None else None
        result = []
        for index, (tokens, text) in enumerate(zip(token_lists, texts)):
            found: dict[str, dict[str, int]] = {t.id: {} for t in self.themes}
            for match in self.matcher.match(tokens):
                found[match.theme_id][match.term] = found[match.theme_id].get(match.term, 0) + 1
            words = len(text.split())
            result.append([ThemeEvidence(theme.id, tuple(found[theme.id]), tuple(found[theme.id].values()), words,
                                         float(similarities[index, j]) if similarities is not None else 0.0)
                           for j, theme in enumerate(self.themes)])
        return result

    def sentence_evidence(self, span: Span, sentences: Sequence[Span], vectors: np.ndarray | None,
                          meta_talk: Sequence[str] = ()) -> list[SentenceEvidence]:
        """What each sentence of a passage says of each theme: the keywords found in it (a
        keyword is matched over the whole passage and counts in the sentence it starts in), its
        closeness in meaning to each theme and sub-theme, and whether it has a verb. `vectors`
        are the sentences' unit vectors (embedded here when None and the encoder is used);
        `meta_talk` the words of talk about the session itself (wording.fr.yaml)."""
        meta = _meta_pattern(tuple(meta_talk))
        starts = [s.start - span.start for s in sentences]
        found: list[dict[str, dict[str, None]]] = [{} for _ in sentences]
        for match in self.matcher.match(list(span)):
            index = max(0, bisect.bisect_right(starts, match.tokens[0]) - 1)
            found[index].setdefault(match.theme_id, {})[match.term] = None
        meaning = self.codebook_meaning
        relative = subthemes = None
        if meaning is not None and sentences:
            if vectors is None:
                from .meaning import embed

                vectors = embed([s.text for s in sentences])
            relative = meaning.relative(vectors)
            subthemes = {theme_id: vectors @ centroids.T for theme_id, centroids in meaning.subthemes.items()}
        result = []
        for k, sentence in enumerate(sentences):
            keywords = {theme_id: list(terms) for theme_id, terms in found[k].items()}
            points = {theme_id: round(sum(self.weights[theme_id].get(term, 0.0) for term in terms), 4)
                      for theme_id, terms in keywords.items()}
            result.append(SentenceEvidence(
                words=len(sentence.text.split()),
                points=points,
                keywords=keywords,
                meaning=[round(float(x), 4) for x in relative[k]] if relative is not None else [],
                subthemes={theme_id: [round(float(x), 4) for x in sims[k]] for theme_id, sims in subthemes.items()}
                if subthemes is not None else {},
                verb=any(t.pos_ in ("VERB", "AUX") and "Fin" in t.morph.get("VerbForm", []) for t in sentence),
                meta=(meta is not None and bool(meta.search(" ".join(
                    [sentence.text.lower(), *(t.lemma_.lower() for t in sentence)])))) or _addresses(sentence),
            ))
        return result

    def score_many(self, passages: Sequence[Iterable[Token]]) -> list[list[ThemeScore]]:
        """Scores for every theme of every passage, in codebook order (tagged or not)."""
        return [[combine(e, self.weights[e.theme_id], self.options, self.calibrated_meaning) for e in evidence]
                for evidence in self.evidence_many(passages)]

    def score(self, tokens: Iterable[Token]) -> list[ThemeScore]:
        """Scores for every theme of one passage, in codebook order (tagged or not)."""
        return self.score_many([tokens])[0]


def above_threshold(scores: Sequence[ThemeScore], options: TagOptions) -> list[ThemeScore]:
    """The themes a passage is tagged with: score at or above the threshold, best first."""
    return sorted((s for s in scores if s.score >= options.threshold), key=lambda s: -s.score)
