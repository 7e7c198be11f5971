"""Benchmark: what the transcription gets right, what it invents, what it loses, and what it costs.

The stage's default decoding and plain faster-whisper sequential beam 5 (its defaults: no
voice-activity filter, timestamps, temperature fallback, one worker on every core), same Whisper
weights, in one run, on:

    fleurs   the real French clips of shared/eval/asr (read speech, 8-24 s each);
    long     the generated webinar of bench/make_long_session.py (`--minutes 10` by default,
             made once in bench/data/long-session-10/): eight voices, names in the transitions;
    montage  bench/make_montage.py: the real clips twice, with silences, a burst of noise and a
             passage in English.

For each setting and set: WER (the project's normalisation), codebook-word insertions
(keywords of config.yaml's themes found more often in the text than in the reference: words a
prompt or the model wrote that nobody said), gaps reported, windows decoded again, stretches of
speech the coverage audit decoded again, CPU seconds (all threads of this process, robust on a
shared machine) and wall seconds. On the montage, each clip's own WER (its words found by time)
and whether the English passage was transcribed as English or reported as a gap.

    .venv/bin/python bench/bench_transcribe.py                 # default vs sequential beam 5
    .venv/bin/python bench/bench_transcribe.py --explore       # + the alternatives weighed
    .venv/bin/python bench/bench_transcribe.py --sets long --audio X.ogg --reference X.txt

Settings run interleaved, file by file. Writes bench/results/transcribe.json. Never fails on an
absolute time.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.make_montage import build_montage  # noqa: E402
from synthese.core.config import Config, Session, load_config  # noqa: E402
from synthese.core.storage import write_json  # noqa: E402
from synthese.core.textnorm import normalise, word_errors  # noqa: E402
from synthese.transcribe.asr import LOW_CONFIDENCE_P  # noqa: E402
from synthese.transcribe.transcription import (  # noqa: E402
    check_audio,
    decode_settings,
    load_audio,
    spelling_hints,
    transcribe_audio,
)
from synthese.transcribe.whisper_model import load_whisper, resolve_model  # noqa: E402

ASR = REPO.parent / "shared" / "eval" / "asr"
DATA = REPO / "bench" / "data"
LONG_MINUTES = 10
MONTAGE_CLIP_WER_MAX = 0.35


@dataclass
class Models:
    """The same Whisper weights loaded twice: as the stage loads them (two workers side by side,
    whisper_model.worker_threads) and with faster-whisper's own defaults (one worker on every
    core) for the plain settings."""

    stage: Any
    plain: Any


def load_models(config: Config) -> Models:
    from faster_whisper import WhisperModel

    options = config.transcribe
    cache = options.model_cache and config.resolve(options.model_cache)
    stage_model = load_whisper(options.model, cache_dir=cache, compute_type=options.compute_type,
                               cpu_threads=options.cpu_threads)
    plain = WhisperModel(resolve_model(options.model, cache), device="cpu", compute_type=options.compute_type,
                         cpu_threads=options.cpu_threads, local_files_only=True)
    return Models(stage_model, plain)


@dataclass
class Hypothesis:
    """What a setting made of one file: its words with times (and language), gaps, work done."""

    words: list[tuple[float, float, str, str | None, float | None]]  # start, end, text, language, p
    gaps: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(w[2] for w in self.words)


@dataclass
class Item:
    path: Path
    reference: str
    session: Session | None = None
    pieces: list[dict[str, Any]] = field(default_factory=list)  # the montage's ground truth


# --- settings ---------------------------------------------------------------------------------

def vocabulary_prompt(config: Config, session: Session | None) -> str:
    """The prompt the stage used before: cycle title, session title, names, theme labels and the
    first three keywords of each theme."""
    parts = [config.cycle.title]
    if session is not None:
        parts += [session.title, *(", ".join(x for x in (s.name, s.organisation) if x) for s in session.speakers)]
    parts.append(", ".join(theme.label for theme in config.themes))
    parts.append(", ".join(dict.fromkeys(k for theme in config.themes for k in theme.keywords[:3])))
    text = ". ".join(p.strip().rstrip(".") for p in parts if p and p.strip()) + "."
    return text[:600].rsplit(" ", 1)[0].rstrip(",") + "." if len(text) > 600 else text


def stage(hints: str = "names", **overrides: Any) -> Callable[[Item, Config, Models], Hypothesis]:
    """The stage's decoding (synthese.transcribe.transcription.transcribe_audio) with some settings changed."""
    def run(item: Item, config: Config, models: Models) -> Hypothesis:
        prompt = {"names": spelling_hints(config, item.session), "none": "",
                  "vocabulary": vocabulary_prompt(config, item.session)}[hints]
        settings = dataclasses.replace(decode_settings(config, prompt), **overrides)
        result = transcribe_audio(item.path, config, hints=prompt, checkpoint=None, model=models.stage,
                                  settings=settings)
        words = [(w["start"], w["end"], w["text"], s.lang, w.get("p")) for s in result.segments for w in (s.words or [])]
        stats = {k: v for k, v in vars(result.stats).items()}
        return Hypothesis(words, [g.model_dump() for g in result.gaps], stats)
    return run


