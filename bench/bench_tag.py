"""Theme tagging quality on the labelled passages, and the speed of the tag stage.

Usage: .venv/bin/python bench/bench_tag.py [--config config.yaml] [--long-repeats 2]

Reads ../shared/eval/themes/dev.jsonl and dev2.jsonl (two sets from 2 and 7 public
repositories) and prints:

* as configured: precision, recall and F1 per theme and micro on dev, on dev2 and on both, with
  the weights, meaning and threshold of config.yaml. Where tag.weights_file was calibrated on
  these passages, this is a fit, not an estimate;
* source-held-out (the honest figure): dev + dev2 pooled and grouped by repository (the
  `source` field, github:OWNER/REPO@...); for each repository, `synthese calibrate`'s whole
  procedure (pipeline/calibrate.fit: keyword weights, theme meaning directions, and the points
  of meaning and the threshold chosen by cross-fitting over the remaining repositories) runs on
  the other repositories only, then the held-out repository is tagged with the result;
* keyword coverage: the share of gold labels whose theme has at least one keyword found in the
  passage, per set (what no weight can fix);
* what calibration on all passages chooses, for themes.weights.yaml;
* the speed of the whole stage (passages, themes, entities, excerpts) on a long synthetic
  transcript made of the dev passages (--long-repeats times over, about 75 minutes of speech for
  2), in wall and CPU seconds.

Writes bench/results/tag.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthese.core.config import Config, load_config  # noqa: E402
from synthese.core.storage import write_json  # noqa: E402
from synthese.files import tag_file  # noqa: E402
from synthese.tag.calibrate import LabelledEvidence, LabelledPassage, fit, gather, points  # noqa: E402
from synthese.tag.themes import ThemeClassifier, load_nlp  # noqa: E402

EVAL = REPO.parent / "shared" / "eval" / "themes"
SETS = {"dev": EVAL / "dev.jsonl", "dev2": EVAL / "dev2.jsonl"}
RESULTS = REPO / "bench" / "results" / "tag.json"


def load_rows() -> list[dict]:
    rows = []
    for name, path in SETS.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "set": name})
    return rows


def configured(rows: list[dict], config: Config) -> np.ndarray:
    """(passages, themes) tagged with config.yaml as it is (the tagger itself, one pass)."""
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    scores = classifier.score_many(list(nlp.pipe([r["text"] for r in rows])))
    return np.array([[s.score >= config.tag.threshold for s in per_passage] for per_passage in scores])


def held_out(evidence: LabelledEvidence, config: Config) -> tuple[np.ndarray, dict[str, dict]]:
    """Each repository tagged by what calibration learns from the others."""
    predicted = np.zeros_like(evidence.labels)
    chosen = {}
    for group in sorted(set(evidence.groups.tolist())):
        test = np.flatnonzero(evidence.groups == group)
        train = np.flatnonzero(evidence.groups != group)
        combination = fit(evidence, train, config.tag)
        predicted[test] = points(evidence, test, combination, config.tag) >= combination.bar_points
        chosen[group] = {"bar_points": combination.bar_points,
                         "points_per_similarity": combination.points_per_similarity}
    return predicted, chosen


def coverage(evidence: LabelledEvidence, rows: np.ndarray) -> float:
    hit = (evidence.found[rows] @ evidence.to_theme) > 0
    gold = evidence.labels[rows]
    return round(float(hit[gold].mean()), 3) if gold.any() else 0.0


def prf(truth: np.ndarray, predicted: np.ndarray) -> dict:
    tp = int((truth & predicted).sum())
    fp = int((~truth & predicted).sum())
    fn = int((truth & ~predicted).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn}


def report(title: str, truth: np.ndarray, predicted: np.ndarray, theme_ids: list[str]) -> dict:
    per_theme = {t: prf(truth[:, j], predicted[:, j]) for j, t in enumerate(theme_ids)}
    micro = prf(truth, predicted)
    print(f"{title}: micro P {micro['precision']:.3f} R {micro['recall']:.3f} F1 {micro['f1']:.3f}")
    print("  " + "  ".join(f"{t} {m['precision']:.2f}/{m['recall']:.2f}/{m['f1']:.2f}" for t, m in per_theme.items())
          + "  (P/R/F1)")
    return {"micro": micro, "per_theme": per_theme}


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
    return {"schema": "synthese.transcript/2", "language": "fr", "duration_s": round(clock, 1),
            "source": {"file": "long.txt", "sha256": "0", "kind": "txt"}, "model": None, "segments": segments,
            "warnings": []}


def throughput(config: Config, rows: list[dict], repeats: int) -> dict:
    transcript = long_transcript(rows, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "long.transcript.json"
        path.write_text(json.dumps(transcript, ensure_ascii=False), encoding="utf-8")
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        tags = tag_file(path, config)
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        passages = len(json.loads(tags.read_text(encoding="utf-8"))["passages"])
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    words = sum(len(s["text"].split()) for s in transcript["segments"])
    return {"words": words, "speech_min": round(transcript["duration_s"] / 60, 1), "passages": passages,
            "seconds": round(elapsed, 2), "cpu_s": round(cpu, 2),
            "speech_min_per_s": round(transcript["duration_s"] / 60 / elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--long-repeats", type=int, default=2, help="dev passages repeated for the speed test")
    args = parser.parse_args()

    config = load_config(args.config)
    rows = load_rows()
    theme_ids = [t.id for t in config.themes]
    started = time.perf_counter()
    labelled = [LabelledPassage(r["id"], r["source"], r["text"], tuple(r["themes"])) for r in rows]
    evidence = gather(labelled, config)
    features_s = time.perf_counter() - started
    truth = evidence.labels
    groups = evidence.groups
    sets = {name: np.array([r["set"] == name for r in rows]) for name in SETS}
    everything = np.arange(len(rows))
    print(f"{len(rows)} labelled passages ({', '.join(f'{n} {int(s.sum())}' for n, s in sets.items())}), "
          f"{len(set(groups.tolist()))} repositories; features in {features_s:.1f} s; "
          f"weights file: {config.tag.weights_file or 'none'}; threshold {config.tag.threshold:.4f}; "
          f"meaning: {config.tag.meaning}")

    result: dict = {"passages": len(rows), "options": config.tag.model_dump(mode="json"), "features_s": round(features_s, 2)}
    tagged = configured(rows, config)
    result["configured"] = {name: report(f"as configured, {name}", truth[s], tagged[s], theme_ids)
                            for name, s in [*sets.items(), ("dev+dev2", np.ones(len(rows), bool))]}

    predicted, chosen = held_out(evidence, config)
    held = report(f"source-held-out over dev+dev2 ({len(chosen)} repositories; weights, meaning and threshold "
                  "re-derived without the held-out one)", truth, predicted, theme_ids)
    held["per_source"] = {}
    for group in sorted(chosen):
        inside = groups == group
        held["per_source"][group] = {"passages": int(inside.sum()), **chosen[group],
                                     **prf(truth[inside], predicted[inside])}
        print(f"  {group:58} {int(inside.sum()):3d} passages  F1 {held['per_source'][group]['f1']:.3f}"
              f"  (bar {chosen[group]['bar_points']:.2f} points, meaning {chosen[group]['points_per_similarity']:g}"
              " points per unit)")
    for name, s in sets.items():
        held[name] = prf(truth[s], predicted[s])
        print(f"  held-out predictions on {name}: P {held[name]['precision']:.3f} R {held[name]['recall']:.3f} "
              f"F1 {held[name]['f1']:.3f}")
    result["source_held_out"] = held

    result["coverage"] = {name: coverage(evidence, np.flatnonzero(s)) for name, s in sets.items()}
    print("keyword coverage of gold labels: " + ", ".join(f"{n} {c:.3f}" for n, c in result["coverage"].items()))
    combination = fit(evidence, everything, config.tag)
    result["calibrated_on_all"] = {"bar_points": combination.bar_points, "threshold": round(combination.threshold, 4),
                                   "points_per_similarity": combination.points_per_similarity,
                                   "crossfit_f1": combination.crossfit_f1}
    print(f"calibration on all passages chooses: {combination.bar_points:.2f} points = threshold "
          f"{combination.threshold:.3f}, meaning {combination.points_per_similarity:g} points per unit of similarity "
          f"(cross-fitted micro-F1 {combination.crossfit_f1:.3f})")

    if args.long_repeats > 0:
        speed = throughput(config, [r for r in rows if r["set"] == "dev"], args.long_repeats)
        print(f"speed: {speed['speech_min']} min of speech ({speed['words']} words, {speed['passages']} passages) "
              f"tagged in {speed['seconds']} s wall, {speed['cpu_s']} s CPU (models loaded): "
              f"{speed['speech_min_per_s']} min of speech per s")
        result["throughput"] = speed
    write_json(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
