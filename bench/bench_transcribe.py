"""Benchmark: what the transcription gets right, what it invents, what it loses, and what it costs.

The stage's default decoding (the session's names and title as Whisper's prompt, each sentence
that could be the prompt written as speech checked against a decoding without it, the declared
names written after recognition), the prompt alone as the stage had it before (nothing checked,
nothing after), no prompt with the declared names written after recognition (the stage's
default in between), and plain faster-whisper sequential beam 5 (its defaults: no
voice-activity filter, timestamps, temperature fallback, one worker on every core), same
Whisper weights, in one run, on:

    fleurs      the real French clips of shared/eval/asr (read speech, 8-24 s each), given the
                declared names of config.yaml's first session;
    long        the generated webinar of bench/make_long_session.py (`--minutes 10` by default,
                made once in bench/data/long-session-10/): eight voices, names in the transitions;
    montage     bench/make_montage.py: the real clips twice, with silences, a burst of noise and a
                passage in English;
    multivoice  the sessions of bench/make_multivoice_session.py (bench/data/multivoice/), with
                their declared speakers: the moderator gives the floor by name, guests greet.
                Words heard in a real voice's piece (FLEURS audio, whose text is not known
                piece by piece) are left out of the WER.

For each setting and set: WER (the project's normalisation), codebook-word insertions
(keywords of config.yaml's themes found more often in the text than in the reference: words a
prompt or the model wrote that nobody said), hint echoes (a segment mostly made of words of the
session's names, title and organisations that the reference does not hold there: a prompt
written as speech) and hint words inserted, sentences checked without the prompt and those
replaced (and the CPU seconds of the checks), gaps reported, windows decoded again, stretches of
speech the coverage audit decoded again, CPU seconds (all threads of this process, robust on a
shared machine) and wall seconds. The default's row "(spellings not applied)" is the same
decoding before the declared spellings are applied: what they change, at no cost. On the
montage, each clip's own WER (its words found by time) and whether the English passage was
transcribed as English or reported as a gap.

    .venv/bin/python bench/bench_transcribe.py                 # the four settings
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
from collections import Counter
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
from synthese.transcribe.segments import LOW_CONFIDENCE_P  # noqa: E402
from synthese.transcribe.spellings import apply_spellings  # noqa: E402
from synthese.transcribe.transcription import (  # noqa: E402
    artefact_segments,
    check_audio,
    declared_spellings,
    decode_settings,
    hints_prompt,
    load_audio,
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
    """What a setting made of one file: its words with times (and language), its segments, gaps,
    work done, the declared spellings applied, and variants of the same decoding (scored as rows
    of their own)."""

    words: list[tuple[float, float, str, str | None, float | None]]  # start, end, text, language, p
    gaps: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    segments: list[tuple[float, float, str]] = field(default_factory=list)
    fixes: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)  # utterances decoded again without the prompt
    variants: dict[str, Hypothesis] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(w[2] for w in self.words)


@dataclass
class Item:
    path: Path
    reference: str
    session: Session | None = None
    pieces: list[dict[str, Any]] = field(default_factory=list)  # the montage's ground truth
    # What was said when (start, end, text), for the hint echoes; empty: the reference is one clip.
    said: list[tuple[float, float, str]] = field(default_factory=list)
    unscored: list[tuple[float, float]] = field(default_factory=list)  # words heard here are not in the WER


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


def names_prompt(config: Config, session: Session | None) -> str:
    """The stage's prompt (transcription.hints_prompt): the session's title parts, the cycle's
    organiser, the speakers' names and organisations, those holding a codebook keyword left out."""
    return hints_prompt(config, session) or ""


def title_prompt(config: Config, session: Session | None) -> str:
    """The session's title as a prompt, less the parts that hold a name (a capital after their
    first word, an acronym, a word of a speaker's name or organisation, or of the organiser) or
    a codebook keyword: tried as the stage's prompt, not kept (Whisper wrote it as speech)."""
    if session is None:
        return ""
    keywords = [normalise(k) for theme in config.themes for k in theme.all_keywords]
    named = " ".join([config.cycle.organiser, *(f"{s.name} {s.organisation}" for s in session.speakers)])
    name_words = {w for w in normalise(named).split() if len(w) > 3}

    def kept(part: str) -> bool:
        words = part.split()
        padded = f" {normalise(part)} "
        return bool(words) and not (
            any(w[:1].isupper() for w in words[1:]) or any(w.isupper() and len(w) > 1 for w in words)
            or name_words & set(normalise(part).split()) or any(f" {k} " in padded for k in keywords if k))

    parts = [p for p in dict.fromkeys(re.split(r"\s*[:;,.()«»–—]\s*", session.title)) if kept(p)]
    return ", ".join(parts) + "." if parts else ""


