"""End-to-end time of `synthese run` on the long session, and of the run after a review edit.

Four runs of the real command, as staff type it, on a session made by make_long_session.py:
  1. `run --force`: every stage from the recording (real-time factor = wall time / duration);
  2. `run` again: nothing to do (the cost of checking that everything is up to date);
  3. a reviewer adds a decision to the session's review file, then `run`: tag, render and
     publish again, transcription kept (the time staff wait after a correction);
  4. the review file restored, then `run`: the artefacts are back to the untouched tagging, so
     that bench_excerpts.py judges the tagger, not the review.
Per-stage times come from the time-stamped stage lines of the log. Figures are printed and
written to bench/results/end_to_end.json; no absolute time is asserted.

    .venv/bin/python bench/bench_end_to_end.py --session-dir bench/data/long-session
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml
from measure import REPO, SYNTHESE, Measurement, load_truth, print_table, run_measured, write_results

from synthese.core.storage import write_text


def review_paths(session_dir: Path, session_id: str) -> tuple[Path, Path]:
    folder = session_dir / "transcripts" / session_id
    return folder / f"{session_id}.review.yaml", folder / f"{session_id}.tags.json"


def add_review_decision(review_path: Path, tags: dict) -> str:
    """Edit the review file as a reviewer would: exclude the first excerpt of the first theme that
    has one (`exclude: [{passage: "<key>", theme: <id>}]`, the key as tags.json gives it).
    Returns the decision, described."""
    theme, quotes = next((t, quotes) for t, quotes in tags["excerpts"].items() if quotes)
    key = next(p["key"] for p in tags["passages"] if p["id"] == quotes[0]["passage"])
    item = "{passage: " + json.dumps(key, ensure_ascii=False) + ", theme: " + theme + "}"
    text = review_path.read_text(encoding="utf-8")
    # Edit the text, comments kept, as a person would; any other layout goes through YAML.
    edited, count = re.subn(r"^exclude:\s*\[\]\s*$", lambda _: f"exclude:\n  - {item}", text, count=1,
                             flags=re.M)
    if not count:
        data = yaml.safe_load(text) or {}
        data["exclude"] = [*(data.get("exclude") or []), {"passage": key, "theme": theme}]
        edited = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    write_text(review_path, edited)
    return f"exclude {key!r} from {theme}"


def run_synthese(config: Path, *args: str, synthese: Path = SYNTHESE) -> Measurement:
    measurement = run_measured([str(synthese), "--config", str(config), "run", *args])
    if measurement.returncode != 0:
        print(measurement.output[-4000:], file=sys.stderr)
        sys.exit(f"synthese run {' '.join(args)} failed (exit {measurement.returncode}); its output is above.")
    return measurement


def stages_text(measurement: Measurement) -> str:
    return ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in measurement.stage_times().items()) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session-dir", type=Path, default=REPO / "bench" / "data" / "long-session",
                        help="folder made by make_long_session.py")
    parser.add_argument("--synthese", type=Path, default=SYNTHESE, help="the synthese command to time")
    parser.add_argument("--skip-full", action="store_true",
                        help="skip the forced full run (time only the re-runs; the session must have run)")
    parser.add_argument("--skip-review", action="store_true", help="skip the review-edit re-run")
    parser.add_argument("--target-rtf", type=float, default=0.08, help="reported, never enforced")
    parser.add_argument("--target-review-s", type=float, default=10.0, help="reported, never enforced")
    args = parser.parse_args(argv)

    truth = load_truth(args.session_dir)
    config = args.session_dir / "config.yaml"
    duration_s = truth["duration_s"]
    steps: dict[str, dict] = {}
    rows = []

    def record(name: str, measurement: Measurement, **extra) -> None:
        steps[name] = {**measurement.to_json(), **extra}
        rows.append((name, f"{measurement.wall_s:.1f}", f"{measurement.wall_s / duration_s:.4f}",
                     f"{measurement.cpu_s:.1f}", f"{measurement.peak_bytes / 2**20:.0f}",
                     f"{measurement.load_avg_1m:.1f}", stages_text(measurement)))

    if not args.skip_full:
        record("run --force", run_synthese(config, "--force", synthese=args.synthese))
    record("run (up to date)", run_synthese(config, synthese=args.synthese))

    if not args.skip_review:
        review_path, tags_path = review_paths(args.session_dir, truth["session_id"])
        original = review_path.read_text(encoding="utf-8")
        try:
            decision = add_review_decision(review_path, json.loads(tags_path.read_text(encoding="utf-8")))
            edited = run_synthese(config, synthese=args.synthese)
            applied = json.loads(tags_path.read_text(encoding="utf-8")).get("review", {})
        finally:
            write_text(review_path, original)
        record("run after review edit", edited, decision=decision, review=applied)
        record("run after review restored", run_synthese(config, synthese=args.synthese))

    print(f"{args.session_dir}: {duration_s / 60:.1f} min recording\n")
    print_table(rows, ("step", "wall s", "RTF", "CPU s", "peak MB", "load", "stage seconds (wall)"))
    full = steps.get("run --force")
    edited = steps.get("run after review edit")
    summary = {
        "rtf": round(full["wall_s"] / duration_s, 4) if full else None,
        # CPU seconds per audio second / usable cores: the RTF an otherwise idle machine would give.
        "rtf_cpu_bound": round(full["cpu_s"] / duration_s / len(os.sched_getaffinity(0)), 4) if full else None,
        "target_rtf": args.target_rtf,
        "review_rerun_s": edited["wall_s"] if edited else None,
        "target_review_s": args.target_review_s,
    }
    print()
    if full:
        print(f"full run: {full['wall_s']:.0f} s for {duration_s:.0f} s of audio, RTF {summary['rtf']} "
              f"(target <= {args.target_rtf}); CPU {full['cpu_s']:.0f} s, i.e. RTF {summary['rtf_cpu_bound']} "
              f"on {len(os.sched_getaffinity(0))} idle cores")
    if edited:
        print(f"after a review edit ({edited['decision']}): {edited['wall_s']:.1f} s "
              f"(target <= {args.target_review_s} s); review status: {edited['review'].get('status')}, "
              f"decisions applied: {edited['review'].get('decisions_applied')}")
    path = write_results("end_to_end", {"session_dir": str(args.session_dir), "duration_s": duration_s,
                                        **summary, "steps": steps})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
