"""Diarization: error rate, voices found, CPU time and memory, on multi-voice sessions.

For each session of bench/make_multivoice_session.py (generated first if missing) and each
speaker model, diarization runs twice: with the number of voices given (as when the session
declares its speakers) and estimated ("auto"). Reported per run: the diarization error rate
(DER: missed speech + false alarm + speaker confusion, over the reference speech, with a 0.25 s
collar around every reference boundary and the best one-to-one mapping of labels), the number
of voices found, and CPU seconds per minute of audio (decoding, speech detection, voice prints
and clustering, all threads). One-voice recordings (the sample session, a real FLEURS speaker)
check that one voice stays one in "auto". `--four-hours` also diarizes a four-hour recording
(a session repeated) in a child process and reports its peak memory.

    .venv/bin/python bench/bench_diarize.py [--models campplus ge2e] [--four-hours]

Targets: DER <= 10 %, the exact count when given, <= 2 CPU-s per audio minute, four hours within
the transcription's memory (about 1.4 GB peak).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import print_table, run_measured, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data" / "multivoice"
SHARED = REPO.parent / "shared" / "eval"
ONE_VOICE = {"sample (Pico)": SHARED / "sample" / "seance-introductive.ogg",
             "fleurs-fr-001 (real)": SHARED / "asr" / "fleurs-fr-001.ogg"}
COLLAR_S = 0.25
FRAME_S = 0.01


# --- DER ------------------------------------------------------------------------------------

def hungarian(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost assignment of rows to columns (rows <= columns), O(n^3)."""
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    p, way = np.zeros(m + 1, int), np.zeros(m + 1, int)
    for i in range(1, n + 1):
        p[0], j0 = i, 0
        minv, used = np.full(m + 1, np.inf), np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], np.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    current = cost[i0 - 1, j - 1] - u[i0] - v[j]
                    if current < minv[j]:
                        minv[j], way[j] = current, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return [(p[j] - 1, j - 1) for j in range(1, m + 1) if p[j]]


def _frames(segments: list[tuple[float, float, str]], names: dict[str, int], total: int) -> np.ndarray:
    labels = np.full(total, -1, int)
    for start, end, speaker in segments:
        labels[int(round(start / FRAME_S)): int(round(end / FRAME_S))] = names.setdefault(speaker, len(names))
    return labels


def der(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]],
        collar_s: float = COLLAR_S) -> dict:
    """Diarization error rate of hypothesis against reference (lists of (start, end, speaker),
    no overlapping speech in the reference), frames of 10 ms, `collar_s` around each reference
    boundary not scored, labels mapped one-to-one to maximise agreement."""
    end_s = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0]) + 1
    total = int(round(end_s / FRAME_S))
    ref = _frames(reference, {}, total)
    hyp = _frames(hypothesis, {}, total)
    scored = np.ones(total, bool)
    collar = int(round(collar_s / FRAME_S))
    for start, end, _ in reference:
        for edge in (int(round(start / FRAME_S)), int(round(end / FRAME_S))):
            scored[max(0, edge - collar): edge + collar] = False
    ref, hyp = ref[scored], hyp[scored]
    speech = ref >= 0
    missed = int(np.sum(speech & (hyp < 0)))
    false_alarm = int(np.sum(~speech & (hyp >= 0)))
    both = speech & (hyp >= 0)
    n_ref, n_hyp = ref.max(initial=-1) + 1, hyp.max(initial=-1) + 1
    overlap = np.zeros((max(n_ref, 1), max(n_hyp, 1)))
    np.add.at(overlap, (ref[both], hyp[both]), 1)
    if n_ref <= n_hyp:
        pairs = hungarian(-overlap)
    else:
        pairs = [(r, h) for h, r in hungarian(-overlap.T)]
    matched = sum(overlap[r, h] for r, h in pairs)
    confusion = int(np.sum(both) - matched)
    reference_frames = max(int(np.sum(speech)), 1)
    return {"der": (missed + false_alarm + confusion) / reference_frames, "missed": missed / reference_frames,
            "false_alarm": false_alarm / reference_frames, "confusion": confusion / reference_frames}


