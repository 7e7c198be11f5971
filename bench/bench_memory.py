"""Peak memory of `synthese run` on the long session, and of transcribing a 60-minute and a
four-hour recording.

Staff run Synthèse on ordinary laptops: the target is a peak resident memory of at most 2 GB.
Each command runs as a child process; the RSS of its whole process tree is sampled every 0.2 s
and the kernel's exact high-water mark of the largest process (wait4 ru_maxrss) is read when it
ends; the peak is the larger of the two. The 60-minute recording is generated once by
make_long_session.py (bench/data/long-session-60/) and reused; the four-hour one is that hour
played four times over, written once as FLAC (bench/data/long-session-240.flac). Transcription
decodes in blocks, so the four hours should peak where the one hour does. The later stages of a
four-hour session are measured on a transcript made by repeating the 30-minute session's own
(its `synthese run` must have been done: bench_end_to_end.py does it), imported by a
`synthese run` that tags, renders and publishes it.

    .venv/bin/python bench/bench_memory.py --session-dir bench/data/long-session
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import REPO, RESULTS, SYNTHESE, load_truth, print_table, run_measured, write_results

DATA = REPO / "bench" / "data"


def ensure_session(folder: Path, minutes: float) -> dict:
    """The generated session in folder, made first if it is not there."""
    if not (folder / "ground-truth.json").is_file():
        print(f"generating a {minutes:.0f}-minute session in {folder}…", flush=True)
        subprocess.run([sys.executable, str(REPO / "bench" / "make_long_session.py"), "--minutes", str(minutes),
                        "-o", str(folder)], check=True)
    return load_truth(folder)


def repeated_recording(source: Path, times: int, target: Path) -> Path:
    """`source` played `times` times over, as a 16 kHz mono FLAC at `target` (made once)."""
    if target.is_file():
        return target
    import av
    import numpy as np

    from synthese.transcribe.audio import SAMPLE_RATE, decode_audio

    print(f"writing {target.name}: {source.name} {times} times over…", flush=True)
    partial = target.with_name(target.name + ".part")
    with av.open(str(partial), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        for _ in range(times):
            for chunk in decode_audio(source):
                samples = (np.clip(chunk, -1.0, 1.0) * 32767).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    partial.rename(target)
    return target


def repeated_transcript(session_dir: Path, times: int, folder: Path) -> Path:
    """A workspace in `folder` whose one session is the transcript of `session_dir` repeated
    `times` times (times shifted), imported instead of a replay; returns its config.yaml."""
    import yaml

    config = yaml.safe_load((session_dir / "config.yaml").read_text(encoding="utf-8"))
    weights = (config.get("tag") or {}).get("weights_file")
    if weights and not Path(weights).is_absolute():
        config["tag"]["weights_file"] = str((session_dir / weights).resolve())
    session = config["sessions"][0]
    source = session_dir / "transcripts" / session["id"] / f"{session['id']}.transcript.json"
    if not source.is_file():
        sys.exit(f"{source}: not found. Run the session first: .venv/bin/synthese --config "
                 f"{session_dir / 'config.yaml'} run")
    transcript = json.loads(source.read_text(encoding="utf-8"))
    length_s, segments = transcript["duration_s"], []
    for turn in range(times):
        for segment in transcript["segments"]:
            shift = turn * length_s
            words = [{**w, "start": w["start"] + shift, "end": w["end"] + shift} for w in segment.get("words") or []]
            segments.append({**segment, "id": len(segments), "start": segment["start"] + shift,
                             "end": segment["end"] + shift, "words": words})
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{session['id']}-x{times}"
    (folder / f"{name}.transcript.json").write_text(
        json.dumps({**transcript, "segments": segments, "duration_s": times * length_s}, ensure_ascii=False),
        encoding="utf-8")
    session = {key: value for key, value in session.items() if key != "media"}
    config["sessions"] = [{**session, "id": name, "transcript": f"{name}.transcript.json"}]
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return folder / "config.yaml"


def previous_runs(path: Path) -> dict[str, dict]:
    """The runs of the last memory.json, each with the time it was measured, to keep the figures
    of a part skipped this time."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name: {"measured": data.get("measured"), **run} for name, run in data.get("runs", {}).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--session-dir", type=Path, default=DATA / "long-session",
                        help="folder made by make_long_session.py for the `synthese run` measurement")
    parser.add_argument("--long-dir", type=Path, default=DATA / "long-session-60",
                        help="folder of the 60-minute recording (generated if missing)")
    parser.add_argument("--long-minutes", type=float, default=60.0)
    parser.add_argument("--synthese", type=Path, default=SYNTHESE)
    parser.add_argument("--skip-run", action="store_true",
                        help="skip `synthese run --force` on the session (its last figures are kept)")
    parser.add_argument("--reuse-end-to-end", action="store_true",
                        help="take the peak of `run --force` from results/end_to_end.json (measured the same "
                             "way) instead of running the whole pipeline once more")
    parser.add_argument("--skip-transcribe", action="store_true",
                        help="skip transcribing the 60-minute recording (its last figures are kept)")
    parser.add_argument("--skip-four-hours", action="store_true",
                        help="skip transcribing the four-hour recording (its last figures are kept)")
    parser.add_argument("--skip-four-hour-run", action="store_true",
                        help="skip `synthese run` on the four-hour transcript (its last figures are kept)")
    parser.add_argument("--target-mb", type=float, default=2048.0, help="reported, never enforced")
    args = parser.parse_args(argv)

    runs = previous_runs(RESULTS / "memory.json")
    run_name, transcribe_name = "synthese run --force", f"synthese transcribe ({args.long_minutes:.0f} min)"

    def measure(command: list[str], audio_s: float) -> dict:
        measurement = run_measured(command)
        if measurement.returncode != 0:
            print(measurement.output[-4000:], file=sys.stderr)
            sys.exit(f"{' '.join(command[3:5])} failed (exit {measurement.returncode}); its output is above.")
        return {"audio_s": audio_s, **measurement.to_json()}

    if args.reuse_end_to_end:
        end_to_end = json.loads((RESULTS / "end_to_end.json").read_text(encoding="utf-8"))
        runs[run_name] = {"measured": end_to_end["measured"], "from": "end_to_end.json",
                          "audio_s": end_to_end["duration_s"], **end_to_end["steps"]["run --force"]}
    elif not args.skip_run:
        truth = load_truth(args.session_dir)
        command = [str(args.synthese), "--config", str(args.session_dir / "config.yaml"), "run", "--force"]
        runs[run_name] = measure(command, truth["duration_s"])
    if not args.skip_transcribe:
        truth = ensure_session(args.long_dir, args.long_minutes)
        with tempfile.TemporaryDirectory(prefix="synthese-bench-") as out_dir:
            command = [str(args.synthese), "--config", str(args.long_dir / "config.yaml"), "transcribe",
                       str(args.long_dir / truth["media"]), "-o", out_dir]
            runs[transcribe_name] = measure(command, truth["duration_s"])
    if not args.skip_four_hours:
        truth = ensure_session(args.long_dir, args.long_minutes)
        four_hours = repeated_recording(args.long_dir / truth["media"], 4, DATA / "long-session-240.flac")
        with tempfile.TemporaryDirectory(prefix="synthese-bench-") as out_dir:
            command = [str(args.synthese), "--config", str(args.long_dir / "config.yaml"), "transcribe",
                       str(four_hours), "-o", out_dir]
            runs[f"synthese transcribe ({4 * args.long_minutes:.0f} min)"] = measure(command, 4 * truth["duration_s"])
    if not args.skip_four_hour_run:
        truth = load_truth(args.session_dir)
        times = max(1, round(4 * 3600 / truth["duration_s"]))
        with tempfile.TemporaryDirectory(prefix="synthese-bench-") as folder:
            config = repeated_transcript(args.session_dir, times, Path(folder))
            command = [str(args.synthese), "--config", str(config), "run"]
            runs[f"synthese run, {times} x {truth['duration_s'] / 60:.0f} min transcript"] = measure(
                command, times * truth["duration_s"])

    rows = [(name, f"{run['audio_s'] / 60:.1f}", f"{run['peak_rss_mb']:.0f}", f"{run['peak_tree_rss_mb']:.0f}",
             f"{run['max_rss_mb']:.0f}", f"{run['wall_s']:.0f}", f"{run.get('cpu_s', float('nan')):.0f}",
             run.get("measured", "now"))
            for name, run in runs.items()]
    print_table(rows, ("command", "audio min", "peak MB", "tree MB", "maxrss MB", "wall s", "CPU s", "measured"))
    worst = max((run["peak_rss_mb"] for run in runs.values()), default=None)
    if worst is not None:
        print(f"\nhighest peak: {worst:.0f} MB (target <= {args.target_mb:.0f} MB)")
    path = write_results("memory", {"target_mb": args.target_mb, "peak_mb": worst, "runs": runs})
    print(f"written: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
