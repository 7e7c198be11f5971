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

Each session folder under bench/data/multivoice/ (git-ignored) gets:
    <id>.ogg or <id>.wav   16 kHz mono recording (Ogg/Opus 24 kbit/s like a compressed replay)
    truth.json             speakers, turns (start, end, speaker) and speech segments

Needs `py-nanotts` (the `bench` extra) and `espeak-ng` (`apt-get install -y espeak-ng`).

    .venv/bin/python bench/make_multivoice_session.py
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_long_session import DEV_SET, load_dev_set, speakable, write_audio  # noqa: E402

from synthese.core.storage import write_json  # noqa: E402

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

# id, seed, voices (the first is the moderator), turns, format
SESSIONS = [
    ("multivoix-1", 11, ["pico", "espeak-f3", "fleurs-a", "pico-grave"], 14, "wav"),
    ("multivoix-2", 12, ["espeak-m3", "pico", "pico-aigu", "fleurs-b", "espeak-f3"], 30, "ogg"),
    ("multivoix-3", 13, ["pico", "pico-grave", "pico-aigu", "espeak-m3"], 45, "ogg"),
    ("multivoix-4", 14, ["pico", "espeak-f3", "fleurs-a", "fleurs-c", "espeak-m3"], 70, "ogg"),
]


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

def make_session(session_id: str, seed: int, voices: list[str], turns: int, audio_format: str,
                 out_dir: Path) -> dict:
    rng = random.Random(seed)
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
    for voice in plan:
        if previous is not None:
            gap_s = rng.uniform(0.05, 0.25) if rng.random() < 0.25 else rng.uniform(0.4, 1.5)
            gap = int(gap_s * SAMPLE_RATE)
            audio.append(np.zeros(gap, np.float32))
            position += gap
        turn_start = position
        spec = VOICES[voice]
        count = rng.randint(1, 2) if spec["kind"] == "fleurs" else rng.randint(1, 3)
        for k in range(count):
            if k:
                pause = int(rng.uniform(0.25, 0.6) * SAMPLE_RATE)
                audio.append(np.zeros(pause, np.float32))
                position += pause
            if spec["kind"] == "fleurs":
                choices = fleurs_pieces(spec["clip"])
                samples, text = choices[rng.randrange(len(choices))], f"({spec['clip']})"
            else:
                text = next(text_iter)
                samples = speak(voice, text)
            rms = float(np.sqrt(np.mean(np.square(samples))))
            samples = np.clip(samples * (gains[voice] / max(rms, 1e-6)), -1, 1).astype(np.float32)
            pieces.append(Piece(voice, round(position / SAMPLE_RATE, 3),
                                round((position + len(samples)) / SAMPLE_RATE, 3), text))
            audio.append(samples)
            position += len(samples)
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
        "voices": {v: VOICES[v] for v in voices},
        "turns": speaker_turns,
        "segments": [asdict(p) for p in pieces],
        "sources": {"text": "shared/eval/themes/dev.jsonl", "real voices": "shared/eval/asr (FLEURS, CC BY 4.0)"},
    }
    write_json(folder / "truth.json", truth)
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT, help="folder of the sessions")
    parser.add_argument("--only", nargs="*", help="session ids to make (default: all)")
    args = parser.parse_args(argv)
    for session_id, seed, voices, turns, audio_format in SESSIONS:
        if args.only and session_id not in args.only:
            continue
        truth = make_session(session_id, seed, voices, turns, audio_format, args.output)
        print(f"{session_id}: {truth['duration_s'] / 60:.1f} min, {len(truth['turns'])} turns, "
              f"{len(voices)} voices ({', '.join(voices)}), {truth['format']}")
    print(json.dumps({"written": str(args.output)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
