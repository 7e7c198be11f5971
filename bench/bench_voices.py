"""Voice profiles: voices named in one part of a session, recognised in the other.

Each multi-voice session of bench/make_multivoice_session.py (generated first if missing) is cut
in two at the pause between turns nearest its middle, and each part is diarized as a session of
its own (diarize_audio, as many voices as the part holds, as when a session declares its
speakers). The voices of part one are named from the true turns (each label gets the true
speaker it shares most time with, as staff naming it by ear), and their centroids become voice
profiles, as `synthese` learns them (core/voiceprints.prints_of); part two's voices are then
recognised with the pipeline's own matching (core/voiceprints.recognise_voices: the assignment
at the diarization's same-voice threshold, with its margin).

Measured on part two, over its true speech (10 ms frames): the share labelled with the right
name, with a wrong name, and left "Intervenant N". Then each voice in turn is left unnamed in
part one (its profile removed): the share of its speech in part two that gets any name (it must
stay "Intervenant N"), and what the other voices get meanwhile. `--cycle` adds a harder case:
the profiles of every session's part one together (8 voices, as a cycle whose recurring people
were named in different sessions) applied to each part two.

    .venv/bin/python bench/bench_voices.py [--sessions multivoix-1 ...] [--cycle]

Targets: right >= 95 %, wrong <= 1 %, and a voice never named never gets a name.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_diarize import COLLAR_S, DATA, ensure_sessions  # noqa: E402
from measure import print_table, write_results  # noqa: E402

FRAME_S = 0.01


def cut_point(truth: dict, duration_s: float) -> float:
    """The middle of the pause between two turns nearest the middle of the recording."""
    turns = truth["turns"]
    pauses = [(a["end"] + b["start"]) / 2 for a, b in zip(turns, turns[1:])]
    return min(pauses, key=lambda t: abs(t - duration_s / 2))


def diarize_part(audio: np.ndarray, start_s: float, end_s: float, truth: dict):
    """One part as a session: its diarization record (as the transcript keeps it, times from the
    start of the recording), its turns, and its true turns."""
    from synthese.core.artefacts import Diarization
    from synthese.transcribe.audio import SAMPLE_RATE
    from synthese.transcribe.diarize import DEFAULT_MODEL, diarize_audio
    from synthese.transcribe.transcription import voice_records

    true_turns = [(t["start"], t["end"], t["speaker"]) for t in truth["turns"]
                  if t["start"] >= start_s and t["end"] <= end_s]
    samples = audio[int(start_s * SAMPLE_RATE): int(end_s * SAMPLE_RATE)]
    started = time.process_time()
    result = diarize_audio(samples, num_speakers=len({s for _, _, s in true_turns}))
    cpu_s = time.process_time() - started
    for voice in result.voices:
        for centroid in voice.centroids:
            centroid.start, centroid.end = centroid.start + start_s, centroid.end + start_s
    record = Diarization(speakers_found=result.speakers_found, requested=result.requested, model=DEFAULT_MODEL,
                         seconds_of_speech=result.seconds_of_speech,
                         same_voice_cosine=result.options["same_speaker_cosine"], voices=voice_records(result.voices))
    turns = [(t.start + start_s, t.end + start_s, t.speaker) for t in result.turns]
    return record, turns, true_turns, cpu_s


def true_speaker_of_labels(turns: list[tuple[float, float, str]], truth: list[tuple[float, float, str]]) -> dict[str, str]:
    """Each label -> the true speaker it shares most time with (how staff would name it)."""
    shared: dict[str, dict[str, float]] = {}
    for start, end, label in turns:
        for t_start, t_end, speaker in truth:
            overlap = min(end, t_end) - max(start, t_start)
            if overlap > 0:
                shared.setdefault(label, {}).setdefault(speaker, 0.0)
                shared[label][speaker] += overlap
    return {label: max(by, key=by.get) for label, by in shared.items()}


def profiles_from(parts: list[tuple[str, object, dict[str, str]]]):
    """VoiceProfiles made as `synthese` learns them: each named voice's centroids under its name."""
    from synthese.core.voiceprints import VoiceProfile, VoiceProfiles, prints_of

    profiles: dict[str, VoiceProfile] = {}
    for session_id, record, names in parts:
        for voice in record.voices:
            name = names.get(voice.label)
            if name is None:
                continue
            profile = profiles.setdefault(name, VoiceProfile(name=name, created="", last_used=""))
            profile.prints += prints_of(session_id, voice, record.model)
    return VoiceProfiles(profiles=list(profiles.values()))


