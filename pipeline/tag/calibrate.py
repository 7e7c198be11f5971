"""Keyword weights, theme meanings and threshold from labelled passages; labelled passages
from reviewed sessions.

`synthese calibrate LABELS.jsonl... -o FILE` reads passages labelled with theme ids (the
evaluation format {"id", "source", "text", "themes"}: the project's labelled sets, or a cycle's
own reviewed sessions exported with `synthese tag SESSION.tags.json --export-labels OUT.jsonl`)
and writes to FILE everything the tagger learns from them. config.yaml uses the file only where
tag.weights_file points to it.

* Keyword weights: a keyword's weight is the log-odds, in base 2, of its smoothed precision:
  among the labelled passages where it is found, the share labelled with its theme, pulled
  towards the precision its default weight stands for by tag.calibration_prior_passages
  pseudo-passages:

      precision = (on_theme + m * p0) / (seen + m),   p0 = 1 - 2^-default,   weight = -log2(1 - precision)

  so a keyword seen once keeps close to its default, and one seen often in passages about
  another subject falls below the bar. Keywords never seen keep their default.
* Theme meanings (with tag.meaning: sentence-encoder): each theme's direction in the sentence
  encoder's space, from the passages not labelled with it to those labelled with it
  (pipeline/meaning.py).
* The combination: how many points one unit of similarity along a theme's direction is worth,
  and the threshold. Both are chosen together by cross-fitting, so that they suit text from
  sources the weights were not estimated on, as a new session is: the passages are grouped by
  source (the repository or the reviewed session in their "source"); each group is scored with
  weights and directions estimated on the other groups only, and the pair giving the best
  micro-F1 over all groups is kept. With fewer than MIN_PASSAGES passages or MIN_GROUPS
  sources, there is too little to learn them from: only the keyword weights are written.

bench/bench_tag.py runs `fit` without one source and tags that source with the result: the
held-out figure measures this whole procedure. The same input gives the same file, byte for
byte.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.artefacts import Tags
from ..core.config import WEIGHTS_SCHEMA, Config, TagOptions
from ..core.errors import InputError
from ..core.review_file import Decision
from ..core.storage import read_jsonl

if TYPE_CHECKING:  # numpy is imported where the arrays are made
    import numpy as np

log = logging.getLogger(__name__)

MAX_WEIGHT = 10.0
# The meaning directions and the threshold are learned only from at least this many passages
# from at least MIN_GROUPS sources (the folds of the cross-fitting); with fewer, only keyword
# weights are written, and the threshold stays config.yaml's.
MIN_PASSAGES = 40
MIN_GROUPS = 3
# The combinations tried: points per unit of similarity along a theme's meaning direction (the
# relative similarities of labelled passages span about -0.2 to 0.2), and bars in points
# (threshold = 1 - 2^-bar: 1 point is 0.5).
SCALES = tuple(round(0.5 * i, 2) for i in range(17))
BARS = tuple(round(0.5 + 0.05 * i, 2) for i in range(41))
# Decimals of the meaning directions written to the file (components are about +-0.05).
DIRECTION_DECIMALS = 4


@dataclass(frozen=True)
class LabelledPassage:
    id: str
    source: str
    text: str
    themes: tuple[str, ...]


@dataclass(frozen=True)
class KeywordCount:
    seen: int  # labelled passages where the keyword was found
    on_theme: int  # of those, the ones labelled with the keyword's theme


def read_labels(paths: Sequence[Path], theme_ids: Sequence[str]) -> list[LabelledPassage]:
    """Labelled passages from JSONL files; a bad row or an unknown theme names file and line."""
    known = set(theme_ids)
    rows: list[LabelledPassage] = []
    for path in paths:
        for number, row in read_jsonl(path, '{"id", "text", "themes"}'):
            themes = row.get("themes")
            if not isinstance(row.get("text"), str) or "id" not in row or not isinstance(themes, list):
                raise InputError(f"{path.name}, line {number}: each row needs \"id\", \"text\" and \"themes\" "
                                 "(a list of theme ids, empty when none applies). Fix that line.")
            unknown = [t for t in themes if t not in known]
            if unknown:
                raise InputError(f"{path.name}, line {number}: theme {unknown[0]!r} is not in the codebook "
                                 f"({', '.join(theme_ids)}). Fix the label or the codebook.")
            rows.append(LabelledPassage(str(row["id"]), str(row.get("source", path.name)), row["text"],
                                        tuple(themes)))
    return rows


def source_group(source: str) -> str:
    """The source a labelled passage comes from: github:OWNER/REPO@COMMIT:PATH -> OWNER/REPO,
    review:SESSION as it is, a file name as it is."""
    return source.split("@", 1)[0].removeprefix("github:")


@dataclass(frozen=True)
class LabelledEvidence:
    """What the codebook finds in labelled passages, as arrays: weights, meanings and the
    combination can then be re-derived on any subset of them (the bench leaves one source out)."""

    theme_ids: tuple[str, ...]
    terms: tuple[tuple[str, str], ...]  # (theme id, keyword) of each column of `found`
    found: np.ndarray  # (passages, terms): 1.0 where the keyword is found
    words: np.ndarray  # (passages,) lengths, as text.split() counts
    embeddings: np.ndarray | None  # (passages, dim) unit sentence embeddings; None: meaning off
    labels: np.ndarray  # (passages, themes) booleans
    groups: np.ndarray  # (passages,) the source of each passage (source_group)
    default: np.ndarray  # (terms,) default weights (tag.phrase_weight / tag.word_weight)
    fixed: np.ndarray  # (terms,) weight written in config.yaml, NaN where none
    weak: np.ndarray  # (terms,) keywords marked weak: true

    @property
    def theme_of(self) -> np.ndarray:
        import numpy as np

        index = {theme_id: j for j, theme_id in enumerate(self.theme_ids)}
        return np.array([index[theme_id] for theme_id, _ in self.terms], dtype=int)

    @property
    def to_theme(self) -> np.ndarray:
        """(terms, themes) 0/1: sums keyword columns into theme columns."""
        import numpy as np

        matrix = np.zeros((len(self.terms), len(self.theme_ids)))
        matrix[np.arange(len(self.terms)), self.theme_of] = 1.0
        return matrix


@dataclass(frozen=True)
class Combination:
    """What `fit` learns from labelled passages."""

    weights: np.ndarray  # (terms,) keyword weights in points (config.yaml's and weak caps applied)
    directions: np.ndarray | None  # (themes, dim) unit meaning directions (zeros: none); None: meaning off
    points_per_similarity: float
    bar_points: float  # the threshold in points
    crossfit_f1: float  # micro-F1 of the cross-fitted scores at the chosen pair
    folds: int  # sources the pair was chosen over; 0: not chosen (too few labelled passages)

    @property
    def threshold(self) -> float:
        return 1.0 - 2.0 ** -self.bar_points


def gather(rows: Sequence[LabelledPassage], config: Config) -> LabelledEvidence:
    """Keywords found (the codebook with default weights: tag.weights_file is not read) and
    sentence embeddings of labelled passages."""
    import numpy as np

    from .themes import ThemeClassifier, default_weight, load_nlp

    options = config.tag
    nlp = load_nlp(options.spacy_model)
    themes = [t.model_copy(update={"calibrated_weights": {}, "calibrated_meaning": ()}) for t in config.themes]
    classifier = ThemeClassifier(nlp, themes, options.model_copy(update={"meaning": "none"}), config.acronyms)
    evidence = classifier.evidence_many(list(nlp.pipe([r.text for r in rows])))
    theme_ids = tuple(t.id for t in themes)
    terms = tuple((t.id, term) for t in themes for term in classifier.kinds[t.id])
    column = {key: k for k, key in enumerate(terms)}
    found = np.zeros((len(rows), len(terms)))
    words = np.zeros(len(rows))
    for p, per_theme in enumerate(evidence):
        for e in per_theme:
            words[p] = e.words
            for term in e.keywords:
                found[p, column[(e.theme_id, term)]] = 1.0
    embeddings = None
    if options.meaning != "none":
        from .meaning import embed

        embeddings = embed([r.text for r in rows]).astype("float64")
    by_id = {t.id: t for t in themes}
    settings = [by_id[theme_id].setting(term) for theme_id, term in terms]
    return LabelledEvidence(
        theme_ids=theme_ids, terms=terms, found=found, words=words, embeddings=embeddings,
        labels=np.array([[theme_id in r.themes for theme_id in theme_ids] for r in rows], dtype=bool).reshape(
            len(rows), len(theme_ids)),
        groups=np.array([source_group(r.source) for r in rows], dtype=object),
        default=np.array([default_weight(classifier.kinds[theme_id][term], options) for theme_id, term in terms]),
        fixed=np.array([s.weight if s.weight is not None else np.nan for s in settings], dtype=float),
        weak=np.array([s.weak for s in settings], dtype=bool))


def estimate_weights(evidence: LabelledEvidence, rows: np.ndarray, options: TagOptions) -> np.ndarray:
    """(terms,) keyword weights from the passages `rows`: smoothed precision as log-odds, then
    config.yaml's weights and the weak cap, as pipeline/themes.keyword_weights applies them."""
    import numpy as np

    found = evidence.found[rows] > 0
    seen = found.sum(axis=0)
    on_theme = (found & evidence.labels[rows][:, evidence.theme_of]).sum(axis=0)
    prior = 1.0 - 2.0 ** -evidence.default
    m = options.calibration_prior_passages
    precision = (on_theme + m * prior) / (seen + m)
    weights = np.minimum(MAX_WEIGHT, -np.log2(np.maximum(1.0 - precision, 2.0 ** -MAX_WEIGHT)))
    weights = np.where(np.isnan(evidence.fixed), weights, evidence.fixed)
    return np.where(evidence.weak, np.minimum(weights, options.weak_points), weights)


