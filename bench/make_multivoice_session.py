"""Generate multi-voice French sessions with their true speaker turns, to measure diarization.

Voices (each session uses four or five, the first one is the moderator and speaks a third of the
turns):
    pico          the offline French voice (SVOX Pico through py-nanotts), as in the other benchmarks
    pico-grave    the same voice lower (pitch 0.75) with its formants lowered by resampling (x0.9)
    pico-aigu     the same voice higher (pitch 1.3) with its formants raised by resampling (x1.12)
    espeak-m3     Debian's espeak-ng, French, male variant m3
    espeak-f3     espeak-ng, French, female variant f3
    fleurs-a/b/c  real speakers: three FLEURS clips of ../shared/eval/asr (CC BY 4.0), cut at their
                  pauses; read from there while generating, never copied into the repository

Synthetic voices read sentences of ../shared/eval/themes/dev.jsonl. A turn is one to three
sentences (pauses of 0.25-0.6 s inside); turns are separated by 0.4-1.5 s, or by 0.05-0.25 s
for a quarter of them (a quick exchange). The same --seed gives the same sessions.

Each voice is a declared speaker with a fictional name and organisation (DECLARED), as a
session's config.yaml gives them, and the session is run as a webinar is: the moderator ends a
turn by giving the floor to the next guest by name ("Je donne la parole à Eulalie Creusé, de
l'Université Gustave Eiffel."), and a guest with a synthetic voice opens a turn with a greeting
("Oui, bonjour, merci pour l'invitation.", "Merci Sidonie."). Those are the moments where a
recogniser primed with the names wrote them where they were not said (issue 25).
`--no-introductions` leaves them out: the sessions then have the script the diarization figures
of bench/README.md were measured on (same turns, texts and pauses; Pico's pitch-shifted voices
vary by a few tens of milliseconds from one run to the next).

Each session folder under bench/data/multivoice/ (git-ignored) gets:
    <id>.ogg or <id>.wav   16 kHz mono recording (Ogg/Opus 24 kbit/s like a compressed replay)
    truth.json             speakers, declared speakers, turns (start, end, speaker) and speech
                           segments with their text ("(fleurs-fr-00N.ogg)" for a real voice's piece)
    config.yaml            the repository's config.yaml with this one session and its declared
                           speakers, so that `synthese --config <folder>/config.yaml run` works

Needs `py-nanotts` (the `bench` extra) and `espeak-ng` (`apt-get install -y espeak-ng`).

    .venv/bin/python bench/make_multivoice_session.py
    .venv/bin/python bench/make_multivoice_session.py --config-only   # after config.yaml changed
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_long_session import DEV_SET, load_dev_set, session_config, speakable, write_audio  # noqa: E402

from synthese.core.storage import write_json, write_text  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASR = REPO.parent / "shared" / "eval" / "asr"
OUT = REPO / "bench" / "data" / "multivoice"
SAMPLE_RATE = 16_000
TRUTH_SCHEMA = "synthese.bench-diarize-truth/1"
TARGET_RMS = 0.06  # about -24 dBFS; each voice gets its own gain around it

VOICES = {
    "pico": {"kind": "pico", "pitch": 1.0, "speed": 1.0, "formant": 1.0},
    "pico-grave": {"kind": "pico", "pitch": 0.75, "speed": 1.05, "formant": 0.9},
    "pico-aigu": {"kind": "pico", "pitch": 1.3, "speed": 0.95, "formant": 1.12},
    "espeak-m3": {"kind": "espeak", "voice": "fr+m3", "speed_wpm": 160},
    "espeak-f3": {"kind": "espeak", "voice": "fr+f3", "speed_wpm": 150},
    "fleurs-a": {"kind": "fleurs", "clip": "fleurs-fr-001.ogg"},
    "fleurs-b": {"kind": "fleurs", "clip": "fleurs-fr-002.ogg"},
    "fleurs-c": {"kind": "fleurs", "clip": "fleurs-fr-000.ogg"},
}

# The person each voice is in every session: name, organisation, and "of the organisation" as
# the moderator says it. Fictional; some names are easy to mishear (Creusé, Kerbrat, Puca).
DECLARED = {
    "pico": ("Sidonie Lenglet", "Puca", "du Puca"),
    "pico-grave": ("Gaspard Oudin-Brémond", "Cerema", "du Cerema"),
    "pico-aigu": ("Maëlle Kerbrat", "Métropole de Rennes", "de la Métropole de Rennes"),
    "espeak-m3": ("Thibault Escoffier", "Agence d'urbanisme de Lyon", "de l'Agence d'urbanisme de Lyon"),
    "espeak-f3": ("Eulalie Creusé", "Université Gustave Eiffel", "de l'Université Gustave Eiffel"),
    "fleurs-a": ("Bénédicte Vautrin", "Institut Paris Region", "de l'Institut Paris Region"),
    "fleurs-b": ("Yannick Le Goff", "Fabrique des mobilités", "de la Fabrique des mobilités"),
    "fleurs-c": ("Ophélie Charvet", "Conseil départemental de la Drôme", "du Conseil départemental de la Drôme"),
}
INTRODUCTION = "Je donne la parole à {name}, {of}."
GIVING_THE_FLOOR = ("{name}, à vous.", "La parole est à {name}.", "{name}, vous vouliez réagir ?")
GREETING = "Oui, bonjour, merci pour l'invitation."
THANKS = ("Merci {first}.", "Oui, merci {first}.")

# id, seed, voices (the first is the moderator), turns, format
SESSIONS = [
    ("multivoix-1", 11, ["pico", "espeak-f3", "fleurs-a", "pico-grave"], 14, "wav"),
    ("multivoix-2", 12, ["espeak-m3", "pico", "pico-aigu", "fleurs-b", "espeak-f3"], 30, "ogg"),
    ("multivoix-3", 13, ["pico", "pico-grave", "pico-aigu", "espeak-m3"], 45, "ogg"),
    ("multivoix-4", 14, ["pico", "espeak-f3", "fleurs-a", "fleurs-c", "espeak-m3"], 70, "ogg"),
]


def real_voice_piece(text: str) -> bool:
    """The text truth.json gives a real voice's piece: its clip's name, "(fleurs-fr-00N.ogg)",
    for the piece has no text of its own."""
    return re.fullmatch(r"\(fleurs-[\w-]+\.ogg\)", text) is not None


@dataclass
class Piece:
    """One stretch of speech of one voice (seconds)."""

    speaker: str
    start: float
    end: float
    text: str


# --- voices -----------------------------------------------------------------------------------

def _resample(samples: np.ndarray, factor: float) -> np.ndarray:
    """Played `factor` times faster: pitch and formants up by `factor` (linear interpolation;
    the factors used are close to 1, so aliasing stays far below the voice)."""
    if factor == 1.0:
        return samples
    positions = np.arange(0, len(samples) - 1, factor)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    voiced = np.flatnonzero(np.abs(samples) > threshold)
    if voiced.size == 0:
        raise RuntimeError("the voice produced no sound")
    return samples[voiced[0]: voiced[-1] + 1]


def _to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resampled to 16 kHz by FFmpeg's resampler (PyAV)."""
    import av

    if rate == SAMPLE_RATE:
        return samples.astype(np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out)