def score(turns, truth, named: dict[str, str], collar_s: float = COLLAR_S) -> dict[str, dict[str, float]]:
    """Per true speaker: seconds of speech labelled with the right name, a wrong name, or none;
    `collar_s` around each true turn's start and end not scored (as the DER of bench_diarize:
    where a turn changes hands is the diarization's precision, not the recognition's)."""
    end = max([e for _, e, _ in truth] + [e for _, e, _ in turns]) + 1
    frames = int(round(end / FRAME_S))
    given = np.full(frames, "", dtype=object)
    for start, stop, label in turns:
        given[int(round(start / FRAME_S)): int(round(stop / FRAME_S))] = named.get(label, "")
    scored = np.ones(frames, bool)
    collar = int(round(collar_s / FRAME_S))
    for start, stop, _ in truth:
        for edge in (int(round(start / FRAME_S)), int(round(stop / FRAME_S))):
            scored[max(0, edge - collar): edge + collar] = False
    result: dict[str, dict[str, float]] = {}
    for start, stop, speaker in truth:
        span = slice(int(round(start / FRAME_S)), int(round(stop / FRAME_S)))
        labels = given[span][scored[span]]
        row = result.setdefault(speaker, {"right": 0.0, "wrong": 0.0, "none": 0.0})
        row["right"] += float(np.sum(labels == speaker)) * FRAME_S
        row["none"] += float(np.sum(labels == "")) * FRAME_S
        row["wrong"] += float(np.sum((labels != speaker) & (labels != ""))) * FRAME_S
    return result


def totals(rows: dict[str, dict[str, float]], named: set[str], speakers=None) -> dict[str, float]:
    """Shares of the speech of `speakers` (all by default): "right", of the speech of the voices
    named in part one, labelled with their name; "wrong", of all, labelled with another name
    (any name, for a voice never named); "none", of all, left "Intervenant N"."""
    chosen = {s: r for s, r in rows.items() if speakers is None or s in speakers}
    speech = sum(r["right"] + r["wrong"] + r["none"] for r in chosen.values()) or 1.0
    named_speech = sum(r["right"] + r["wrong"] + r["none"] for s, r in chosen.items() if s in named)
    return {"right": sum(r["right"] for s, r in chosen.items() if s in named) / (named_speech or 1.0),
            "wrong": sum(r["wrong"] for r in chosen.values()) / speech,
            "none": sum(r["none"] for r in chosen.values()) / speech,
            "speech_s": speech, "named_speech_s": named_speech}


def similarities(record, profiles, labels: dict[str, str]) -> tuple[list[float], list[float], list[float]]:
    """For each voice of a part whose true speaker has a profile: the cosine with that profile,
    with the closest other profile, and the lead of the first over the second."""
    from synthese.core.voiceprints import voice_vectors

    vectors = voice_vectors(record.voices)
    centres = {p.name: p.vector(record.model) for p in profiles.profiles}
    same, other, lead = [], [], []
    for label, speaker in labels.items():
        if label not in vectors or speaker not in centres:
            continue
        own = float(vectors[label] @ centres[speaker])
        best_other = max(float(vectors[label] @ v) for n, v in centres.items() if n != speaker)
        same.append(own)
        other.append(best_other)
        lead.append(own - best_other)
    return same, other, lead