def keyword_points(evidence: LabelledEvidence, rows: np.ndarray, weights: np.ndarray,
                   options: TagOptions) -> np.ndarray:
    """(rows, themes) keyword points, as pipeline/themes.combine counts them."""
    import numpy as np

    length = np.minimum(1.0, options.reference_words / np.maximum(evidence.words[rows], 1))[:, None]
    return (evidence.found[rows] * weights) @ evidence.to_theme * length


def meaning_similarity(evidence: LabelledEvidence, rows: np.ndarray, directions: np.ndarray | None) -> np.ndarray:
    """(rows, themes) similarity along each theme's direction relative to the passage's mean over
    themes (pipeline/meaning.CalibratedMeaning before its scale); zeros without directions."""
    import numpy as np

    from .meaning import relative

    if directions is None or evidence.embeddings is None:
        return np.zeros((len(rows), len(evidence.theme_ids)))
    active = np.abs(directions).sum(axis=1) > 0
    return relative(evidence.embeddings[rows] @ directions.T, active)


def directions_of(evidence: LabelledEvidence, rows: np.ndarray) -> np.ndarray | None:
    from .meaning import theme_directions

    if evidence.embeddings is None:
        return None
    return theme_directions(evidence.embeddings[rows], evidence.labels[rows])


def fit(evidence: LabelledEvidence, rows: np.ndarray, options: TagOptions) -> Combination:
    """Weights, meaning directions, points per unit of similarity and threshold from the
    labelled passages `rows` (indices into evidence)."""
    import numpy as np

    folds = evidence.groups[rows]
    names = sorted(set(folds.tolist()))
    keyword = np.zeros((len(rows), len(evidence.theme_ids)))
    meaning = np.zeros_like(keyword)
    for fold in names:
        inside = folds == fold
        train = rows[~inside]
        keyword[inside] = keyword_points(evidence, rows[inside], estimate_weights(evidence, train, options), options)
        meaning[inside] = meaning_similarity(evidence, rows[inside], directions_of(evidence, train))
    labels = evidence.labels[rows]
    scales = np.array(SCALES if evidence.embeddings is not None else (0.0,))
    # Bars above a weak keyword's points only: a weak keyword never tags alone.
    bars = np.array([bar for bar in BARS if bar > options.weak_points])
    tagged = (keyword[None, None] + scales[:, None, None, None] * meaning[None, None]) >= bars[None, :, None, None]
    tp = (tagged & labels).sum(axis=(2, 3))
    wrong = (tagged != labels).sum(axis=(2, 3))  # false positives and false negatives
    f1 = 2 * tp / np.maximum(2 * tp + wrong, 1)
    # The best pair; among equals, the least meaning, then the lowest bar.
    s, b = np.unravel_index(int(np.argmax(f1)), f1.shape)
    return Combination(weights=estimate_weights(evidence, rows, options), directions=directions_of(evidence, rows),
                       points_per_similarity=float(scales[s]), bar_points=float(bars[b]),
                       crossfit_f1=round(float(f1[s, b]), 4), folds=len(names))