def _hypothesis(segments) -> Hypothesis:
    """Words and segments of the transcript's segments."""
    words = [(w.start, w.end, w.text, s.lang, w.p) for s in segments for w in s.words]
    return Hypothesis(words, segments=[(s.start, s.end, s.text) for s in segments])


def stage(prompt: str = "names", spell: bool = True, **overrides: Any) -> Callable[[Item, Config, Models], Hypothesis]:
    """The stage's decoding (synthese.transcribe.transcription.transcribe_audio) with some settings
    changed: Whisper's prompt ("names": the stage's, the session's names and title; "none";
    "title": the title without names; "vocabulary"), other decoder settings (check_hints=False:
    what Whisper wrote of the prompt kept as it is), and whether the declared spellings are
    applied after recognition, as the stage does."""
    def run(item: Item, config: Config, models: Models) -> Hypothesis:
        text = {"title": title_prompt(config, item.session), "names": names_prompt(config, item.session), "none": "",
                "vocabulary": vocabulary_prompt(config, item.session)}[prompt]
        settings = dataclasses.replace(decode_settings(config, item.session), prompt=text or None, **overrides)
        result = transcribe_audio(item.path, config, checkpoint=None, model=models.stage, settings=settings)
        heard = artefact_segments(result.segments)
        hypothesis = _hypothesis(heard)
        hypothesis.gaps = [g.model_dump() for g in result.gaps]
        hypothesis.stats = dict(vars(result.stats))
        hypothesis.checks = [c.model_dump() for c in result.hint_checks]
        if not spell:
            return hypothesis
        fixed, fixes = apply_spellings(heard, declared_spellings(config, item.session))
        respelled = dataclasses.replace(_hypothesis(fixed), gaps=hypothesis.gaps, stats=hypothesis.stats,
                                        checks=hypothesis.checks, fixes=[f.model_dump() for f in fixes])
        respelled.variants["spellings not applied"] = hypothesis
        return respelled
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
        segments = [(s.start, s.end, s.text) for s in models.plain.transcribe(
            str(item.path), language=config.transcribe.language, beam_size=beam_size)[0]]
        return Hypothesis(_spread(segments), segments=segments)
    return run


def previous_default(item: Item, config: Config, models: Models) -> Hypothesis:
    """The stage's decoding before word times and the audit: faster-whisper's batched pipeline
    with timestamps, beam 5, the vocabulary prompt, on the whole file."""
    from faster_whisper import BatchedInferencePipeline

    segments, _ = BatchedInferencePipeline(models.plain).transcribe(
        load_audio(item.path), language=config.transcribe.language, beam_size=5, batch_size=8, vad_filter=True,
        initial_prompt=vocabulary_prompt(config, item.session) or None, without_timestamps=False)
    segments = [(s.start, s.end, s.text) for s in segments]
    return Hypothesis(_spread(segments), segments=segments)