# --- runs -----------------------------------------------------------------------------------

def ensure_sessions() -> list[dict]:
    import make_multivoice_session as maker

    truths = []
    for session_id, *_ in maker.SESSIONS:
        path = DATA / session_id / "truth.json"
        if not path.is_file():
            print(f"generating {session_id}…", flush=True)
            subprocess.run([sys.executable, str(REPO / "bench" / "make_multivoice_session.py"), "--only", session_id],
                           check=True)
        truths.append(json.loads(path.read_text(encoding="utf-8")))
    return truths


def audio_minutes(path: Path) -> float:
    from synthese.transcribe.audio import check_audio

    return check_audio(path).duration_s / 60


def run_one(path: Path, model: str, num_speakers: int | None) -> tuple[object, float]:
    from synthese.transcribe.diarize import DiarizeSettings, diarize_file

    started = time.process_time()
    result = diarize_file(path, num_speakers=num_speakers, settings=DiarizeSettings(model=model))
    return result, time.process_time() - started


FOUR_HOURS_CHILD = """
import json, sys, time
from synthese.transcribe.diarize import DiarizeSettings, diarize_file
started = time.process_time()
result = diarize_file(sys.argv[1], num_speakers=None, settings=DiarizeSettings(model=sys.argv[2]))
print(json.dumps({"speakers_found": result.speakers_found, "windows": result.windows,
                  "speech_s": result.seconds_of_speech, "cpu_s": time.process_time() - started}))
"""


def four_hours(model: str, source: Path) -> dict:
    from bench_memory import repeated_recording

    minutes = audio_minutes(source)
    times = int(np.ceil(240 / minutes))
    long_path = repeated_recording(source, times, DATA / f"four-hours-{source.stem}.flac")
    measured = run_measured([sys.executable, "-c", FOUR_HOURS_CHILD, str(long_path), model])
    if measured.returncode != 0:
        raise SystemExit(f"four-hour run failed:\n{measured.output[-2000:]}")
    child = json.loads(measured.output.strip().splitlines()[-1])
    return {"model": model, "audio_min": round(minutes * times, 1), "peak_rss_mb": round(measured.peak_bytes / 2**20),
            "cpu_s": round(measured.cpu_s, 1), "cpu_s_per_audio_min": round(measured.cpu_s / (minutes * times), 2),
            **child}


def previous_four_hours(name: str) -> dict | None:
    """The four-hour figures of the last run that measured them (they take long to remeasure)."""
    path = REPO / "bench" / "results" / f"{name}.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run = previous.get("four_hours")
    return {**run, "measured": run.get("measured", previous.get("measured"))} if run else None