def points(evidence: LabelledEvidence, rows: np.ndarray, combination: Combination, options: TagOptions) -> np.ndarray:
    """(rows, themes) points the tagger gives with a combination: to compare with its bar."""
    return (keyword_points(evidence, rows, combination.weights, options)
            + combination.points_per_similarity * meaning_similarity(evidence, rows, combination.directions))


@dataclass(frozen=True)
class Calibration:
    """What `synthese calibrate` writes."""

    weights: dict[str, dict[str, float]]  # theme id -> keyword -> points (those config.yaml does not weigh)
    counts: dict[tuple[str, str], KeywordCount]
    passages: int
    combination: Combination
    theme_ids: tuple[str, ...]
    encoder: str  # the sentence encoder the directions belong to ("" with tag.meaning: none)


def calibrate(label_paths: Sequence[Path], config: Config) -> Calibration:
    """Everything the tagger learns from the labelled passages of label_paths, with config's
    codebook. Weights written with a keyword in config.yaml are left to config.yaml (not
    estimated), and tag.weights_file is not read: calibration starts from the codebook."""
    import numpy as np

    rows = read_labels(label_paths, [t.id for t in config.themes])
    if not rows:
        raise InputError("no labelled passages in " + ", ".join(str(p) for p in label_paths)
                         + ". Pass JSONL files with at least one row.")
    evidence = gather(rows, config)
    everything = np.arange(len(rows))
    sources = len(set(evidence.groups.tolist()))
    if len(rows) >= MIN_PASSAGES and sources >= MIN_GROUPS:
        combination = fit(evidence, everything, config.tag)
    else:
        log.warning("%d labelled passages from %d source(s): keyword weights only; the meaning of the themes and "
                    "the threshold need at least %d passages from %d sources (reviewed sessions, or the project's "
                    "labelled sets passed along)", len(rows), sources, MIN_PASSAGES, MIN_GROUPS)
        combination = Combination(weights=estimate_weights(evidence, everything, config.tag), directions=None,
                                  points_per_similarity=0.0, bar_points=config.tag.bar_points, crossfit_f1=0.0,
                                  folds=0)
    if combination.directions is not None:
        missing = [t for t, d in zip(evidence.theme_ids, combination.directions) if not d.any()]
        if missing:
            log.warning("%s: every labelled passage, or none, is about it: no meaning learned for it",
                        ", ".join(missing))
    found = evidence.found > 0
    seen = found.sum(axis=0)
    on_theme = (found & evidence.labels[:, evidence.theme_of]).sum(axis=0)
    weights: dict[str, dict[str, float]] = {}
    counts: dict[tuple[str, str], KeywordCount] = {}
    for k, (theme_id, term) in enumerate(evidence.terms):
        if seen[k]:
            count = counts[(theme_id, term)] = KeywordCount(int(seen[k]), int(on_theme[k]))
            if np.isnan(evidence.fixed[k]):
                weights.setdefault(theme_id, {})[term] = round(estimated_weight(count, float(evidence.default[k]),
                                                                                config.tag), 3)
    encoder = ""
    if combination.directions is not None:
        from .meaning import encoder_label

        encoder = encoder_label()
    return Calibration(weights, counts, len(rows), combination, evidence.theme_ids, encoder)