def recognise(record, profiles) -> dict[str, str]:
    from synthese.core.review_file import Review
    from synthese.core.voiceprints import recognise_voices

    return {label: r.name for label, r in recognise_voices(record, profiles, Review()).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", nargs="*", help="session ids (default: all four)")
    parser.add_argument("--cycle", action="store_true",
                        help="also apply the profiles of every session's part one to each part two")
    parser.add_argument("--name", default="voices", help="results file under bench/results/ (default: voices)")
    args = parser.parse_args(argv)

    from synthese.core.voiceprints import MIN_MARGIN
    from synthese.transcribe.audio import load_audio
    from synthese.transcribe.speaker_embedding import load_encoder

    load_encoder("campplus")
    truths = [t for t in ensure_sessions() if not args.sessions or t["session_id"] in args.sessions]
    parts, rows, runs = {}, [], []
    for truth in truths:
        audio = load_audio(DATA / truth["session_id"] / truth["media"])
        duration = len(audio) / 16_000
        cut = cut_point(truth, duration)
        one = diarize_part(audio, 0.0, cut, truth)
        two = diarize_part(audio, cut, duration, truth)
        names_one = true_speaker_of_labels(one[1], one[2])
        parts[truth["session_id"]] = (one, two, names_one)
        profiles = profiles_from([(truth["session_id"] + "/1", one[0], names_one)])
        named = recognise(two[0], profiles)
        by_speaker = score(two[1], two[2], named)
        overall = totals(by_speaker, set(names_one.values()))
        raw = totals(score(two[1], two[2], named, collar_s=0.0), set(names_one.values()))
        # Label by label: each voice of part two (its label's main true speaker) got its name,
        # another name, or none.
        labels_two = true_speaker_of_labels(two[1], two[2])
        voices_right = sum(named.get(label) == speaker for label, speaker in labels_two.items())
        voices_wrong = sum(label in named and named[label] != speaker for label, speaker in labels_two.items())
        # Each voice of part two in turn never named in part one.
        same, other, lead = similarities(two[0], profiles, labels_two)
        unnamed_runs = []
        for speaker in sorted(by_speaker):
            kept = {label: name for label, name in names_one.items() if name != speaker}
            named_again = recognise(two[0], profiles_from([(truth["session_id"] + "/1", one[0], kept)]))
            again = score(two[1], two[2], named_again)
            own_labels = [label for label, main in labels_two.items() if main == speaker]
            alone = totals(again, set(kept.values()), {speaker})
            others = totals(again, set(kept.values()), set(by_speaker) - {speaker})
            others_named = sum(named_again.get(label) == main for label, main in labels_two.items() if main != speaker)
            unnamed_runs.append({"voice": speaker, "label_kept": not any(label in named_again for label in own_labels),
                                 "others_voices_right": f"{others_named}/{len(labels_two) - len(own_labels)}",
                                 "named_share": round(alone["wrong"], 4),
                                 "others_right": round(others["right"], 4), "others_wrong": round(others["wrong"], 4)})
        run = {"session": truth["session_id"], "cut_s": round(cut, 1), "part_two_min": round((duration - cut) / 60, 2),
               "voices_one": len(set(names_one.values())), "voices_two": len(by_speaker),
               "diarize_cpu_s": round(one[3] + two[3], 1), "named": named,
               "voices_right": voices_right, "voices_wrong": voices_wrong,
               "cosine_same_min": round(min(same), 3), "cosine_other_max": round(max(other), 3),
               "lead_min": round(min(lead), 3),
               **{k: round(v, 4) for k, v in overall.items()},
               "no_collar": {k: round(v, 4) for k, v in raw.items()}, "never_named": unnamed_runs}
        runs.append(run)
        worst = max(unnamed_runs, key=lambda r: r["named_share"])
        rows.append((run["session"], f"{run['voices_one']}/{run['voices_two']}", f"{run['part_two_min']:.1f}",
                     f"{voices_right}/{voices_wrong}",
                     f"{100 * run['right']:.1f}", f"{100 * run['wrong']:.1f}", f"{100 * run['none']:.1f}",
                     f"{100 * raw['right']:.1f}/{100 * raw['wrong']:.1f}",
                     f"{sum(r['label_kept'] for r in unnamed_runs)}/{len(unnamed_runs)}",
                     f"{100 * worst['named_share']:.1f}",
                     f"{100 * min(r['others_right'] for r in unnamed_runs):.1f}",
                     f"{100 * max(r['others_wrong'] for r in unnamed_runs):.1f}"))
        print(*rows[-1], flush=True)
    header = ("session", "voices 1/2", "part 2 min", "voices right/wrong", "right %", "wrong %", "unnamed %",
              "no collar right/wrong %", "never named: label kept", "its time named %", "others right %",
              "others wrong %")
    print()
    print_table(rows, header)
    speech = sum(r["speech_s"] for r in runs)
    pooled = {"right": sum(r["right"] * r["named_speech_s"] for r in runs) / sum(r["named_speech_s"] for r in runs),
              **{k: sum(r[k] * r["speech_s"] for r in runs) / speech for k in ("wrong", "none")}}
    never = [u for r in runs for u in r["never_named"]]
    raw_right = sum(r["no_collar"]["right"] * r["no_collar"]["named_speech_s"] for r in runs) / sum(
        r["no_collar"]["named_speech_s"] for r in runs)
    raw_wrong = sum(r["no_collar"]["wrong"] * r["no_collar"]["speech_s"] for r in runs) / sum(
        r["no_collar"]["speech_s"] for r in runs)
    summary = {"right": round(pooled["right"], 4), "wrong": round(pooled["wrong"], 4), "none": round(pooled["none"], 4),
               "no_collar": {"right": round(raw_right, 4), "wrong": round(raw_wrong, 4)},
               "voices_right": f"{sum(r['voices_right'] for r in runs)}/{sum(r['voices_two'] for r in runs)}",
               "voices_wrong": sum(r["voices_wrong"] for r in runs),
               "never_named_kept": f"{sum(u['label_kept'] for u in never)}/{len(never)}",
               "never_named_worst_share": max(u["named_share"] for u in never),
               "never_named_others_right_min": min(u["others_right"] for u in never),
               "never_named_others_wrong_max": max(u["others_wrong"] for u in never),
               "cosine_same_min": min(r["cosine_same_min"] for r in runs),
               "cosine_other_max": max(r["cosine_other_max"] for r in runs),
               "lead_min": min(r["lead_min"] for r in runs), "collar_s": COLLAR_S, "margin": MIN_MARGIN}
    print(f"\npooled over {speech / 60:.1f} min of part-two speech ({COLLAR_S} s collar): right {100 * pooled['right']:.1f} %, "
          f"wrong {100 * pooled['wrong']:.1f} %, unnamed {100 * pooled['none']:.1f} % (no collar: right "
          f"{100 * raw_right:.1f} %, wrong {100 * raw_wrong:.1f} %); voices named right {summary['voices_right']}, "
          f"wrong {summary['voices_wrong']}; a voice never named kept its label in {summary['never_named_kept']} cases "
          f"(worst share of its time named {100 * summary['never_named_worst_share']:.1f} %); cosine with its own "
          f"profile >= {summary['cosine_same_min']:.3f}, with another <= {summary['cosine_other_max']:.3f}, lead >= "
          f"{summary['lead_min']:.3f}")
    cycle_runs = []
    if args.cycle:
        everyone = profiles_from([(sid + "/1", one[0], names) for sid, (one, _, names) in parts.items()])
        cycle_rows = []
        for session_id, (_, two, _) in parts.items():
            overall = totals(score(two[1], two[2], recognise(two[0], everyone)), {p.name for p in everyone.profiles})
            same, other, lead = similarities(two[0], everyone, true_speaker_of_labels(two[1], two[2]))
            cycle_runs.append({"session": session_id, **{k: round(v, 4) for k, v in overall.items()},
                               "cosine_same_min": round(min(same), 3), "cosine_other_max": round(max(other), 3),
                               "lead_min": round(min(lead), 3)})
            cycle_rows.append((session_id, len(everyone.profiles), f"{100 * overall['right']:.1f}",
                               f"{100 * overall['wrong']:.1f}", f"{100 * overall['none']:.1f}",
                               f"{min(same):.3f}", f"{max(other):.3f}", f"{min(lead):.3f}"))
        print()
        print_table(cycle_rows, ("session (cycle's profiles)", "profiles", "right %", "wrong %", "unnamed %",
                                 "own cosine min", "other cosine max", "lead min"))
    path = write_results(args.name, {"frame_s": FRAME_S, "collar_s": COLLAR_S, "runs": runs, "summary": summary,
                                     "cycle": cycle_runs})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