def _spread(segments) -> list[tuple[float, float, str, str | None, float | None]]:
    """Words of timed segments without word times, spread evenly over each segment."""
    words = []
    for start, end, text in segments:
        tokens = text.split()
        step = (end - start) / max(len(tokens), 1)
        words += [(start + i * step, start + (i + 1) * step, t, None, None) for i, t in enumerate(tokens)]
    return words


def plain_sequential(beam_size: int) -> Callable[[Item, Config, Models], Hypothesis]:
    """faster-whisper's own defaults: sequential, no voice-activity filter, no prompt."""
    def run(item: Item, config: Config, models: Models) -> Hypothesis:
        segments, _ = models.plain.transcribe(str(item.path), language=config.transcribe.language, beam_size=beam_size)
        return Hypothesis(_spread((s.start, s.end, s.text) for s in segments))
    return run


def previous_default(item: Item, config: Config, models: Models) -> Hypothesis:
    """The stage's decoding before word times and the audit: faster-whisper's batched pipeline
    with timestamps, beam 5, the vocabulary prompt, on the whole file."""
    from faster_whisper import BatchedInferencePipeline

    segments, _ = BatchedInferencePipeline(models.plain).transcribe(
        load_audio(item.path), language=config.transcribe.language, beam_size=5, batch_size=8, vad_filter=True,
        initial_prompt=vocabulary_prompt(config, item.session) or None, without_timestamps=False)
    return Hypothesis(_spread((s.start, s.end, s.text) for s in segments))


DEFAULT = "default"
SEQUENTIAL = "sequential beam 5"
SETTINGS: dict[str, Callable[[Item, Config, Models], Hypothesis]] = {
    DEFAULT: stage(),
    SEQUENTIAL: plain_sequential(5),
}
# (setting, sets it runs on): the hints only differ where the session has names.
EXPLORED: dict[str, tuple[Callable[[Item, Config, Models], Hypothesis], tuple[str, ...]]] = {
    "previous default (batched, timestamps, beam 5, vocabulary prompt)": (previous_default, ("fleurs", "long", "montage")),
    "default, beam 1": (stage(beam_size=1), ("fleurs", "long", "montage")),
    "default, beam 5": (stage(beam_size=5), ("fleurs", "long", "montage")),
    "default, batch 16": (stage(batch_size=16), ("fleurs", "long", "montage")),
    "default, no checks, no audit": (stage(check_windows=False, audit=False), ("fleurs", "long", "montage")),
    "default, no hints": (stage(hints="none"), ("long",)),
    "default, vocabulary prompt": (stage(hints="vocabulary"), ("fleurs", "long", "montage")),
    "stage sequential (batched: false, beam 5)": (stage(batched=False, beam_size=5), ("fleurs", "long", "montage")),
}


# --- measures ---------------------------------------------------------------------------------