def estimated_weight(count: KeywordCount, default: float, options: TagOptions) -> float:
    """The weight (points) a keyword's counts support, shrunk towards its default (before any
    weak cap: that is applied where config.yaml marks the keyword weak)."""
    prior = 1.0 - 2.0 ** -default
    m = options.calibration_prior_passages
    precision = (count.on_theme + m * prior) / (count.seen + m)
    return min(MAX_WEIGHT, -math.log2(max(1.0 - precision, 2.0 ** -MAX_WEIGHT)))


def weights_yaml(calibration: Calibration, *, sources: Sequence[str], options: TagOptions) -> str:
    """The weights file: stable order and number format, so the same input gives the same bytes."""
    combination = calibration.combination
    lines = [
        "# What `synthese calibrate` learned from labelled passages: keyword weights (points), the",
        "# threshold, and each theme's meaning direction with the points it is worth. config.yaml uses",
        "# this file only where tag.weights_file points to it; a weight written with a keyword, or a",
        "# threshold, in config.yaml wins over the one here. Re-run the command to refresh it.",
        f"schema: {WEIGHTS_SCHEMA}",
        f"passages: {calibration.passages}",
        "sources: [" + ", ".join(json.dumps(s, ensure_ascii=False) for s in sources) + "]",
        f"prior_passages: {options.calibration_prior_passages:g}",
    ]
    if combination.folds:
        lines += [f"# {combination.bar_points:.2f} points, chosen with the meaning's points by cross-fitting over "
                  f"{combination.folds} sources",
                  f"# (micro-F1 of the cross-fitted scores: {combination.crossfit_f1:.3f}).",
                  f"threshold: {combination.threshold:.4f}"]
    lines.append("weights:")
    for theme_id in sorted(calibration.weights):
        lines.append(f"  {theme_id}:")
        for term in sorted(calibration.weights[theme_id]):
            count = calibration.counts.get((theme_id, term), KeywordCount(0, 0))
            lines.append(f"    {json.dumps(term, ensure_ascii=False)}: {calibration.weights[theme_id][term]:.3f}"
                         f"  # {count.on_theme} of {count.seen} passages")
    if combination.directions is not None and combination.points_per_similarity > 0:
        lines += [
            "# Each theme's direction in the sentence encoder's space (unit vector), from the passages",
            "# not labelled with it to those labelled with it; a passage's similarity along it, minus its",
            "# mean over the themes, times points_per_similarity, adds to (or takes from) its points.",
            "meaning:",
            f"  encoder: {json.dumps(calibration.encoder, ensure_ascii=False)}",
            f"  points_per_similarity: {combination.points_per_similarity:g}",
            "  directions:",
        ]
        for theme_id, direction in zip(calibration.theme_ids, combination.directions):
            if not direction.any():
                continue
            numbers = [f"{x:.{DIRECTION_DECIMALS}f}".replace("-0.0000", "0.0000") for x in direction]
            rows = [", ".join(numbers[i:i + 12]) for i in range(0, len(numbers), 12)]
            lines.append(f"    {theme_id}: [" + ",\n      ".join(rows) + "]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- review feedback


def export_labels(tags: Tags, decisions: Sequence[Decision] = (), *, every_passage: bool = False) -> list[dict[str, Any]]:
    """Labelled passages from a tags artefact's human review, in the evaluation format.

    A passage is exported when a decision of the review file accepted, rejected or added a theme
    on it: its labels are its themes after review (the tagger's that stood, and the reviewers').
    With every_passage, every passage of a reviewed session is exported, for reviewers who went
    through all of them."""
    from ..core.review_file import THEME_DECISIONS, find_passage

    if tags.review.status != "reviewed":
        return []
    decided: set[str] = set()
    for decision in decisions:
        passage = find_passage(decision.passage, tags.passages)
        if decision.kind in THEME_DECISIONS and passage is not None:
            decided.add(passage.id)
    # Without the review file, its decisions still show in the artefact as themes of source "review".
    decided |= {p.id for p in tags.passages if any(t.source == "review" for t in p.themes)}
    stem = tags.path.name.removesuffix(".tags.json") if tags.path else (tags.session_id or "session")
    source = f"review:{tags.session_id or stem}"
    return [{"id": f"{stem}:{p.id}", "source": source, "text": p.text, "themes": [t.id for t in p.themes]}
            for p in tags.passages if every_passage or p.id in decided]
