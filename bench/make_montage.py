"""Build the transcription montage: real French clips, silences, a burst of noise and a passage in
English, with the ground truth of where each piece lies.

Real recordings lose speech in ways a clean synthetic voice does not show: a decoding window
that ends early, a clip skipped, a passage in another language dropped. The montage puts the real
FLEURS clips of shared/eval/asr one after another twice (the second time in reverse order, 6 dB
quieter, with other pauses, so that each clip falls at another place in Whisper's 30 s windows),
with silences of 0.7–3 s, one long silence, a burst of noise, and an English passage spoken by the
offline Pico voice (py-nanotts en-GB). Pieces are mixed in int16 at 16 kHz and written as WAV, so
the clips are not compressed a second time.

    .venv/bin/python bench/make_montage.py -o bench/data/montage/

writes `montage.wav` and `montage.json`: per piece `kind` (speech, noise, silence), `file`,
`language`, `start`/`end` in seconds and the reference `text`. bench_transcribe.py builds it when
it is missing. The same --seed gives the same bytes. Nothing here is committed (bench/data/ is
git-ignored); the eval clips are only read.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import wave
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ASR = REPO.parent / "shared" / "eval" / "asr"
SAMPLE_RATE = 16_000
MONTAGE_SCHEMA = "synthese.bench-montage/1"
# Said by a guest in English: a short passage, as in a webinar with an international speaker.
ENGLISH = ("Thank you for inviting me. In our city, we started with a small pilot project "
           "and we learned a lot from the people who live there.")
NOISE_S = 2.0
LONG_SILENCE_S = 8.0


def _clip(path: Path, gain: float = 1.0) -> np.ndarray:
    from synthese.transcribe.audio import load_audio

    return np.clip(load_audio(path) * gain * 32767, -32768, 32767).astype(np.int16)


def _english(voice: str = "en-GB") -> np.ndarray:
    from py_nanotts import NanoTTS

    samples = np.frombuffer(NanoTTS().speak(ENGLISH, voice=voice, volume=0.5), dtype="<i2")
    voiced = np.flatnonzero(np.abs(samples) > 200)
    return samples[voiced[0]: voiced[-1] + 1]


def _noise(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Noise shaped like a crackle on the line: white noise, low-passed, with a fast attack and decay."""
    white = rng.standard_normal(int(seconds * SAMPLE_RATE))
    smooth = np.convolve(white, np.ones(8) / 8, mode="same")
    envelope = np.minimum(1.0, np.minimum(np.arange(len(smooth)), np.arange(len(smooth))[::-1]) / 800)
    return (smooth * envelope * 0.15 * 32767).astype(np.int16)


def build_montage(out_dir: Path, seed: int = 14, asr_dir: Path = ASR) -> dict:
    """Write out_dir/montage.wav and montage.json; return the ground truth."""
    clips = sorted(asr_dir.glob("fleurs-fr-*.ogg"))
    if not clips:
        raise FileNotFoundError(f"no fleurs-fr-*.ogg clips in {asr_dir}")
    rng = random.Random(seed)
    noise_rng = np.random.default_rng(seed)
    order: list[tuple[str, Path | None, float]] = [("speech", clip, 1.0) for clip in clips]
    order.insert(2, ("noise", None, 1.0))
    order.insert(4, ("english", None, 1.0))
    order.append(("silence", None, 1.0))
    order += [("speech", clip, 0.5) for clip in reversed(clips)]
    pieces: list[np.ndarray] = [np.zeros(SAMPLE_RATE, np.int16)]
    position = SAMPLE_RATE
    truth: list[dict] = []
    for kind, clip, gain in order:
        if kind == "speech":
            samples = _clip(clip, gain)
            item = {"kind": "speech", "file": clip.name, "language": "fr",
                    "text": clip.with_suffix(".txt").read_text(encoding="utf-8").strip()}
        elif kind == "english":
            samples = _english()
            item = {"kind": "speech", "file": "pico-en-GB", "language": "en", "text": ENGLISH}
        elif kind == "noise":
            samples = _noise(noise_rng, NOISE_S)
            item = {"kind": "noise", "file": None, "language": None, "text": ""}
        else:
            samples = np.zeros(int(LONG_SILENCE_S * SAMPLE_RATE), np.int16)
            item = {"kind": "silence", "file": None, "language": None, "text": ""}
        item.update(start=round(position / SAMPLE_RATE, 3), end=round((position + len(samples)) / SAMPLE_RATE, 3))
        truth.append(item)
        pieces.append(samples)
        position += len(samples)
        pause = np.zeros(int(rng.uniform(0.7, 3.0) * SAMPLE_RATE), np.int16)
        pieces.append(pause)
        position += len(pause)
    audio = np.concatenate(pieces)
    out_dir.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out_dir / "montage.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(SAMPLE_RATE)
        handle.writeframes(audio.astype("<i2").tobytes())
    data = {"schema": MONTAGE_SCHEMA, "seed": seed, "media": "montage.wav",
            "duration_s": round(len(audio) / SAMPLE_RATE, 3), "pieces": truth}
    (out_dir / "montage.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=REPO / "bench" / "data" / "montage")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    data = build_montage(args.output, args.seed)
    speech = [p for p in data["pieces"] if p["kind"] == "speech"]
    print(f"{args.output / data['media']}: {data['duration_s']:.1f} s, {len(speech)} speech clips "
          f"({sum(p['language'] != 'fr' for p in speech)} not in French), "
          f"{sum(p['kind'] == 'noise' for p in data['pieces'])} burst of noise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
