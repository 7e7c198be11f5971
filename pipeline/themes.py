"""Theme classifier: the codebook of config.yaml applied to passages of French text.

Two signals per theme, combined into one score in [0, 1]:

* keywords (precision): the theme's keywords, matched on lower-cased lemmas with spaCy's
  PhraseMatcher, multiword phrases included ("gaz à effet de serre" also matches "gaz à effets de
  serre"); every occurrence counts (a theme named three times weighs more than one named once),
  scaled down for passages longer than the labelled ones the scores were calibrated on, and the
  count saturates (1 - exp(-count / keyword_saturation));
* similarity (recall): how close the passage's content words are to the words of the theme's
  description, keywords and examples in the model's word vectors ("soft" keyword matching: each
  passage word is paired with its nearest theme word), taken relative to the other themes so that a
  passage's general vocabulary does not lift every theme at once.

score = keyword_weight * keyword_score + similarity_weight * similarity_score, divided by the sum
of the weights; a theme is tagged when its score reaches the threshold. Everything about the
themes comes from the codebook; the few numbers are options of config.yaml (tag:) calibrated on
the labelled passages in the evaluation set (see bench/bench_tag.py).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthese.config import TagOptions, Theme
from synthese.errors import ModelError

if TYPE_CHECKING:  # spaCy is a heavy import: only for type names here.
    import numpy as np
    from spacy.language import Language
    from spacy.tokens import Token

log = logging.getLogger(__name__)

# Keyword occurrences are scaled down beyond this many words: the length of the longest labelled
# passages the options were calibrated on (37-89 words), so a 130-word passage needs
# proportionally more mentions of a theme than a calibrated one.
REFERENCE_WORDS = 90


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


def model_label(nlp: Language) -> str:
    """'fr_core_news_md 3.8.0', as recorded in the tags artefact."""
    meta = nlp.meta
    return f"{meta.get('lang', '')}_{meta.get('name', '')} {meta.get('version', '')}".strip()


def _lemma(token: Token) -> str:
    return token.lemma_.lower().replace("’", "'") or token.lower_


def _lower(token: Token) -> str:
    return token.lower_.replace("’", "'")


def content_tokens(tokens: Iterable[Token]) -> list[Token]:
    """Words that carry meaning: alphabetic, not stop words, with a vector."""
    return [t for t in tokens if t.is_alpha and not t.is_stop and len(t) > 2 and t.has_vector]


def unit_vectors(tokens: Sequence[Token]) -> np.ndarray:
    import numpy as np

    if not tokens:
        return np.zeros((0, 300), dtype="float32")
    vectors = np.array([t.vector for t in tokens], dtype="float32")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def mean_vector(tokens: Iterable[Token]) -> np.ndarray:
    """Unit-length mean of the content words' vectors (zeros when there are none)."""
    import numpy as np

    vectors = unit_vectors(content_tokens(tokens))
    if not len(vectors):
        return np.zeros(vectors.shape[1], dtype="float32")
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-9)


@dataclass(frozen=True)
class ThemeFeatures:
    """What the classifier saw for one theme in one passage, before any threshold."""

    theme_id: str
    keywords: tuple[str, ...]  # codebook keywords found, in order of first occurrence
    keyword_count: float  # occurrences, scaled to REFERENCE_WORDS for longer passages
    similarity: float  # soft similarity relative to the mean over themes (about -0.1 .. 0.1)


@dataclass(frozen=True)
class ThemeScore:
    theme_id: str
    score: float
    keyword_score: float
    similarity_score: float
    keywords: tuple[str, ...]  # codebook keywords found: the evidence a reader can check


def keyword_score(count: float, options: TagOptions) -> float:
    return 1.0 - math.exp(-count / options.keyword_saturation)


def similarity_score(similarity: float, options: TagOptions) -> float:
    low, high = options.similarity_low, options.similarity_high
    return min(1.0, max(0.0, (similarity - low) / (high - low)))


def combine(features: ThemeFeatures, options: TagOptions) -> ThemeScore:
    """Score one theme from its features: pure arithmetic, so calibration can replay it cheaply."""
    kw = keyword_score(features.keyword_count, options)
    sim = similarity_score(features.similarity, options)
    total_weight = options.keyword_weight + options.similarity_weight
    score = (options.keyword_weight * kw + options.similarity_weight * sim) / total_weight if total_weight else 0.0
    return ThemeScore(features.theme_id, round(score, 4), round(kw, 4), round(sim, 4), features.keywords)


