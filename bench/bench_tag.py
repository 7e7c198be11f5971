"""Theme tagging quality on the labelled dev passages: per-theme precision, recall, F1, micro-F1.

Usage: .venv/bin/python bench/bench_tag.py [--config config.yaml] [--calibrate]

Prints the scores of the options in config.yaml (the fit), then a leave-one-source-out
cross-validation: for each source document, the calibration grid below is searched on the other
documents and the best options are scored on the held-out one, so the figure estimates how the
calibration carries over to documents it has not seen. `--calibrate` also prints the best
options on the whole dev set. Last, the speed of the whole stage (passages, themes, entities,
excerpts) on a long synthetic transcript made of the dev passages (--long-repeats times over,
about 75 minutes of speech for 2). Writes bench/results/tag.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthese.storage import write_json  # noqa: E402
from synthese.config import TagOptions, load_config  # noqa: E402
from synthese.tagging import tag_file  # noqa: E402
from synthese.themes import ThemeClassifier, load_nlp  # noqa: E402

DEV = REPO.parent / "shared" / "eval" / "themes" / "dev.jsonl"
RESULTS = REPO / "bench" / "results" / "tag.json"

# The calibration grid: few global numbers, the same for every theme.
GRID = {
    "keyword_saturation": [1.0, 1.5, 2.0, 3.0],
    "similarity_low": [-0.02, 0.0, 0.02],
    "similarity_high": [0.06, 0.08, 0.1, 0.12],
    "keyword_weight": [0.5, 0.6, 0.7, 0.8],
    "threshold": [round(x, 3) for x in np.arange(0.2, 0.8, 0.025)],
}


def load_dev(path: Path = DEV) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def dev_features(rows: list[dict], classifier: ThemeClassifier) -> tuple[np.ndarray, np.ndarray]:
    """Keyword counts (length-scaled occurrences) and relative similarities, arrays of shape
    (passages, themes)."""
    counts, sims = [], []
    for doc in classifier.nlp.pipe([r["text"] for r in rows]):
        feats = classifier.features(list(doc))
        counts.append([f.keyword_count for f in feats])
        sims.append([f.similarity for f in feats])
    return np.array(counts, dtype=float), np.array(sims, dtype=float)


def predict(counts: np.ndarray, sims: np.ndarray, p: dict) -> np.ndarray:
    """Vectorised synthese.themes.combine: the score of every passage and theme."""
    kw = 1.0 - np.exp(-counts / p["keyword_saturation"])
    sim = np.clip((sims - p["similarity_low"]) / (p["similarity_high"] - p["similarity_low"]), 0, 1)
    weight = p["keyword_weight"]
    return weight * kw + (1 - weight) * sim


def prf(truth: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int((truth & predicted).sum())
    fp = int((~truth & predicted).sum())
    fn = int((truth & ~predicted).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn}


def grid_search(counts: np.ndarray, sims: np.ndarray, truth: np.ndarray) -> tuple[dict, float]:
    """Best options (micro-F1) over GRID; ties go to the first, i.e. the simplest values."""
    best, best_f1 = None, -1.0
    keys = [k for k in GRID if k != "threshold"]
    for values in itertools.product(*(GRID[k] for k in keys)):
        p = dict(zip(keys, values))
        if p["similarity_low"] >= p["similarity_high"]:
            continue
        scores = predict(counts, sims, p)
        for threshold in GRID["threshold"]:
            f1 = prf(truth, scores >= threshold)["f1"]
            if f1 > best_f1:
                best, best_f1 = {**p, "threshold": threshold}, f1
    return best, best_f1


def options_params(options: TagOptions) -> dict:
    total = options.keyword_weight + options.similarity_weight
    return {"keyword_saturation": options.keyword_saturation, "similarity_low": options.similarity_low,
            "similarity_high": options.similarity_high, "keyword_weight": options.keyword_weight / total,
            "threshold": options.threshold}


def long_transcript(rows: list[dict], repeats: int) -> dict:
    """Dev passages read one after another by three speakers, ~2.5 words/s, 15-word segments."""
    words = [w for _ in range(repeats) for r in rows for w in r["text"].split()]
    segments, clock = [], 0.0
    for i in range(0, len(words), 15):
        text = " ".join(words[i:i + 15])
        duration = len(text.split()) / 2.5
        segments.append({"id": len(segments), "start": round(clock, 2), "end": round(clock + duration, 2),
                         "text": text, "speaker": ["A", "B", "C"][len(segments) // 40 % 3]})
        clock += duration + (2.0 if len(segments) % 7 == 0 else 0.3)
    return {"schema": "synthese.transcript/1", "language": "fr", "duration_s": round(clock, 1),
            "model": None, "segments": segments, "warnings": []}


def throughput(config, rows: list[dict], repeats: int) -> dict:
    transcript = long_transcript(rows, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "long.transcript.json"
        path.write_text(json.dumps(transcript, ensure_ascii=False), encoding="utf-8")
        started = time.perf_counter()
        tags = tag_file(path, config, out_dir=folder, stem="long", inputs_hash="bench",
                        review_path=folder / "long.review.yaml", session=None)
        elapsed = time.perf_counter() - started
        passages = len(json.loads(tags.read_text(encoding="utf-8"))["passages"])
    words = sum(len(s["text"].split()) for s in transcript["segments"])
    return {"words": words, "speech_min": round(transcript["duration_s"] / 60, 1), "passages": passages,
            "seconds": round(elapsed, 2), "speech_min_per_s": round(transcript["duration_s"] / 60 / elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--calibrate", action="store_true", help="also search the best options on all of dev")
    parser.add_argument("--long-repeats", type=int, default=2, help="dev passages repeated for the speed test")
    args = parser.parse_args()

    config = load_config(args.config)
    rows = load_dev()
    theme_ids = [t.id for t in config.themes]
    truth = np.array([[t in r["themes"] for t in theme_ids] for r in rows])
    started = time.perf_counter()
    classifier = ThemeClassifier(load_nlp(config.tag.spacy_model), config.themes, config.tag)
    counts, sims = dev_features(rows, classifier)
    features_s = time.perf_counter() - started

    params = options_params(config.tag)
    predicted = predict(counts, sims, params) >= params["threshold"]
    per_theme = {t: prf(truth[:, j], predicted[:, j]) for j, t in enumerate(theme_ids)}
    micro = prf(truth, predicted)
    print(f"dev: {len(rows)} passages, features in {features_s:.1f} s; options {params}")
    print(f"{'theme':16} {'P':>6} {'R':>6} {'F1':>6}  support")
    for t, m in per_theme.items():
        print(f"{t:16} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f}  {m['tp'] + m['fn']}")
    print(f"{'micro':16} {micro['precision']:6.3f} {micro['recall']:6.3f} {micro['f1']:6.3f}")

    # Leave one source document out: calibrate on the others, predict the held-out one.
    sources = sorted({r["source"].rsplit(":", 1)[-1] for r in rows})
    held_out = np.zeros_like(truth)
    for source in sources:
        test = np.array([r["source"].rsplit(":", 1)[-1] == source for r in rows])
        best, _ = grid_search(counts[~test], sims[~test], truth[~test])
        held_out[test] = predict(counts[test], sims[test], best) >= best["threshold"]
    cross = prf(truth, held_out)
    cross_per_theme = {t: prf(truth[:, j], held_out[:, j]) for j, t in enumerate(theme_ids)}
    print(f"leave-one-source-out ({len(sources)} sources): micro P {cross['precision']:.3f} "
          f"R {cross['recall']:.3f} F1 {cross['f1']:.3f}; per theme F1 "
          + ", ".join(f"{t} {m['f1']:.3f}" for t, m in cross_per_theme.items()))

    result = {"dev_passages": len(rows), "options": params, "per_theme": per_theme, "micro": micro,
              "cross_validation": {"scheme": "leave-one-source-out", "folds": len(sources),
                                   "micro": cross, "per_theme": cross_per_theme},
              "features_s": round(features_s, 2)}
    if args.calibrate:
        best, best_f1 = grid_search(counts, sims, truth)
        print(f"best on all dev: micro-F1 {best_f1:.3f} with {best}")
        result["best_on_dev"] = {"options": best, "micro_f1": best_f1}
    if args.long_repeats > 0:
        speed = throughput(config, rows, args.long_repeats)
        print(f"speed: {speed['speech_min']} min of speech ({speed['words']} words, {speed['passages']} passages) "
              f"tagged in {speed['seconds']} s (model loaded): {speed['speech_min_per_s']} min of speech per s")
        result["throughput"] = speed
    write_json(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
