"""Keyword weights from labelled passages, and labelled passages from reviewed sessions.

`synthese calibrate LABELS.jsonl... -o FILE` reads passages labelled with theme ids (the
evaluation format {"id", "source", "text", "themes"}: the project's labelled sets, or a cycle's
own reviewed sessions exported with `synthese tag SESSION.tags.json --export-labels OUT.jsonl`),
finds the codebook's keywords in them and writes each keyword's weight to FILE. config.yaml
uses the file only where tag.weights_file points to it.

A keyword's weight is the log-odds, in base 2, of its smoothed precision: among the labelled
passages where it is found, the share labelled with its theme, pulled towards the precision its
default weight stands for by tag.calibration_prior_passages pseudo-passages:

    precision = (on_theme + m * p0) / (seen + m),   p0 = 1 - 2^-default,   weight = -log2(1 - precision)

so a keyword seen once keeps close to its default, and one seen often in passages about
another subject falls below the bar. Keywords never seen keep their default. The same input
gives the same file, byte for byte.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthese.artefacts import Tags
from synthese.config import WEIGHTS_SCHEMA, Config, TagOptions
from synthese.errors import InputError
from synthese.review import Decision

log = logging.getLogger(__name__)

MAX_WEIGHT = 10.0


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
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise InputError(f"{path}: file not found. Pass JSONL files of labelled passages "
                             "{\"id\", \"text\", \"themes\"}.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read it ({exc}). Save it as UTF-8 JSONL.") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path.name}, line {number}: not valid JSON ({exc.msg}). Fix that line.") from None
            themes = row.get("themes") if isinstance(row, dict) else None
            if (not isinstance(row, dict) or not isinstance(row.get("text"), str) or "id" not in row
                    or not isinstance(themes, list)):
                raise InputError(f"{path.name}, line {number}: each row needs \"id\", \"text\" and \"themes\" "
                                 "(a list of theme ids, empty when none applies). Fix that line.")
            unknown = [t for t in themes if t not in known]
            if unknown:
                raise InputError(f"{path.name}, line {number}: theme {unknown[0]!r} is not in the codebook "
                                 f"({', '.join(theme_ids)}). Fix the label or the codebook.")
            rows.append(LabelledPassage(str(row["id"]), str(row.get("source", path.name)), row["text"],
                                        tuple(themes)))
    return rows


def count_keywords(found: Iterable[Mapping[str, Iterable[str]]], labels: Iterable[Iterable[str]]
                   ) -> dict[tuple[str, str], KeywordCount]:
    """(theme id, keyword) -> how often found, and how often in a passage labelled with the theme.

    `found` holds, per passage, the keywords found for each theme id."""
    seen: dict[tuple[str, str], int] = {}
    on_theme: dict[tuple[str, str], int] = {}
    for per_theme, themes in zip(found, labels):
        gold = set(themes)
        for theme_id, terms in per_theme.items():
            for term in set(terms):
                key = (theme_id, term)
                seen[key] = seen.get(key, 0) + 1
                on_theme[key] = on_theme.get(key, 0) + (theme_id in gold)
    return {key: KeywordCount(seen[key], on_theme[key]) for key in sorted(seen)}


def estimated_weight(count: KeywordCount, default: float, options: TagOptions) -> float:
    """The weight (points) a keyword's counts support, shrunk towards its default."""
    prior = 1.0 - 2.0 ** -default
    m = options.calibration_prior_passages
    precision = (count.on_theme + m * prior) / (count.seen + m)
    return min(MAX_WEIGHT, -math.log2(max(1.0 - precision, 2.0 ** -MAX_WEIGHT)))


def estimate_weights(counts: Mapping[tuple[str, str], KeywordCount], defaults: Mapping[tuple[str, str], float],
                     options: TagOptions) -> dict[str, dict[str, float]]:
    """Weights of the keywords seen in labelled passages, per theme id (others keep defaults)."""
    weights: dict[str, dict[str, float]] = {}
    for (theme_id, term), count in sorted(counts.items()):
        if (theme_id, term) in defaults:
            weights.setdefault(theme_id, {})[term] = round(estimated_weight(count, defaults[theme_id, term], options), 3)
    return weights


def calibrate(label_paths: Sequence[Path], config: Config) -> tuple[dict[str, dict[str, float]],
                                                                   dict[tuple[str, str], KeywordCount], int]:
    """Weights estimated from the labelled passages of label_paths with config's codebook.

    Weights written with a keyword in config.yaml are left to config.yaml (not estimated), and
    tag.weights_file is not read: calibration starts from the codebook's defaults."""
    from synthese.themes import ThemeClassifier, default_weight, load_nlp

    options = config.tag
    rows = read_labels(label_paths, [t.id for t in config.themes])
    if not rows:
        raise InputError("no labelled passages in " + ", ".join(str(p) for p in label_paths)
                         + ". Pass JSONL files with at least one row.")
    nlp = load_nlp(options.spacy_model)
    themes = [t.model_copy(update={"calibrated_weights": {}}) for t in config.themes]
    keyword_only = options.model_copy(update={"meaning": "none"})
    classifier = ThemeClassifier(nlp, themes, keyword_only, config.acronyms)
    evidence = classifier.evidence_many(list(nlp.pipe([r.text for r in rows])))
    found = [{e.theme_id: e.keywords for e in per_passage} for per_passage in evidence]
    counts = count_keywords(found, [r.themes for r in rows])
    defaults = {(t.id, term): default_weight(kind, options) for t in themes
                for term, kind in classifier.kinds[t.id].items() if t.setting(term).weight is None}
    return estimate_weights(counts, defaults, options), counts, len(rows)


def weights_yaml(weights: Mapping[str, Mapping[str, float]], counts: Mapping[tuple[str, str], KeywordCount],
                 *, sources: Sequence[str], passages: int, options: TagOptions) -> str:
    """The weights file: stable order and number format, so the same input gives the same bytes."""
    lines = [
        "# Keyword weights (points) estimated by `synthese calibrate` from labelled passages.",
        "# config.yaml uses this file only where tag.weights_file points to it; a weight written",
        "# with a keyword in config.yaml wins over the one here. Re-run the command to refresh it.",
        f"schema: {WEIGHTS_SCHEMA}",
        f"passages: {passages}",
        "sources: [" + ", ".join(json.dumps(s, ensure_ascii=False) for s in sources) + "]",
        f"prior_passages: {options.calibration_prior_passages:g}",
        "weights:",
    ]
    for theme_id in sorted(weights):
        lines.append(f"  {theme_id}:")
        for term in sorted(weights[theme_id]):
            count = counts.get((theme_id, term), KeywordCount(0, 0))
            lines.append(f"    {json.dumps(term, ensure_ascii=False)}: {weights[theme_id][term]:.3f}"
                         f"  # {count.on_theme} of {count.seen} passages")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- review feedback


def export_labels(tags: Tags, decisions: Sequence[Decision] = (), *, every_passage: bool = False) -> list[dict[str, Any]]:
    """Labelled passages from a tags artefact's human review, in the evaluation format.

    A passage is exported when a decision of the review file accepted, rejected or added a theme
    on it: its labels are its themes after review (the tagger's that stood, and the reviewers').
    With every_passage, every passage of a reviewed session is exported, for reviewers who went
    through all of them."""
    from synthese.review import THEME_DECISIONS, find_passage

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