class ThemeClassifier:
    """The codebook compiled against a spaCy pipeline: keyword matcher and theme vocabularies."""

    def __init__(self, nlp: Language, themes: Sequence[Theme], options: TagOptions):
        from spacy.matcher import PhraseMatcher

        self.nlp = nlp
        self.themes = list(themes)
        self.options = options
        self.matcher = PhraseMatcher(nlp.vocab)
        # The matcher runs over a copy of the passage whose words are lower-cased lemmas, and over
        # one whose words are the lower-cased text: the first finds inflected forms, the second
        # keywords the lemmatiser gets wrong (it turns "données" into "donner" out of context).
        for theme in self.themes:
            keywords = [k.strip() for k in theme.all_keywords if k.strip()]
            for keyword, doc in zip(keywords, nlp.pipe(keywords)):
                patterns = {tuple(_lower(t) for t in doc)}
                if len(doc) > 1:  # a single keyword is written as its lemma already
                    patterns.add(tuple(_lemma(t) for t in doc))
                self.matcher.add(self._key(theme.id, keyword), [self._words_doc(p) for p in patterns])
        self.vocabularies = [self._theme_vocabulary(theme) for theme in self.themes]

    @staticmethod
    def _key(theme_id: str, keyword: str) -> str:
        return f"{theme_id}\x1f{keyword}"

    def _words_doc(self, words: Sequence[str]) -> Any:
        from spacy.tokens import Doc

        return Doc(self.nlp.vocab, words=list(words))

    def _theme_vocabulary(self, theme: Theme) -> np.ndarray:
        texts = [theme.label, theme.description, *theme.all_keywords, *theme.examples,
                 *(sub.label for sub in theme.subthemes)]
        tokens = [t for doc in self.nlp.pipe(texts) for t in content_tokens(doc)]
        unique: dict[str, Token] = {}
        for token in tokens:
            unique.setdefault(token.lower_, token)
        return unit_vectors(list(unique.values()))

    def features(self, tokens: Sequence[Token]) -> list[ThemeFeatures]:
        """Keywords found and relative similarity, for every theme, in codebook order."""
        found: dict[str, list[tuple[int, int, str]]] = {t.id: [] for t in self.themes}
        for words in ([_lemma(t) for t in tokens], [_lower(t) for t in tokens]):
            doc = self._words_doc(words)
            for match_id, start, end in self.matcher(doc):
                theme_id, keyword = self.nlp.vocab.strings[match_id].split("\x1f", 1)
                found[theme_id].append((start, end, keyword))
        passage_vectors = unit_vectors(content_tokens(tokens))
        similarities = []
        for vocabulary in self.vocabularies:
            if not len(passage_vectors) or not len(vocabulary):
                similarities.append(0.0)
                continue
            # Each passage word paired with its nearest theme word, averaged over the passage.
            nearest = (passage_vectors @ vocabulary.T).max(axis=1)
            similarities.append(float(nearest.mean()))
        mean_similarity = sum(similarities) / len(similarities)
        # A word inside a longer keyword of any theme belongs to that phrase: "données" in
        # "centre de données" is not evidence of data instruments.
        spans = {(s, e) for matches in found.values() for s, e, _ in matches}
        words = 1 + sum(1 for t in tokens[:-1] if t.whitespace_)  # as text.split() would count
        length_factor = min(1.0, REFERENCE_WORDS / words)
        result = []
        for theme, similarity in zip(self.themes, similarities):
            kept = {m for m in found[theme.id] if not _nested(m[0], m[1], spans)}
            occurrences = len({(start, end) for start, end, _ in kept})
            result.append(ThemeFeatures(theme.id, _distinct_keywords(list(kept)),
                                        round(occurrences * length_factor, 4),
                                        round(similarity - mean_similarity, 5)))
        return result

    def score(self, tokens: Sequence[Token]) -> list[ThemeScore]:
        """Scores for every theme, in codebook order (tagged or not)."""
        return [combine(f, self.options) for f in self.features(tokens)]


def above_threshold(scores: Sequence[ThemeScore], options: TagOptions) -> list[ThemeScore]:
    """The themes a passage is tagged with: score at or above the threshold, best first."""
    return sorted((s for s in scores if s.score >= options.threshold), key=lambda s: -s.score)


def _nested(start: int, end: int, spans: set[tuple[int, int]]) -> bool:
    return any(s <= start and end <= e and (s, e) != (start, end) for s, e in spans)


def _distinct_keywords(matches: list[tuple[int, int, str]]) -> tuple[str, ...]:
    """Each keyword once, in order of first occurrence in the passage."""
    ordered: dict[str, None] = {}
    for _, _, keyword in sorted(set(matches)):
        ordered.setdefault(keyword, None)
    return tuple(ordered)