def codebook_phrases(config: Config) -> list[tuple[str, re.Pattern, re.Pattern]]:
    """Each keyword of the codebook: (keyword, pattern for the hypothesis, pattern for the reference)
    on normalised text. Both accept any gender and number (-e, -s, -es, -x: "environnemental"
    said "environnementale", "France Services" said "France service"); the reference's also
    finds the keyword inside a longer word ("sécurité" in "cybersécurité", which Whisper may
    write in two words): what was said in any form is not an insertion. A prefix keyword
    ("cyber*") is any word starting so, in both texts ("cybersécurité" said, "cyber-sécurité"
    written)."""
    patterns = []
    raw = dict.fromkeys(k for theme in config.themes for k in theme.all_keywords)
    prefixes = {normalise(k) for k in raw if k.endswith("*")}
    for keyword in dict.fromkeys(normalise(k) for k in raw):
        if not keyword:
            continue
        if keyword in prefixes:
            patterns.append((keyword + "*", re.compile(rf"(?<!\w){re.escape(keyword)}"), re.compile(re.escape(keyword))))
            continue
        words = r"\s".join(_any_form(w) for w in keyword.split())
        if any(pattern.pattern == rf"{words}(?!\w)" for _, _, pattern in patterns):
            continue  # another form of a keyword already there ("sécurisé" after "sécuriser")
        patterns.append((keyword, re.compile(rf"(?<!\w){words}(?!\w)"), re.compile(rf"{words}(?!\w)")))
    return patterns


_HOMOPHONE_ENDINGS = r"(?:ers|er|ées|ée|és|é)"  # sécuriser, sécurisé, sécurisées; usager, usagers
_NUMBER_ENDINGS = r"(?:es|s|x|e)"


def _any_form(word: str) -> str:
    """A pattern for a keyword's word in any gender and number, and, for a word in -er or -é,
    the other of the two, which sound the same ("sécurisé" said, "sécuriser" written)."""
    if len(word) > 5 and re.search(_HOMOPHONE_ENDINGS + "$", word):
        return re.escape(re.sub(_HOMOPHONE_ENDINGS + "$", "", word)) + _HOMOPHONE_ENDINGS
    stem = re.sub(_NUMBER_ENDINGS + "$", "", word) if len(word) > 4 else word
    return re.escape(stem) + _NUMBER_ENDINGS + "?"


def codebook_insertions(reference: str, hypothesis: str, patterns) -> list[str]:
    """Keywords found more often in the hypothesis than in the reference (each extra occurrence)."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    inserted = []
    for keyword, in_hypothesis, in_reference in patterns:
        extra = len(in_hypothesis.findall(hyp)) - len(in_reference.findall(ref))
        inserted += [keyword] * max(0, extra)
    return inserted


def wrong_words(reference: str, words: list[tuple]) -> list[bool]:
    """For each hypothesis word, whether it is wrong (substituted or inserted) in the alignment of
    its normalised tokens with the reference's (Levenshtein, with backtrace)."""
    ref = normalise(reference).split()
    tokens = [(index, token) for index, word in enumerate(words) for token in normalise(word[2]).split()]
    rows, cols = len(ref) + 1, len(tokens) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(cost[i - 1][j] + 1, cost[i][j - 1] + 1,
                             cost[i - 1][j - 1] + (ref[i - 1] != tokens[j - 1][1]))
    wrong = [False] * len(words)
    i, j = rows - 1, cols - 1
    while j > 0:
        if i > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != tokens[j - 1][1]):
            if ref[i - 1] != tokens[j - 1][1]:
                wrong[tokens[j - 1][0]] = True
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i][j - 1] + 1:
            wrong[tokens[j - 1][0]] = True
            j -= 1
        else:
            i -= 1
    return wrong


