"""Benchmark: the stage's default decoding (batched + VAD + guards) against its own sequential
mode (`batched: false`) and against plain faster-whisper sequential beam 5.

Both use the same Whisper model on the same files, in one run, so the ratio holds on any machine:

    .venv/bin/python bench/bench_transcribe.py
    .venv/bin/python bench/bench_transcribe.py --audio replay.ogg --reference replay.txt [--session ID]

Prints a table (WER with the project's normalisation, real-time factor = processing time / audio
duration) and writes bench/results/transcribe.json. Never fails on an absolute time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthese.storage import write_json  # noqa: E402
from synthese.config import load_config  # noqa: E402
from synthese.textnorm import word_errors  # noqa: E402
from synthese.transcription import (  # noqa: E402
    _decode_options,
    check_audio,
    load_audio,
    transcribe_audio,
    vocabulary_hints,
)
from synthese.whisper_model import load_whisper  # noqa: E402

ASR = REPO.parent / "shared" / "eval" / "asr"


def run_default(path: Path, config, model, hints: str) -> str:
    result = transcribe_audio(path, config, hints=hints, checkpoint=None, model=model)
    return " ".join(s.text for s in result.segments)


def run_pipeline_sequential(path: Path, config, model, hints: str) -> str:
    """The stage with `batched: false`: same hints, VAD and guards, one 30 s window at a time."""
    sequential = config.model_copy(update={"transcribe": config.transcribe.model_copy(update={"batched": False})})
    return run_default(path, sequential, model, hints)


def run_sequential(path: Path, config, model, hints: str) -> str:
    """faster-whisper's own defaults: sequential beam 5, no VAD, no hints."""
    segments, _ = model.transcribe(str(path), language=config.transcribe.language, beam_size=5)
    return " ".join(s.text.strip() for s in segments)


def run_without_hints(path: Path, config, model, hints: str) -> str:
    return run_default(path, config, model, "")


def run_beam_2(path: Path, config, model, hints: str) -> str:
    narrow = config.model_copy(update={"transcribe": config.transcribe.model_copy(update={"beam_size": 2})})
    return run_default(path, narrow, model, hints)


def run_without_timestamps(path: Path, config, model, hints: str) -> str:
    """The default's decoding with one segment per voice-activity chunk (up to 30 s)."""
    from faster_whisper import BatchedInferencePipeline

    decode = {**_decode_options(config, hints), "without_timestamps": True}
    segments, _ = BatchedInferencePipeline(model).transcribe(load_audio(path), language=config.transcribe.language,
                                                             **decode)
    return " ".join(s.text for s in segments)


# The first is the stage's default; the speed ratio compares it with "sequential beam 5".
SETTINGS = {"default (batched + VAD)": run_default, "batched: false": run_pipeline_sequential,
            "sequential beam 5": run_sequential}
# Alternatives to the default, measured with --explore.
EXPLORED = {"default without hints": run_without_hints, "default with beam 2": run_beam_2,
            "default without timestamps": run_without_timestamps}


def measure(items: list[tuple[Path, str]], config, model, hints: str, settings: dict) -> dict:
    """{setting: {wer, rtf, seconds, audio_s, files: [...]}} for one group of files."""
    results = {}
    for name, runner in settings.items():
        errors = words = 0
        seconds = audio_s = 0.0
        files = []
        for path, reference in items:
            duration = check_audio(path).duration_s
            started = time.perf_counter()
            hypothesis = runner(path, config, model, hints)
            elapsed = time.perf_counter() - started
            e, n = word_errors(reference, hypothesis)
            errors, words, seconds, audio_s = errors + e, words + n, seconds + elapsed, audio_s + duration
            files.append({"file": path.name, "audio_s": round(duration, 2), "seconds": round(elapsed, 2),
                          "wer": round(e / n, 4), "text": hypothesis})
        results[name] = {"wer": round(errors / words, 4), "rtf": round(seconds / audio_s, 4),
                         "seconds": round(seconds, 2), "audio_s": round(audio_s, 2), "files": files}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, help="a long recording to add to the comparison")
    parser.add_argument("--reference", type=Path, help="the reference text of --audio")
    parser.add_argument("--session", help="prompt --audio with this session's vocabulary hints (speakers, title)")
    parser.add_argument("--explore", action="store_true",
                        help="also measure alternatives: no vocabulary hints, beam 2, no timestamps")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "transcribe.json")
    args = parser.parse_args()
    if bool(args.audio) != bool(args.reference):
        parser.error("--audio and --reference go together")

    config = load_config(args.config)
    options = config.transcribe
    model = load_whisper(options.model, cache_dir=options.model_cache and config.resolve(options.model_cache),
                         compute_type=options.compute_type, cpu_threads=options.cpu_threads)
    groups = {"fleurs": [(clip, clip.with_suffix(".txt").read_text(encoding="utf-8"))
                         for clip in sorted(ASR.glob("fleurs-fr-*.ogg"))]}
    if args.audio:
        groups[args.audio.name] = [(args.audio, args.reference.read_text(encoding="utf-8"))]

    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "model": options.model, "compute_type": options.compute_type, "beam_size": options.beam_size,
        "batch_size": options.batch_size, "session_hints": args.session, "groups": {},
    }
    print(f"{'files':<28} {'setting':<26} {'WER':>6} {'RTF':>7} {'time s':>8} {'audio s':>8}")
    for group, items in groups.items():
        session = config.session(args.session) if args.session and group != "fleurs" else None
        results = measure(items, config, model, vocabulary_hints(config, session),
                          {**SETTINGS, **(EXPLORED if args.explore else {})})
        default, sequential = results[next(iter(SETTINGS))], results["sequential beam 5"]
        speedup = sequential["seconds"] / default["seconds"] if default["seconds"] else float("nan")
        report["groups"][group] = {"settings": results, "speedup_default_vs_sequential": round(speedup, 2)}
        for name, row in results.items():
            print(f"{group:<28} {name:<26} {row['wer']:>6.3f} {row['rtf']:>7.3f} {row['seconds']:>8.1f} "
                  f"{row['audio_s']:>8.1f}")
        print(f"{group:<28} {'speed ratio (seq / default)':<26} {speedup:>6.2f}x")
    write_json(args.output, report)
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