def speak(voice: str, text: str) -> np.ndarray:
    """The text spoken by a synthetic voice, 16 kHz float32, silences at both ends trimmed."""
    spec = VOICES[voice]
    if spec["kind"] == "pico":
        from py_nanotts import NanoTTS

        pcm = NanoTTS().speak(text, voice="fr-FR", volume=0.5, pitch=spec["pitch"], speed=spec["speed"])
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
        return _trim(_resample(samples, spec["formant"]))
    if spec["kind"] == "espeak":
        if shutil.which("espeak-ng") is None:
            raise SystemExit("espeak-ng is needed for the multi-voice sessions: apt-get install -y espeak-ng")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "voice.wav"
            # The text goes on standard input: a sentence may start with "-".
            subprocess.run(["espeak-ng", "-v", spec["voice"], "-s", str(spec["speed_wpm"]), "-w", str(path)],
                           input=text.encode("utf-8"), check=True, capture_output=True)
            wav = path.read_bytes()
        with wave.open(io.BytesIO(wav)) as handle:
            rate = handle.getframerate()
            raw = handle.readframes(handle.getnframes())
        return _trim(_to_16k(np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768, rate))
    raise ValueError(voice)


@cache
def fleurs_pieces(clip: str) -> tuple[np.ndarray, ...]:
    """A real speaker's clip cut at its pauses (>= 0.25 s under -40 dBFS) into pieces of 1.5 s
    or more."""
    from synthese.transcribe.audio import load_audio

    audio = load_audio(ASR / clip)
    audio = _trim(audio * (0.5 / max(float(np.abs(audio).max()), 1e-6)), 0.02)  # some clips peak at -48 dBFS
    frame = SAMPLE_RATE // 100
    energy = np.sqrt(np.mean(np.square(audio[: len(audio) // frame * frame].reshape(-1, frame)), axis=1))
    quiet = energy < 0.01
    pieces, start, run = [], 0, 0
    for index, is_quiet in enumerate(quiet):
        run = run + 1 if is_quiet else 0
        if run == 25 and (index - 25) * frame - start >= 1.5 * SAMPLE_RATE:
            pieces.append(_trim(audio[start: (index - 12) * frame], 0.02))
            start = (index - 12) * frame
    pieces.append(_trim(audio[start:], 0.02))
    return tuple(p for p in pieces if len(p) >= SAMPLE_RATE)


def sentences(rows: list[dict]) -> list[str]:
    """The dev passages cut into sentences of 5 to 40 words."""
    out = []
    for row in rows:
        for sentence in re.split(r"(?<=[.!?])\s+", speakable(row["text"])):
            if 5 <= len(sentence.split()) <= 40:
                out.append(sentence)
    return out


# --- sessions ---------------------------------------------------------------------------------

def declared_speakers(voices: list[str]) -> list[dict]:
    """The session's speakers as config.yaml declares them, the moderator first."""
    return [{"voice": v, "name": DECLARED[v][0], "role": "Animation" if i == 0 else "Intervention",
             "organisation": DECLARED[v][1]} for i, v in enumerate(voices)]


def make_session(session_id: str, seed: int, voices: list[str], turns: int, audio_format: str,
                 out_dir: Path, introductions: bool = True) -> dict:
    rng = random.Random(seed)
    # The spoken names draw from a random generator of their own: without them, the script is
    # the earlier sessions' one.
    names_rng = random.Random(seed * 1000 + 25)
    texts = sentences(load_dev_set(DEV_SET))
    rng.shuffle(texts)
    text_iter = iter(texts * 4)
    gains = {v: TARGET_RMS * rng.uniform(0.7, 1.4) for v in voices}
    audio: list[np.ndarray] = [np.zeros(SAMPLE_RATE, np.float32)]
    position = SAMPLE_RATE
    pieces: list[Piece] = []
    speaker_turns: list[dict] = []
    previous = None
    # Every voice speaks at least twice; then the moderator a third of the time.
    order = voices[1:] * 2
    rng.shuffle(order)
    plan: list[str] = []
    for index in range(turns):
        if index % 3 == 0 or not order and rng.random() < 0.33:
            choice = voices[0]
        elif order:
            choice = order.pop()
        else:
            choice = rng.choice(voices[1:])
        if plan and choice == plan[-1]:
            choice = voices[0] if choice != voices[0] else rng.choice(voices[1:])
        plan.append(choice)
    introduced: set[str] = set()  # guests the moderator named already
    greeted: set[str] = set()  # guests who said hello already

    def say(voice: str, samples: np.ndarray, text: str) -> None:
        nonlocal position
        rms = float(np.sqrt(np.mean(np.square(samples))))
        samples = np.clip(samples * (gains[voice] / max(rms, 1e-6)), -1, 1).astype(np.float32)
        pieces.append(Piece(voice, round(position / SAMPLE_RATE, 3),
                            round((position + len(samples)) / SAMPLE_RATE, 3), text))
        audio.append(samples)
        position += len(samples)

    def pause(seconds: float) -> None:
        nonlocal position
        audio.append(np.zeros(int(seconds * SAMPLE_RATE), np.float32))
        position += int(seconds * SAMPLE_RATE)

    moderator_first_name = DECLARED[voices[0]][0].split()[0]
    for index, voice in enumerate(plan):
        if previous is not None:
            gap_s = rng.uniform(0.05, 0.25) if rng.random() < 0.25 else rng.uniform(0.4, 1.5)
            gap = int(gap_s * SAMPLE_RATE)
            audio.append(np.zeros(gap, np.float32))
            position += gap
        turn_start = position
        spec = VOICES[voice]
        if introductions and voice != voices[0] and spec["kind"] != "fleurs":
            greeting = (GREETING if voice not in greeted else names_rng.choice(THANKS)).format(
                first=moderator_first_name)
            greeted.add(voice)
            say(voice, speak(voice, greeting), greeting)
            pause(names_rng.uniform(0.25, 0.6))
        count = rng.randint(1, 2) if spec["kind"] == "fleurs" else rng.randint(1, 3)
        for k in range(count):
            if k:
                pause_samples = int(rng.uniform(0.25, 0.6) * SAMPLE_RATE)
                audio.append(np.zeros(pause_samples, np.float32))
                position += pause_samples
            if spec["kind"] == "fleurs":
                choices = fleurs_pieces(spec["clip"])
                samples, text = choices[rng.randrange(len(choices))], f"({spec['clip']})"  # real_voice_piece
            else:
                text = next(text_iter)
                samples = speak(voice, text)
            say(voice, samples, text)
        following = plan[index + 1] if index + 1 < len(plan) else None
        if introductions and voice == voices[0] and following:
            name, _, of = DECLARED[following]
            line = (INTRODUCTION if following not in introduced else names_rng.choice(GIVING_THE_FLOOR)).format(
                name=name, of=of)
            introduced.add(following)
            pause(names_rng.uniform(0.25, 0.6))
            say(voice, speak(voice, line), line)
        speaker_turns.append({"start": round(turn_start / SAMPLE_RATE, 3), "end": round(position / SAMPLE_RATE, 3),
                              "speaker": voice})
        previous = voice
    audio.append(np.zeros(SAMPLE_RATE, np.float32))
    samples = np.concatenate(audio)
    folder = out_dir / session_id
    folder.mkdir(parents=True, exist_ok=True)
    media = folder / f"{session_id}.{audio_format}"
    write_audio((samples * 32767).astype(np.int16), media)
    truth = {
        "schema": TRUTH_SCHEMA,
        "session_id": session_id,
        "seed": seed,
        "media": media.name,
        "format": "Ogg/Opus 24 kbit/s" if audio_format == "ogg" else "WAV PCM 16-bit",
        "duration_s": round(len(samples) / SAMPLE_RATE, 3),
        "speakers": voices,
        "declared": declared_speakers(voices),
        "introductions": introductions,
        "voices": {v: VOICES[v] for v in voices},
        "turns": speaker_turns,
        "segments": [asdict(p) for p in pieces],
        "sources": {"text": "shared/eval/themes/dev.jsonl", "real voices": "shared/eval/asr (FLEURS, CC BY 4.0)"},
    }
    write_json(folder / "truth.json", truth)
    write_config(folder, session_id, media.name, truth)
    return truth


def write_config(folder: Path, session_id: str, media_name: str, truth: dict) -> None:
    """config.yaml: the repository's, with this session and its declared speakers."""
    config = session_config(REPO / "config.yaml", session_id, media_name,
                            [{k: s[k] for k in ("name", "role", "organisation")} for s in truth["declared"]],
                            truth["duration_s"])
    number = int(session_id.rsplit("-", 1)[-1])
    config["sessions"][0].update({
        "number": 90 + number,
        "title": f"Table ronde {number} : la ville numérique en débat",
        "description": "Enregistrement de synthèse à plusieurs voix (bench/make_multivoice_session.py).",
    })
    header = ("# Generated by bench/make_multivoice_session.py: the repository's config.yaml with one session\n"
              "# and its declared speakers.\n")
    write_text(folder / "config.yaml", header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=100))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT, help="folder of the sessions")
    parser.add_argument("--only", nargs="*", help="session ids to make (default: all)")
    parser.add_argument("--no-introductions", action="store_true",
                        help="no names said, no greetings: the sessions the diarization figures were measured on")
    parser.add_argument("--config-only", action="store_true",
                        help="only write config.yaml again from the repository's, keeping each recording and "
                             "truth.json (when config.yaml changed since the sessions were made)")
    args = parser.parse_args(argv)
    for session_id, seed, voices, turns, audio_format in SESSIONS:
        if args.only and session_id not in args.only:
            continue
        if args.config_only:
            truth_path = args.output / session_id / "truth.json"
            if not truth_path.is_file():
                sys.exit(f"{truth_path}: not found. Make the session first: "
                         f".venv/bin/python bench/make_multivoice_session.py --only {session_id}")
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            write_config(truth_path.parent, session_id, truth["media"], truth)
            print(f"{session_id}: config.yaml written again")
            continue
        truth = make_session(session_id, seed, voices, turns, audio_format, args.output,
                             introductions=not args.no_introductions)
        print(f"{session_id}: {truth['duration_s'] / 60:.1f} min, {len(truth['turns'])} turns, "
              f"{len(voices)} voices ({', '.join(voices)}), {truth['format']}")
    print(json.dumps({"written": str(args.output)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