def confidence(rows: list[tuple[bool, float]], threshold: float) -> dict[str, Any]:
    """Share of wrong words among those below and above the flagging threshold."""
    low = [wrong for wrong, p in rows if p < threshold]
    high = [wrong for wrong, p in rows if p >= threshold]
    return {"threshold": threshold, "flagged": len(low), "flagged_wrong": round(sum(low) / len(low), 3) if low else None,
            "kept": len(high), "kept_wrong": round(sum(high) / len(high), 3) if high else None}


def clip_scores(item: Item, hypothesis: Hypothesis) -> list[dict[str, Any]]:
    """The montage: each speech clip's WER on the words whose middle falls in it (±0.5 s), and
    what became of the noise, the long silence and the English passage."""
    rows = []
    for piece in item.pieces:
        found = [w for w in hypothesis.words if piece["start"] - 0.5 <= (w[0] + w[1]) / 2 <= piece["end"] + 0.5]
        text = " ".join(w[2] for w in found)
        gap = any(g["start"] < piece["end"] and g["end"] > piece["start"] for g in hypothesis.gaps)
        row = {"kind": piece["kind"], "file": piece["file"], "start": piece["start"], "end": piece["end"],
               "words": len(found), "gap": gap, "text": text}
        if piece["text"]:
            errors, words = word_errors(piece["text"], text)
            row["wer"] = round(errors / words, 3)
            row["languages"] = sorted({w[3] or "fr" for w in found})
            row["kept"] = row["wer"] < MONTAGE_CLIP_WER_MAX or (piece["language"] != "fr" and gap)
        rows.append(row)
    return rows


# --- sets -------------------------------------------------------------------------------------

def fleurs_items() -> list[Item]:
    return [Item(clip, clip.with_suffix(".txt").read_text(encoding="utf-8")) for clip in sorted(ASR.glob("fleurs-fr-*.ogg"))]


def long_items(folder: Path) -> list[Item]:
    if not (folder / "ground-truth.json").is_file():
        from bench.make_long_session import make_session

        print(f"generating the {LONG_MINUTES}-minute session in {folder} …", flush=True)
        make_session(folder, LONG_MINUTES, 2022)
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    session = load_config(folder / "config.yaml").sessions[0]
    reference = " ".join(p["text"] for p in truth["passages"])
    return [Item(folder / truth["media"], reference, session)]


def montage_items(folder: Path) -> list[Item]:
    if not (folder / "montage.json").is_file():
        build_montage(folder)
    truth = json.loads((folder / "montage.json").read_text(encoding="utf-8"))
    reference = " ".join(p["text"] for p in truth["pieces"] if p["text"])
    return [Item(folder / truth["media"], reference, None, truth["pieces"])]