DEFAULT = "default"
NAMES_PROMPT = "names and title as Whisper's prompt (before)"
NO_PROMPT = "names written after recognition, no prompt"
SEQUENTIAL = "sequential beam 5"
SETTINGS: dict[str, Callable[[Item, Config, Models], Hypothesis]] = {
    DEFAULT: stage(),
    NAMES_PROMPT: stage(prompt="names", spell=False, check_hints=False),
    NO_PROMPT: stage(prompt="none"),
    SEQUENTIAL: plain_sequential(5),
}
# (setting, sets it runs on): the hints only differ where the session has names.
EXPLORED: dict[str, tuple[Callable[[Item, Config, Models], Hypothesis], tuple[str, ...]]] = {
    "previous default (batched, timestamps, beam 5, vocabulary prompt)": (previous_default, ("fleurs", "long", "montage")),
    "default, beam 1": (stage(beam_size=1), ("fleurs", "long", "montage")),
    "default, beam 5": (stage(beam_size=5), ("fleurs", "long", "montage")),
    "default, batch 16": (stage(batch_size=16), ("fleurs", "long", "montage")),
    "default, no checks, no audit": (stage(check_windows=False, audit=False), ("fleurs", "long", "montage")),
    "default, vocabulary prompt": (stage(prompt="vocabulary", spell=False, check_hints=False), ("fleurs", "long", "montage")),
    "default, the title without names as prompt": (stage(prompt="title"), ("fleurs", "long", "multivoice")),
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


# Words that make no name: left out of the hint words and of a segment's words when echoes are counted.
FUNCTION_WORDS = frozenset("à au aux d de des du en et l la le les pour sur un une par dans avec".split())
ECHO_MARGIN_S = 2.0  # what was said this close to a segment counts as said there


def hint_words(config: Config, session: Session | None) -> set[str]:
    """The words of the session's names, title and organisations (normalised): those of the
    prompt the stage gave before and of the spellings it applies now."""
    text = " ".join([*declared_spellings(config, session), names_prompt(config, session)])
    return {w for w in normalise(text).split() if w not in FUNCTION_WORDS and not w.isdigit()}


def said_near(item: Item, start: float, end: float) -> list[str]:
    """The reference's words said around a time (the whole reference where times are not known)."""
    if not item.said:
        return normalise(item.reference).split()
    return normalise(" ".join(text for begin, finish, text in item.said
                              if begin < end + ECHO_MARGIN_S and finish > start - ECHO_MARGIN_S)).split()


def hint_echoes(item: Item, hypothesis: Hypothesis, hints: set[str]) -> tuple[list[str], list[str]]:
    """(segments that echo the hints, hint words inserted). A hint word is inserted where a
    segment holds it more often than what was said around the segment; a segment echoes the
    hints when two or more of its words are inserted hint words and they make at least half of
    its words (function words aside): "Oui, Ménard, Ménard, Creusé, Agence d'urbanisme." over
    speech that said something else."""
    echoes, inserted = [], []
    for start, end, text in hypothesis.segments:
        tokens = normalise(text).split()
        there = Counter(said_near(item, start, end))
        extra = [word for word, n in Counter(t for t in tokens if t in hints).items()
                 for _ in range(max(0, n - there[word]))]
        inserted += extra
        content = [t for t in tokens if t not in FUNCTION_WORDS]
        if len(extra) >= 2 and 2 * len(extra) >= len(content):
            echoes.append(f"{start:.1f}-{end:.1f} s: {text}")
    return echoes, inserted


# --- sets -------------------------------------------------------------------------------------

def fleurs_items(session: Session | None = None) -> list[Item]:
    return [Item(clip, clip.with_suffix(".txt").read_text(encoding="utf-8"), session)
            for clip in sorted(ASR.glob("fleurs-fr-*.ogg"))]


def long_items(folder: Path) -> list[Item]:
    if not (folder / "ground-truth.json").is_file():
        from bench.make_long_session import make_session

        print(f"generating the {LONG_MINUTES}-minute session in {folder} …", flush=True)
        make_session(folder, LONG_MINUTES, 2022)
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    session = load_config(folder / "config.yaml").sessions[0]
    reference = " ".join(p["text"] for p in truth["passages"])
    said = [(p["start"], p["end"], p["text"]) for p in truth["passages"]]
    return [Item(folder / truth["media"], reference, session, said=said)]


def multivoice_items(folder: Path, only: list[str] | None = None) -> list[Item]:
    """The multi-voice sessions with their declared speakers (made when missing). A real voice's
    piece is FLEURS audio whose words are not known piece by piece: left out of the WER, and
    its whole clip's text counts as said there."""
    if not any(folder.glob("*/truth.json")):
        from bench.make_multivoice_session import main as make_multivoice

        print(f"generating the multi-voice sessions in {folder} …", flush=True)
        make_multivoice(["-o", str(folder)])
    items = []
    for path in sorted(folder.glob("*/truth.json")):
        truth = json.loads(path.read_text(encoding="utf-8"))
        if only and truth["session_id"] not in only:
            continue
        if not truth.get("declared") or not (path.parent / "config.yaml").is_file():
            raise SystemExit(f"{path.parent}: made without declared speakers: run bench/make_multivoice_session.py again")
        said, unscored, spoken = [], [], []
        for piece in truth["segments"]:
            clip = re.fullmatch(r"\((fleurs-fr-\d+\.ogg)\)", piece["text"])
            if clip:
                said.append((piece["start"], piece["end"], (ASR / clip.group(1)).with_suffix(".txt").read_text(encoding="utf-8")))
                unscored.append((piece["start"], piece["end"]))
            else:
                said.append((piece["start"], piece["end"], piece["text"]))
                spoken.append(piece["text"])
        session = load_config(path.parent / "config.yaml").sessions[0]
        items.append(Item(path.parent / truth["media"], " ".join(spoken), session, said=said, unscored=unscored))
    return items


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
            hints = hint_words(config, item.session)
            for name, (runner, sets) in settings.items():
                if group not in sets:
                    continue
                cpu, wall = time.process_time(), time.perf_counter()
                hypothesis = runner(item, config, models)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                rows = [(name, hypothesis)] + [(f"{name} ({variant})", other)
                                               for variant, other in hypothesis.variants.items()]
                for row_name, scored in rows:
                    row = totals.setdefault(row_name, {
                        "errors": 0, "ref_words": 0, "insertions": [], "hint_echoes": [], "hint_insertions": [],
                        "spelling_fixes": 0, "hint_checked": 0, "hint_replaced": 0, "gaps": 0, "gap_s": 0.0,
                        "failed_check": 0, "holes": 0, "recovered": 0,
                        "mixed_checked": 0, "other_language": 0, "cpu_s": 0.0, "wall_s": 0.0, "audio_s": 0.0,
                        "cpu_steps": {}, "files": []})
                    score(row, item, scored, patterns, hints, cpu, wall, duration)
                    print(f"  {group:<10} {item.path.name:<24} {row_name[:50]:<50} WER {row['files'][-1]['wer']:.3f}  "
                          f"echoes {len(row['files'][-1]['hint_echoes'])}  CPU {cpu:7.1f} s", flush=True)
        for row in totals.values():
            rows = row.pop("confidence_rows", [])
            if rows:
                row["confidence"] = confidence(rows, LOW_CONFIDENCE_P)
            row["wer"] = round(row["errors"] / row["ref_words"], 4)
            row["gap_s"] = round(row["gap_s"], 1)
            row["cpu_s"], row["wall_s"] = round(row["cpu_s"], 1), round(row["wall_s"], 1)
        results[group] = totals
    return results


def score(row: dict[str, Any], item: Item, hypothesis: Hypothesis, patterns, hints: set[str], cpu: float, wall: float,
          duration: float) -> None:
    """Add one file's figures to its setting's row."""
    words = [w for w in hypothesis.words if not any(start - 0.2 <= (w[0] + w[1]) / 2 <= end + 0.2
                                                    for start, end in item.unscored)]
    text = " ".join(w[2] for w in words)
    errors, count = word_errors(item.reference, text)
    inserted = codebook_insertions(item.reference, text, patterns)
    echoes, hint_inserted = hint_echoes(item, hypothesis, hints)
    row["errors"] += errors
    row["ref_words"] += count
    row["insertions"] += inserted
    row["hint_echoes"] += echoes
    row["hint_insertions"] += hint_inserted
    row["spelling_fixes"] += len(hypothesis.fixes)
    row["hint_checked"] += len(hypothesis.checks)
    row["hint_replaced"] += sum(c["kept"] == "unprompted" for c in hypothesis.checks)
    row["gaps"] += len(hypothesis.gaps)
    row["gap_s"] += sum(g["end"] - g["start"] for g in hypothesis.gaps)
    for key in ("failed_check", "holes", "recovered", "other_language", "mixed_checked"):
        row[key] += hypothesis.stats.get(key, 0)
    for step, seconds in hypothesis.stats.get("cpu_s", {}).items():
        row["cpu_steps"][step] = round(row["cpu_steps"].get(step, 0.0) + seconds, 2)
    row["cpu_s"] += cpu
    row["wall_s"] += wall
    row["audio_s"] += duration
    if words and words[0][4] is not None and not item.unscored:
        marks = wrong_words(item.reference, words)
        row.setdefault("confidence_rows", []).extend((bad, w[4]) for bad, w in zip(marks, words))
    row.setdefault("session_language_p", []).extend(hypothesis.stats.get("session_language_p", []))
    entry = {"file": item.path.name, "wer": round(errors / count, 4), "cpu_s": round(cpu, 2),
             "wall_s": round(wall, 2), "insertions": inserted, "hint_echoes": echoes, "hint_insertions": hint_inserted,
             "spelling_fixes": hypothesis.fixes, "hint_checks": hypothesis.checks, "gaps": hypothesis.gaps,
             "text": hypothesis.text,
             "segments": hypothesis.segments}
    if item.pieces:
        entry["clips"] = clip_scores(item, hypothesis)
    row["files"].append(entry)


def print_tables(results: dict[str, dict[str, Any]]) -> None:
    header = (f"{'set':<10} {'setting':<52} {'WER':>6} {'ins':>4} {'echo':>4} {'hint+':>5} {'fixes':>5} {'chk':>4} "
              f"{'repl':>4} {'gaps':>4} {'again':>5} {'holes':>5} {'CPU s':>7} {'hint s':>6} {'wall s':>7} {'CPU x':>6}")
    print("\n" + header)
    for group, rows in results.items():
        reference = rows.get(SEQUENTIAL, {}).get("cpu_s")
        for name, row in rows.items():
            ratio = f"{reference / row['cpu_s']:.2f}" if reference and row["cpu_s"] else "—"
            print(f"{group:<10} {name[:52]:<52} {row['wer']:>6.3f} {len(row['insertions']):>4} "
                  f"{len(row.get('hint_echoes', [])):>4} {len(row.get('hint_insertions', [])):>5} "
                  f"{row.get('spelling_fixes', 0):>5} {row.get('hint_checked', 0):>4} {row.get('hint_replaced', 0):>4} "
                  f"{row['gaps']:>4} {row['failed_check']:>5} {row['holes']:>5} {row['cpu_s']:>7.1f} "
                  f"{row['cpu_steps'].get('hints', 0.0):>6.1f} {row['wall_s']:>7.1f} {ratio:>6}")
    for group, rows in results.items():
        for name, row in rows.items():
            for echo in row.get("hint_echoes", []):
                print(f"{group}, {name}: hint echo {echo}")
            if row.get("hint_insertions"):
                print(f"{group}, {name}: hint words inserted: {', '.join(sorted(row['hint_insertions']))}")
        for entry in rows.get(DEFAULT, {}).get("files", []):
            for check in entry.get("hint_checks", []):
                if check["kept"] == "unprompted":
                    print(f"{group}, {DEFAULT}: {entry['file']} {check['start']:.1f} s: hint words "
                          f"{', '.join(check['unsupported'])} not heard without the prompt: "
                          f"{check['prompted']!r} -> {check['unprompted']!r}")
            for fix in entry.get("spelling_fixes", []):
                print(f"{group}, {DEFAULT}: {entry['file']} {fix['start']:.1f} s: {fix['heard']} -> {fix['written']}")
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
                  [*fleurs_items(), *long_items(long_session), *montage_items(args.montage),
                   *(multivoice_items(args.multivoice) if "multivoice" in report["results"] else [])]}
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
    parser.add_argument("--sets", default="fleurs,long,montage,multivoice",
                        help="comma-separated: fleurs, long, montage, multivoice")
    parser.add_argument("--explore", action="store_true", help="also measure the alternatives weighed")
    parser.add_argument("--only", action="append",
                        help="a setting's name, instead of all (repeat it for several; 'name*': every name starting so)")
    parser.add_argument("--long-session", type=Path, default=DATA / f"long-session-{LONG_MINUTES}")
    parser.add_argument("--montage", type=Path, default=DATA / "montage")
    parser.add_argument("--multivoice", type=Path, default=DATA / "multivoice")
    parser.add_argument("--multivoice-session", action="append",
                        help="a multi-voice session's id, instead of all (repeat it for several)")
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
        groups["fleurs"] = fleurs_items(config.sessions[0] if config.sessions else None)
    if "long" in wanted:
        groups["long"] = long_items(args.long_session)
    if "montage" in wanted:
        groups["montage"] = montage_items(args.montage)
    if "multivoice" in wanted:
        groups["multivoice"] = multivoice_items(args.multivoice, args.multivoice_session)
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