def measure_four_hours_only(model: str, name: str) -> int:
    """The four-hour figures, written into the results file beside its other figures."""
    truths = ensure_sessions()
    source = DATA / truths[-1]["session_id"] / truths[-1]["media"]
    long_run = {**four_hours(model, source), "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(f"four hours ({long_run['audio_min']:.0f} min, {model}): peak {long_run['peak_rss_mb']} MB, "
          f"{long_run['cpu_s_per_audio_min']:.2f} CPU-s per audio minute, {long_run['speakers_found']} voices found, "
          f"{long_run['windows']} windows")
    path = REPO / "bench" / "results" / f"{name}.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    kept = {k: v for k, v in previous.items() if k not in ("benchmark", "measured", "machine", "four_hours")}
    print(f"written: {write_results(name, {**kept, 'four_hours': long_run})}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["campplus", "ge2e"], help="speaker models to compare")
    parser.add_argument("--sessions", nargs="*", help="session ids (default: all)")
    parser.add_argument("--four-hours", action="store_true",
                        help="also diarize a four-hour recording (the last session repeated) and measure its memory "
                             "(otherwise the last measured figures are kept in the results)")
    parser.add_argument("--four-hours-only", action="store_true",
                        help="measure only the four-hour recording; keep the other figures of the results file")
    parser.add_argument("--name", default="diarize", help="results file name under bench/results/ (default: diarize)")
    args = parser.parse_args(argv)

    from synthese.transcribe.speaker_embedding import load_encoder

    if args.four_hours_only:
        return measure_four_hours_only(args.models[0], args.name)
    truths = [t for t in ensure_sessions() if not args.sessions or t["session_id"] in args.sessions]
    for model in args.models:
        load_encoder(model)  # loading the weights is not part of the per-minute cost
    runs, rows = [], []
    for truth in truths:
        path = DATA / truth["session_id"] / truth["media"]
        minutes = audio_minutes(path)
        reference = [(s["start"], s["end"], s["speaker"]) for s in truth["segments"]]
        for model in args.models:  # interleaved: both models see the same machine load
            for mode, count in (("given", len(truth["speakers"])), ("auto", None)):
                result, cpu_s = run_one(path, model, count)
                score = der(reference, [(t.start, t.end, t.speaker) for t in result.turns])
                run = {"session": truth["session_id"], "model": model, "mode": mode, "audio_min": round(minutes, 2),
                       "voices": len(truth["speakers"]), "turns": len(truth["turns"]),
                       "found": result.speakers_found, "windows": result.windows,
                       **{k: round(v, 4) for k, v in score.items()}, "cpu_s": round(cpu_s, 2),
                       "cpu_s_per_audio_min": round(cpu_s / minutes, 2)}
                runs.append(run)
                rows.append((run["session"], model, mode, f"{minutes:.1f}", f"{run['voices']}/{run['turns']}",
                             run["found"], f"{100 * run['der']:.1f}", f"{100 * run['missed']:.1f}",
                             f"{100 * run['false_alarm']:.1f}", f"{100 * run['confusion']:.1f}",
                             f"{run['cpu_s_per_audio_min']:.2f}"))
                print(*rows[-1], flush=True)
    one_voice = []
    for name, path in ONE_VOICE.items():
        for model in args.models:
            result, cpu_s = run_one(path, model, None)
            one_voice.append({"recording": name, "model": model, "found": result.speakers_found,
                              "windows": result.windows})
    print()
    print_table(rows, ("session", "model", "count", "min", "voices/turns", "found", "DER %", "miss %", "FA %",
                       "conf %", "CPU-s/min"))
    summary = []
    for model in args.models:
        for mode in ("given", "auto"):
            chosen = [r for r in runs if r["model"] == model and r["mode"] == mode]
            if not chosen:
                continue
            weight = sum(r["audio_min"] for r in chosen)
            summary.append({"model": model, "mode": mode,
                            "der_mean": round(float(np.mean([r["der"] for r in chosen])), 4),
                            "der_max": round(max(r["der"] for r in chosen), 4),
                            "exact_counts": f"{sum(r['found'] == r['voices'] for r in chosen)}/{len(chosen)}",
                            "cpu_s_per_audio_min": round(sum(r["cpu_s"] for r in chosen) / weight, 2)})
    print()
    print_table([(s["model"], s["mode"], f"{100 * s['der_mean']:.1f}", f"{100 * s['der_max']:.1f}",
                  s["exact_counts"], f"{s['cpu_s_per_audio_min']:.2f}") for s in summary],
                ("model", "count", "mean DER %", "worst DER %", "exact count", "CPU-s/min"))
    print()
    print_table([(o["recording"], o["model"], o["found"], o["windows"]) for o in one_voice],
                ("one-voice recording", "model", "voices found (auto)", "windows"))
    long_run = previous_four_hours(args.name)
    if args.four_hours:
        source = DATA / truths[-1]["session_id"] / truths[-1]["media"]
        measured = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        long_run = {**four_hours(args.models[0], source), "measured": measured}
        print(f"\nfour hours ({long_run['audio_min']:.0f} min, {args.models[0]}): peak {long_run['peak_rss_mb']} MB, "
              f"{long_run['cpu_s_per_audio_min']:.2f} CPU-s per audio minute, {long_run['speakers_found']} voices "
              f"found, {long_run['windows']} windows")
    path = write_results(args.name, {"collar_s": COLLAR_S, "runs": runs, "summary": summary, "one_voice": one_voice,
                                     "four_hours": long_run})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