def measure(groups: dict[str, list[Item]], settings: dict[str, tuple[Callable, tuple[str, ...]]], config: Config,
            models: Models) -> dict[str, dict[str, Any]]:
    """{set: {setting: figures}}, the settings interleaved file by file."""
    patterns = codebook_phrases(config)
    results: dict[str, dict[str, Any]] = {}
    for group, items in groups.items():
        totals: dict[str, dict[str, Any]] = {}
        for item in items:
            duration = check_audio(item.path).duration_s
            for name, (runner, sets) in settings.items():
                if group not in sets:
                    continue
                cpu, wall = time.process_time(), time.perf_counter()
                hypothesis = runner(item, config, models)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                errors, words = word_errors(item.reference, hypothesis.text)
                inserted = codebook_insertions(item.reference, hypothesis.text, patterns)
                row = totals.setdefault(name, {"errors": 0, "ref_words": 0, "insertions": [], "gaps": 0,
                                               "gap_s": 0.0, "failed_check": 0, "holes": 0, "recovered": 0, "mixed_checked": 0,
                                               "other_language": 0, "cpu_s": 0.0, "wall_s": 0.0, "audio_s": 0.0,
                                               "cpu_steps": {}, "files": []})
                row["errors"] += errors
                row["ref_words"] += words
                row["insertions"] += inserted
                row["gaps"] += len(hypothesis.gaps)
                row["gap_s"] += sum(g["end"] - g["start"] for g in hypothesis.gaps)
                for key in ("failed_check", "holes", "recovered", "other_language", "mixed_checked"):
                    row[key] += hypothesis.stats.get(key, 0)
                for step, seconds in hypothesis.stats.get("cpu_s", {}).items():
                    row["cpu_steps"][step] = round(row["cpu_steps"].get(step, 0.0) + seconds, 2)
                row["cpu_s"] += cpu
                row["wall_s"] += wall
                row["audio_s"] += duration
                if hypothesis.words and hypothesis.words[0][4] is not None:
                    marks = wrong_words(item.reference, hypothesis.words)
                    row.setdefault("confidence_rows", []).extend(
                        (bad, w[4]) for bad, w in zip(marks, hypothesis.words))
                row.setdefault("session_language_p", []).extend(hypothesis.stats.get("session_language_p", []))
                entry = {"file": item.path.name, "wer": round(errors / words, 4), "cpu_s": round(cpu, 2),
                         "wall_s": round(wall, 2), "insertions": inserted, "gaps": hypothesis.gaps,
                         "text": hypothesis.text}
                if item.pieces:
                    entry["clips"] = clip_scores(item, hypothesis)
                row["files"].append(entry)
                print(f"  {group:<8} {item.path.name:<24} {name[:44]:<44} WER {errors / words:.3f}  CPU {cpu:7.1f} s",
                      flush=True)
        for row in totals.values():
            rows = row.pop("confidence_rows", [])
            if rows:
                row["confidence"] = confidence(rows, LOW_CONFIDENCE_P)
            row["wer"] = round(row["errors"] / row["ref_words"], 4)
            row["gap_s"] = round(row["gap_s"], 1)
            row["cpu_s"], row["wall_s"] = round(row["cpu_s"], 1), round(row["wall_s"], 1)
        results[group] = totals
    return results


def print_tables(results: dict[str, dict[str, Any]]) -> None:
    header = (f"{'set':<8} {'setting':<52} {'WER':>6} {'ins':>4} {'gaps':>4} {'again':>5} {'holes':>5} "
              f"{'CPU s':>7} {'wall s':>7} {'CPU x':>6}")
    print("\n" + header)
    for group, rows in results.items():
        reference = rows.get(SEQUENTIAL, {}).get("cpu_s")
        for name, row in rows.items():
            ratio = f"{reference / row['cpu_s']:.2f}" if reference and row["cpu_s"] else "—"
            print(f"{group:<8} {name[:52]:<52} {row['wer']:>6.3f} {len(row['insertions']):>4} {row['gaps']:>4} "
                  f"{row['failed_check']:>5} {row['holes']:>5} {row['cpu_s']:>7.1f} {row['wall_s']:>7.1f} {ratio:>6}")
    for group, rows in results.items():
        row = rows.get(DEFAULT, {})
        if row.get("confidence"):
            c = row["confidence"]
            print(f"{group}, default: words with p < {c['threshold']}: {c['flagged']}, {c['flagged_wrong']:.0%} wrong; "
                  f"others {c['kept']}, {c['kept_wrong']:.0%} wrong")
        probabilities = sorted(row.get("session_language_p", []))
        if probabilities:
            print(f"{group}, default: {len(probabilities)} windows, probability of the session's language "
                  f"min {probabilities[0]:.3f}, median {probabilities[len(probabilities) // 2]:.3f}")
    montage = results.get("montage", {})
    for name in (DEFAULT, SEQUENTIAL):
        if name not in montage:
            continue
        alone = {f["file"]: f["wer"] for f in results.get("fleurs", {}).get(name, {}).get("files", [])}
        print(f"montage, {name}: clip (start s): WER in the montage / the clip alone; over {MONTAGE_CLIP_WER_MAX}: *")
        for clip in montage[name]["files"][0]["clips"]:
            if "wer" not in clip:
                print(f"    {clip['kind']:<8} {clip['start']:6.1f}: {clip['words']} word(s), gap: {clip['gap']}")
                continue
            single = alone.get(clip["file"])
            print(f"    {clip['file']:<18} {clip['start']:6.1f}: {clip['wer']:.2f}{'*' if not clip['kept'] else ' '} / "
                  f"{single if single is not None else '—'}  languages {','.join(clip['languages'])}"
                  f"{'  (reported as a gap)' if clip['gap'] else ''}")


