"""Passage boundaries: do passages end where one labelled passage (one thought) ends?

Two kinds of text, where every labelled passage is one thought:

* the labelled passages of dev.jsonl (tuning) and dev2.jsonl (checking), read as one long turn
  without pauses: passages of one source document follow each other, the documents in a shuffled
  order (as in a webinar, one intervention after another). Only the text tells where to cut;
* the long session's transcript (bench/data/long-session, after `synthese run`), where the
  ground truth gives each passage's time and the recording has its pauses.

A boundary is found when a passage starts within one sentence of a labelled boundary (precision,
recall and F1 over the boundaries inside the text). Compared: `length` (cut at long pauses and
by length), `topic` (the default: the similarity dip of TextTiling over sentence-encoder
vectors, plus pauses and length), and, with --explore, other settings of the cost.

    .venv/bin/python bench/bench_passages.py [--explore]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import REPO, passages_by_source, print_table, write_results

from synthese.core.artefacts import Segment
from synthese.core.config import load_config
from synthese.tag import passages as P
from synthese.tag.themes import load_nlp

EVAL = REPO.parent / "shared" / "eval" / "themes"
WORDS_PER_S = 2.4


@dataclass
class Prepared:
    """A text cut into sentences once: units per turn, their vectors and gold boundaries."""

    name: str
    turn_units: list[list[P.Unit]]
    turn_vectors: list
    gold: list[set[int]]  # per turn, the unit indices that open a labelled passage (0 excluded)


def jsonl_segments(path: Path, seed: int) -> tuple[list[Segment], list[int]]:
    """One segment per labelled passage, grouped by source in a shuffled order; the char
    offsets (in the turn text) where each passage starts."""
    segments, starts, position, clock = [], [], 0, 0.0
    for row in passages_by_source(path, seed):
        text = " ".join(row["text"].split())
        duration = len(text.split()) / WORDS_PER_S
        segments.append(Segment(id=len(segments), start=clock, end=clock + duration, text=text))
        starts.append(position)
        position += len(text) + 1
        clock += duration  # no pause: only the words tell
    return segments, starts


def prepare(name: str, segments: list[Segment], gold_of_unit, nlp, options, with_vectors: bool) -> Prepared:
    from synthese.tag.meaning import embed

    turns = P._turns(segments)
    texts, offsets = P._turn_texts(turns)
    turn_units = [P._units(doc, turn, offs, options.passage_max_words)
                  for turn, offs, doc in zip(turns, offsets, nlp.pipe(texts))]
    turn_vectors = [embed([u.span.text for u in units]) if with_vectors else None for units in turn_units]
    gold = []
    for t, units in enumerate(turn_units):
        labels = [gold_of_unit(t, turns[t], offsets[t], u) for u in units]
        gold.append({i for i in range(1, len(units)) if labels[i] != labels[i - 1]})
    return Prepared(name, turn_units, turn_vectors, gold)


def segment(prep: Prepared, options, *, topic: bool) -> list[list[int]]:
    import numpy as np

    depths = [P.depth_scores(P.gap_similarities(v, options.topic_window)) if topic else None
              for v in prep.turn_vectors]
    known = [d for d in depths if d is not None and len(d)]
    threshold = 0.0
    if known:
        every = np.concatenate(known)
        threshold = float(every.mean() + P.DEPTH_SD * every.std())
    return [P.choose_cuts([u.words for u in units], P.gap_gains(units, d, threshold, options), options)
            for units, d in zip(prep.turn_units, depths)]


def score(prep: Prepared, cuts: list[list[int]]) -> dict:
    """Boundaries found within one sentence, and exactly."""
    near, exact = _score(prep, cuts, 1), _score(prep, cuts, 0)
    return {**near, "exact_f1": exact["f1"]}


def _score(prep: Prepared, cuts: list[list[int]], tolerance: int) -> dict:
    tp = fp = fn = 0
    lengths = []
    for units, gold, starts in zip(prep.turn_units, prep.gold, cuts):
        found = [s for s in starts if s > 0]
        matched_gold: set[int] = set()
        for s in found:
            near = [g for g in gold if abs(g - s) <= tolerance and g not in matched_gold]
            if near:
                matched_gold.add(min(near, key=lambda g: abs(g - s)))
                tp += 1
            else:
                fp += 1
        fn += len(gold - matched_gold)
        for a, b in zip(starts, [*starts[1:], len(units)]):
            lengths.append(sum(u.words for u in units[a:b]))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0,
            "passages": len(lengths), "median_words": statistics.median(lengths) if lengths else 0,
            "min_words": min(lengths, default=0), "max_words": max(lengths, default=0)}


def random_cuts(prep: Prepared, like: list[list[int]], seed: int) -> list[list[int]]:
    """As many cuts as `like`, at random gaps: what chance scores."""
    rng = random.Random(seed)
    result = []
    for units, starts in zip(prep.turn_units, like):
        k = len([s for s in starts if s > 0])
        result.append([0, *sorted(rng.sample(range(1, len(units)), min(k, max(0, len(units) - 1))))])
    return result


def long_session(session_dir: Path, nlp, options, with_vectors: bool) -> Prepared | None:
    truth_path = session_dir / "ground-truth.json"
    if not truth_path.is_file():
        return None
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    transcript_path = session_dir / "transcripts" / truth["session_id"] / f"{truth['session_id']}.transcript.json"
    if not transcript_path.is_file():
        return None
    transcript = json.loads(transcript_path.read_text(encoding="utf-8"))
    segments = [Segment.model_validate(s) for s in transcript["segments"] if s["text"].strip()]
    bounds = [(p["start"], p["end"], i) for i, p in enumerate(truth["passages"])]

    def gold_of_unit(_t, turn, offsets, unit):
        start = P.time_at(turn, offsets, unit.start_char)
        end = P.time_at(turn, offsets, unit.end_char, ending=True)
        middle = (start + end) / 2
        return min(bounds, key=lambda b: 0 if b[0] <= middle <= b[1] else min(abs(middle - b[0]), abs(middle - b[1])))[2]

    return prepare("long session", segments, gold_of_unit, nlp, options, with_vectors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--session-dir", type=Path, default=REPO / "bench" / "data" / "long-session")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explore", action="store_true", help="also try other settings of the cut costs")
    args = parser.parse_args(argv)

    config = load_config(args.config)
    options = config.tag
    nlp = load_nlp(options.spacy_model)
    sets = []
    for name in ("dev.jsonl", "dev2.jsonl"):
        path = EVAL / name
        if not path.is_file():
            print(f"{path}: not found, skipped")
            continue
        segments, starts = jsonl_segments(path, args.seed)
        sets.append(prepare(name, segments,
                            lambda t, turn, offsets, unit, starts=starts: bisect.bisect_right(starts, unit.start_char),
                            nlp, options, True))
    session = long_session(args.session_dir, nlp, options, True)
    if session is not None:
        sets.append(session)

    rows, results = [], {}
    for prep in sets:
        length = segment(prep, options, topic=False)
        topic = segment(prep, options, topic=True)
        measured = {"length": score(prep, length), "topic": score(prep, topic),
                    "random (as many cuts as topic)": score(prep, random_cuts(prep, topic, args.seed))}
        if args.explore:
            saved = (P.SHORT_COST, P.SHAPE_COST, P.DEPTH_SD, P.PAUSE_POINTS)
            for shape, sd, pause in itertools.product((0.1, 0.25, 0.5), (-0.5, 0.0, 0.5, 1.0), (0.0, 0.3, 0.6)):
                P.SHAPE_COST, P.DEPTH_SD, P.PAUSE_POINTS = shape, sd, pause
                measured[f"topic shape={shape} sd={sd} pause={pause}"] = score(prep, segment(prep, options, topic=True))
            P.SHORT_COST, P.SHAPE_COST, P.DEPTH_SD, P.PAUSE_POINTS = saved
        results[prep.name] = {"gold_boundaries": sum(len(g) for g in prep.gold),
                              "sentences": sum(len(u) for u in prep.turn_units), **measured}
        for method, m in measured.items():
            rows.append((prep.name, method, m["precision"], m["recall"], m["f1"], m["exact_f1"], m["passages"],
                         f"{m['min_words']}/{m['median_words']}/{m['max_words']}"))
    print_table(rows, ("text", "cut", "P", "R", "F1", "F1 exact", "passages", "words min/median/max"))
    print(f"\nboundaries within ±1 sentence; passages of {options.passage_min_words}–{options.passage_max_words} words"
          f" ({args.config.name}), topic window {options.topic_window} sentences")
    path = write_results("passages", {"config": str(args.config), "seed": args.seed, "results": results})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
