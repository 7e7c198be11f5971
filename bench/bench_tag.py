"""Theme tagging quality on the labelled passages, and the speed of the tag stage.

Usage: .venv/bin/python bench/bench_tag.py [--config config.yaml] [--long-repeats 2]

Reads ../shared/eval/themes/dev.jsonl and dev2.jsonl (two sets from 2 and 7 public
repositories) and prints:

* as configured: precision, recall and F1 per theme and micro on dev, on dev2 and on both, with
  the weights and threshold of config.yaml. Where tag.weights_file was calibrated on these
  passages, this is a fit, not an estimate;
* source-held-out (the honest figure): dev + dev2 pooled and grouped by repository (the
  `source` field, github:OWNER/REPO@...); for each repository, keyword weights are re-estimated
  from the other repositories only (pipeline/calibrate.py, starting from the defaults of
  config.yaml) and the threshold is chosen on the other repositories by the same cross-fitting
  (each of them scored with weights from the rest), then the held-out repository is tagged;
* keyword coverage: the share of gold labels whose theme has at least one keyword found in the
  passage, per set (what no weight can fix);
* the threshold the cross-fitting chooses on all passages, for config.yaml;
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

from synthese.storage import write_json  # noqa: E402
from synthese.config import Config, load_config  # noqa: E402
from synthese.run import tag_file  # noqa: E402
from synthese.themes import ThemeClassifier, default_weight, load_nlp  # noqa: E402

EVAL = REPO.parent / "shared" / "eval" / "themes"
SETS = {"dev": EVAL / "dev.jsonl", "dev2": EVAL / "dev2.jsonl"}
RESULTS = REPO / "bench" / "results" / "tag.json"
# Candidate bars (points) for the threshold: score = 1 - 2^-points, so 1 point is 0.5.
BARS = np.round(np.arange(0.5, 2.501, 0.05), 3)


def load_rows() -> list[dict]:
    rows = []
    for name, path in SETS.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "set": name})
    return rows


def group_of(source: str) -> str:
    """The repository a passage comes from: github:OWNER/REPO@COMMIT:PATH -> OWNER/REPO."""
    return source.split("@", 1)[0].removeprefix("github:")


class Features:
    """Keyword incidence and meaning similarity of every labelled passage, computed once, so the
    weights and threshold can be re-derived per fold with array arithmetic."""

    def __init__(self, rows: list[dict], classifier: ThemeClassifier, config: Config):
        options = config.tag
        self.theme_ids = [t.id for t in config.themes]
        self.terms = [(t.id, term) for t in config.themes for term in classifier.kinds[t.id]]
        index = {key: k for k, key in enumerate(self.terms)}
        self.theme_of = np.array([self.theme_ids.index(t) for t, _ in self.terms])
        evidence = classifier.evidence_many(list(classifier.nlp.pipe([r["text"] for r in rows])))
        n, k, t = len(rows), len(self.terms), len(self.theme_ids)
        self.found = np.zeros((n, k), dtype=float)
        self.similarity = np.zeros((n, t))
        self.words = np.zeros(n)
        for p, per_theme in enumerate(evidence):
            for j, e in enumerate(per_theme):
                for term in e.keywords:
                    self.found[p, index[(e.theme_id, term)]] = 1.0
                self.similarity[p, j] = e.similarity
                self.words[p] = e.words
        self.truth = np.array([[tid in r["themes"] for tid in self.theme_ids] for r in rows])
        self.groups = np.array([group_of(r["source"]) for r in rows])
        self.to_theme = np.zeros((k, t))
        self.to_theme[np.arange(k), self.theme_of] = 1.0
        themes = {th.id: th for th in config.themes}
        settings = [themes[tid].setting(term) for tid, term in self.terms]
        self.default = np.array([default_weight(classifier.kinds[tid][term], options) for tid, term in self.terms])
        self.fixed = np.array([s.weight if s.weight is not None else np.nan for s in settings])
        self.weak = np.array([s.weak for s in settings])
        self.configured = np.array([classifier.weights[tid][term] for tid, term in self.terms])
        self.options = options

    def estimate(self, train: np.ndarray) -> np.ndarray:
        """Keyword weights from the labelled passages `train` (as pipeline/calibrate.py does)."""
        found = self.found[train] > 0
        seen = found.sum(axis=0)
        on_theme = (found & self.truth[train][:, self.theme_of]).sum(axis=0)
        prior = 1.0 - 2.0 ** -self.default
        m = self.options.calibration_prior_passages
        precision = (on_theme + m * prior) / (seen + m)
        weights = -np.log2(np.maximum(1.0 - precision, 2.0 ** -10))
        weights = np.where(np.isnan(self.fixed), weights, self.fixed)
        cap = self.options.weak_share * self.options.bar_points
        return np.where(self.weak, np.minimum(weights, cap), weights)

    def points(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Vectorised pipeline.themes.combine: points of every passage and theme."""
        o = self.options
        length = np.minimum(1.0, o.reference_words / np.maximum(self.words[rows], 1))[:, None]
        keyword = (self.found[rows] * weights) @ self.to_theme * length
        if o.meaning == "none":
            return keyword
        meaning = o.similarity_points * np.clip((self.similarity[rows] - o.similarity_low)
                                                / (o.similarity_high - o.similarity_low), 0, 1)
        return keyword + meaning

    def crossfit_points(self, rows: np.ndarray) -> np.ndarray:
        """Points of `rows`, each group's from weights estimated on the other groups of `rows`."""
        out = np.zeros((len(rows), len(self.theme_ids)))
        groups = self.groups[rows]
        for group in sorted(set(groups)):
            inside = groups == group
            out[inside] = self.points(rows[inside], self.estimate(rows[~inside]))
        return out

    def best_bar(self, rows: np.ndarray) -> float:
        points = self.crossfit_points(rows)
        f1 = [prf(self.truth[rows], points >= bar)["f1"] for bar in BARS]
        return float(BARS[int(np.argmax(f1))])

    def held_out(self) -> tuple[np.ndarray, dict[str, float]]:
        predicted = np.zeros_like(self.truth)
        bars = {}
        for group in sorted(set(self.groups)):
            test = np.flatnonzero(self.groups == group)
            train = np.flatnonzero(self.groups != group)
            bars[group] = self.best_bar(train)
            predicted[test] = self.points(test, self.estimate(train)) >= bars[group]
        return predicted, bars

    def coverage(self, rows: np.ndarray) -> float:
        hit = (self.found[rows] @ self.to_theme) > 0
        gold = self.truth[rows]
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
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    features = Features(rows, classifier, config)
    features_s = time.perf_counter() - started
    sets = {name: np.array([r["set"] == name for r in rows]) for name in SETS}
    everything = np.arange(len(rows))
    print(f"{len(rows)} labelled passages ({', '.join(f'{n} {int(s.sum())}' for n, s in sets.items())}), "
          f"{len(set(features.groups))} repositories; features in {features_s:.1f} s; "
          f"weights file: {config.tag.weights_file or 'none'}; threshold {config.tag.threshold}")

    result: dict = {"passages": len(rows), "options": config.tag.model_dump(mode="json"), "features_s": round(features_s, 2)}
    configured = features.points(everything, features.configured) >= config.tag.bar_points
    result["configured"] = {name: report(f"as configured, {name}", features.truth[s], configured[s], theme_ids)
                            for name, s in [*sets.items(), ("dev+dev2", np.ones(len(rows), bool))]}

    predicted, bars = features.held_out()
    held = report(f"source-held-out over dev+dev2 ({len(bars)} repositories; weights and threshold "
                  "re-derived without the held-out one)", features.truth, predicted, theme_ids)
    held["per_source"] = {}
    for group in sorted(bars):
        inside = features.groups == group
        held["per_source"][group] = {"passages": int(inside.sum()), "bar_points": bars[group],
                                     **prf(features.truth[inside], predicted[inside])}
        print(f"  {group:58} {int(inside.sum()):3d} passages  F1 {held['per_source'][group]['f1']:.3f}"
              f"  (bar {bars[group]:.2f} points)")
    for name, s in sets.items():
        held[name] = prf(features.truth[s], predicted[s])
        print(f"  held-out predictions on {name}: P {held[name]['precision']:.3f} R {held[name]['recall']:.3f} "
              f"F1 {held[name]['f1']:.3f}")
    result["source_held_out"] = held

    result["coverage"] = {name: features.coverage(np.flatnonzero(s)) for name, s in sets.items()}
    print("keyword coverage of gold labels: " + ", ".join(f"{n} {c:.3f}" for n, c in result["coverage"].items()))
    bar = features.best_bar(everything)
    result["cross_fitted_bar_points"] = bar
    print(f"threshold cross-fitted on all passages: {bar:.2f} points = tag.threshold {1 - 2 ** -bar:.3f}")

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