def rescore(path: Path, config: Config, args: argparse.Namespace) -> None:
    """The tables of an earlier run, with its insertions counted again (the texts are kept)."""
    report = json.loads(path.read_text(encoding="utf-8"))
    long_session = Path(report.get("long_session", args.long_session))
    references = {item.path.name: item.reference for item in
                  [*fleurs_items(), *long_items(long_session), *montage_items(args.montage)]}
    if args.audio:
        references[args.audio.name] = args.reference.read_text(encoding="utf-8")
    patterns = codebook_phrases(config)
    for rows in report["results"].values():
        for row in rows.values():
            row["insertions"] = []
            for entry in row["files"]:
                entry["insertions"] = codebook_insertions(references[entry["file"]], entry["text"], patterns)
                row["insertions"] += entry["insertions"]
    print_tables(report["results"])
    write_json(path, report)
    print(f"rewritten {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="fleurs,long,montage", help="comma-separated: fleurs, long, montage")
    parser.add_argument("--explore", action="store_true", help="also measure the alternatives weighed")
    parser.add_argument("--only", action="append",
                        help="a setting's name, instead of all (repeat it for several; 'name*': every name starting so)")
    parser.add_argument("--long-session", type=Path, default=DATA / f"long-session-{LONG_MINUTES}")
    parser.add_argument("--montage", type=Path, default=DATA / "montage")
    parser.add_argument("--audio", type=Path, help="another recording to add (set 'audio')")
    parser.add_argument("--reference", type=Path, help="the reference text of --audio")
    parser.add_argument("--session", help="the session of config.yaml whose names --audio gets as hints")
    parser.add_argument("--cpu-threads", type=int,
                        help="threads of the model (transcribe.cpu_threads otherwise): 1 measures the work "
                             "itself, without the CPU that idle threads spend waiting")
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "transcribe.json")
    parser.add_argument("--rescore", type=Path,
                        help="recount the codebook-word insertions of a results file from its texts, print its "
                             "tables, and stop (no decoding)")
    args = parser.parse_args()
    if args.rescore:
        rescore(args.rescore, load_config(args.config), args)
        return
    if bool(args.audio) != bool(args.reference):
        parser.error("--audio and --reference go together")

    config = load_config(args.config)
    if args.cpu_threads is not None:
        config = config.model_copy(update={"transcribe": config.transcribe.model_copy(
            update={"cpu_threads": args.cpu_threads})})
    options = config.transcribe
    models = load_models(config)
    wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
    groups: dict[str, list[Item]] = {}
    if "fleurs" in wanted:
        groups["fleurs"] = fleurs_items()
    if "long" in wanted:
        groups["long"] = long_items(args.long_session)
    if "montage" in wanted:
        groups["montage"] = montage_items(args.montage)
    if args.audio:
        session = config.session(args.session) if args.session else None
        groups["audio"] = [Item(args.audio, args.reference.read_text(encoding="utf-8"), session)]
    all_sets = tuple(groups)
    settings = {name: (runner, all_sets) for name, runner in SETTINGS.items()}
    if args.explore:
        settings.update({name: (runner, sets + ("audio",)) for name, (runner, sets) in EXPLORED.items()})
    if args.only:
        names = [p.strip() for p in args.only]
        settings = {n: s for n, s in settings.items()
                    if any(n == p or (p.endswith("*") and n.startswith(p[:-1])) for p in names)}

    results = measure(groups, settings, config, models)
    print_tables(results)
    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "model": options.model, "compute_type": options.compute_type, "defaults": options.model_dump(mode="json"),
        "long_session": str(args.long_session), "results": results,
    }
    write_json(args.output, report)
    print(f"written {args.output}")


if __name__ == "__main__":
    main()
