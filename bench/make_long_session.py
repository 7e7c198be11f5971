"""Generate a long, realistic test session: a synthetic French webinar with its ground truth.

The recording is built from real French text: the cycle's programme (shared/seed/, as prepared
for speech in shared/eval/sample/seance-introductive.txt), read by the moderator as an opening,
then the labelled passages of the theme dev set (shared/eval/themes/dev.jsonl), grouped by the
document they come from so that each group reads like one speaker's intervention. An offline French voice
(SVOX Pico through `py-nanotts`) speaks
every passage; speakers differ by pitch and speed; passages are joined with silences of 0.8-2.5 s
(longer between speakers), like a webinar replay.

The output folder gets:
    <id>.ogg (or .wav)     16 kHz mono recording
    ground-truth.json      per passage: start/end in the recording, text, speaker, themes
    config.yaml            the repository's cycle, codebook and settings with this one session,
                           so that `synthese --config <folder>/config.yaml run` works on it

The same --seed gives the same text, order, voices and pauses. Nothing here is committed
(bench/data/ is git-ignored); eval data is read only while generating.

    .venv/bin/python bench/make_long_session.py --minutes 30 -o bench/data/long-session/
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml

from synthese.core.storage import write_json, write_text

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEV_SET = SHARED / "eval" / "themes" / "dev.jsonl"
# The seed programme (shared/seed/) as prepared for speech for the sample session.
PROGRAMME = SHARED / "eval" / "sample" / "seance-introductive.txt"
SAMPLE_RATE = 16_000
TRUTH_NAME = "ground-truth.json"
TRUTH_SCHEMA = "synthese.bench-truth/1"

# Below this absolute 16-bit amplitude a TTS sample counts as silence (the voice peaks ~16 000
# at volume 0.5; Pico's own silences are exact zeros).
SILENCE_AMPLITUDE = 200
# Words per second of the voice at speed 1.0 (measured on the programme text).
WORDS_PER_S = 2.4

MODERATOR = {"name": "François Ménard", "role": "Chargé de mission, animateur du cycle", "organisation": "Puca",
             "pitch": 1.0, "speed": 1.0}
# Fictional guests, one drawn for each intervention (Pico has a single French voice, so they
# differ only by pitch and speed).
GUESTS = [
    ("Claire Vasseur", "Chercheuse en urbanisme"), ("Julien Marchal", "Directeur du numérique d'une métropole"),
    ("Sophie Lemaire", "Chargée de mission numérique responsable"),
    ("Karim Haddad", "Responsable de la sécurité des systèmes d'information"),
    ("Nathalie Roussel", "Sociologue"), ("Thomas Berthier", "Fondateur d'une start-up"),
    ("Élodie Garnier", "Médiatrice numérique"), ("Antoine Fabre", "Économiste"),
]
TRANSITIONS = [
    "Merci beaucoup. Je donne maintenant la parole à {name}, {role}.",
    "Merci pour cette intervention. Nous poursuivons avec {name}, {role}.",
    "Merci. Pour la suite de cette séance, nous écoutons {name}, {role}.",
    "Je vous propose de passer à l'intervention suivante, celle de {name}, {role}.",
]
CLOSING = ("Merci à toutes et à tous pour ces échanges. La synthèse de cette séance sera accessible en ligne, "
           "avec le replay. Fin de la séance.")


@dataclass
class Passage:
    """One spoken passage and where it lies in the recording (seconds)."""

    id: str
    kind: str  # "programme", "dev", "transition" or "closing"
    source_id: str  # dev-set id, or the programme chunk number
    speaker: str
    text: str
    themes: list[str] = field(default_factory=list)
    primary: str | None = None
    start: float = 0.0
    end: float = 0.0


# --- text ----------------------------------------------------------------------------------

def programme_paragraphs(path: Path = PROGRAMME) -> list[str]:
    """The programme as a moderator reads it, in paragraphs of about 40 words.

    The text is the seed programme prepared for speech (bullets removed, wrapped lines joined),
    one line per slide item, as spoken in the sample session."""
    paragraphs, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            current.append(line.strip())
        if sum(len(c.split()) for c in current) >= 40:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def speakable(text: str) -> str:
    """Text as the voice should read it: typographic quotes, brackets and dashes made plain."""
    text = text.replace("’", "'").replace("«", "").replace("»", "").replace("—", ",")
    text = re.sub(r"[\[\]()]", ",", text)
    return re.sub(r"\s+", " ", text).strip()


def load_dev_set(path: Path = DEV_SET) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def document_of(row: dict) -> str:
    """The source document of a dev passage (its path without the repository part)."""
    return row["source"].rsplit(":", 1)[-1]


# --- script --------------------------------------------------------------------------------

def make_speakers(rng: random.Random) -> list[dict]:
    """The moderator and the guests, each guest with a voice of its own (pitch, speed)."""
    guests = [{"name": name, "role": role, "organisation": "",
               "pitch": round(rng.uniform(0.85, 1.2), 2), "speed": round(rng.uniform(0.9, 1.1), 2)}
              for name, role in GUESTS]
    return [MODERATOR, *guests]


def script(rows: list[dict], speakers: list[dict], programme_words: int,
           rng: random.Random) -> Iterator[Passage]:
    """The passages in speaking order, without end: the opening of the programme (about
    programme_words, at least one paragraph), then interventions, one per source document of
    the dev set in random order with its passages in document order, each introduced by the
    moderator; then the dev set again, reshuffled, for as long as the caller asks."""
    moderator, guests = speakers[0], speakers[1:]
    spoken = 0
    for index, text in enumerate(programme_paragraphs(), start=1):
        if index > 1 and spoken + len(text.split()) > programme_words:
            break
        spoken += len(text.split())
        yield Passage("", "programme", f"programme-{index:02d}", moderator["name"], text)

    by_document: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_document[document_of(row)].append(row)
    guest = None
    for round_number in itertools.count(1):
        documents = sorted(by_document)
        rng.shuffle(documents)
        for document in documents:
            guest = rng.choice([g for g in guests if g is not guest])
            transition = rng.choice(TRANSITIONS).format(name=guest["name"], role=guest["role"].lower())
            yield Passage("", "transition", "transition", moderator["name"], transition)
            for row in sorted(by_document[document], key=lambda r: r["id"]):
                source_id = row["id"] if round_number == 1 else f"{row['id']}#{round_number}"
                yield Passage("", "dev", source_id, guest["name"], speakable(row["text"]),
                              list(row["themes"]), row.get("primary"))


# --- audio ---------------------------------------------------------------------------------

def synthesise(text: str, speaker: dict, volume: float = 0.5) -> np.ndarray:
    """The passage spoken by the offline French voice, leading and trailing silence trimmed."""
    from py_nanotts import NanoTTS

    pcm = NanoTTS().speak(text, voice="fr-FR", volume=volume, pitch=speaker["pitch"], speed=speaker["speed"])
    samples = np.frombuffer(pcm, dtype="<i2")
    voiced = np.flatnonzero(np.abs(samples) > SILENCE_AMPLITUDE)
    if voiced.size == 0:
        raise RuntimeError(f"the voice produced no sound for {text[:60]!r}")
    return samples[voiced[0]: voiced[-1] + 1]


def assemble(passages: Iterator[Passage], speakers: list[dict], target_s: float, rng: random.Random,
             lead_in_s: float = 1.0) -> tuple[np.ndarray, list[Passage]]:
    """Speak the passages one after the other, joined with pauses, until the recording reaches
    target_s, then the closing words. Returns the samples and the spoken passages, each with its
    id, start and end."""
    by_name = {s["name"]: s for s in speakers}
    closing = Passage("", "closing", "closing", speakers[0]["name"], CLOSING)
    pieces = [np.zeros(int(lead_in_s * SAMPLE_RATE), dtype=np.int16)]
    position = len(pieces[0])
    spoken: list[Passage] = []
    for passage in itertools.chain(passages, [closing]):
        if position / SAMPLE_RATE >= target_s:
            passage = closing  # long enough: the moderator closes after this passage
        if spoken:
            # Longer silences when the floor changes hands, as in a webinar.
            changes = passage.speaker != spoken[-1].speaker
            pause_s = rng.uniform(1.5, 2.5) if changes else rng.uniform(0.8, 1.6)
            pause = np.zeros(int(round(pause_s * SAMPLE_RATE)), dtype=np.int16)
            pieces.append(pause)
            position += len(pause)
        voice = synthesise(passage.text, by_name[passage.speaker])
        passage.id = f"x{len(spoken) + 1:03d}"
        passage.start = round(position / SAMPLE_RATE, 3)
        position += len(voice)
        passage.end = round(position / SAMPLE_RATE, 3)
        pieces.append(voice)
        spoken.append(passage)
        if passage is closing:
            break
    pieces.append(np.zeros(int(lead_in_s * SAMPLE_RATE), dtype=np.int16))
    return np.concatenate(pieces), spoken


def write_audio(samples: np.ndarray, path: Path) -> None:
    """16 kHz mono: WAV (PCM 16-bit) or Ogg/Opus at 24 kbit/s, like a compressed replay."""
    import av

    if path.suffix == ".wav":
        import wave

        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(samples.astype("<i2").tobytes())
        return
    # bitexact: a fixed Ogg stream serial number, so the same seed gives the same bytes.
    with av.open(str(path), "w", format="ogg", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libopus", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = 24_000
        frame_samples = SAMPLE_RATE  # one-second frames; the encoder re-chunks them
        for offset in range(0, len(samples), frame_samples):
            chunk = samples[offset: offset + frame_samples].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def decode_audio(path: Path) -> np.ndarray:
    """The recording as decoded by PyAV (16 kHz mono int16), to check what was written."""
    import av

    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks)


def check_recording(path: Path, passages: list[Passage], expected_s: float) -> dict:
    """A listening proxy: the decoded duration matches, every passage is voiced and every
    pause between passages is silent (RMS per 100 ms window, margins of 0.15 s for the codec)."""
    samples = decode_audio(path).astype(np.float64)
    duration_s = len(samples) / SAMPLE_RATE

    def rms(start_s: float, end_s: float) -> float:
        window = samples[int(start_s * SAMPLE_RATE): int(end_s * SAMPLE_RATE)]
        return float(np.sqrt(np.mean(window ** 2))) if window.size else 0.0

    voiced_rms = [rms(p.start, p.end) for p in passages]
    pause_rms = [rms(a.end + 0.15, b.start - 0.15) for a, b in zip(passages, passages[1:])]
    quiet_passages = [p.id for p, level in zip(passages, voiced_rms) if level < 300]
    loud_pauses = [f"{a.id}-{b.id}" for (a, b), level in zip(zip(passages, passages[1:]), pause_rms) if level > 50]
    return {
        "decoded_duration_s": round(duration_s, 3),
        "expected_duration_s": round(expected_s, 3),
        "duration_ok": abs(duration_s - expected_s) < 0.1,
        "min_passage_rms": round(min(voiced_rms), 1),
        "max_pause_rms": round(max(pause_rms, default=0.0), 1),
        "quiet_passages": quiet_passages,
        "loud_pauses": loud_pauses,
        "ok": abs(duration_s - expected_s) < 0.1 and not quiet_passages and not loud_pauses,
    }


# --- config --------------------------------------------------------------------------------

def session_config(repo_config: Path, session_id: str, media_name: str, speakers: list[dict],
                   duration_s: float) -> dict:
    """The repository's configuration with one session: the generated recording."""
    data = yaml.safe_load(repo_config.read_text(encoding="utf-8"))
    weights = (data.get("tag") or {}).get("weights_file")
    if weights and not Path(weights).is_absolute():  # the codebook's weights stay where they are
        data["tag"]["weights_file"] = str((repo_config.parent / weights).resolve())
    data["sessions"] = [{
        "id": session_id,
        "number": 99,
        "title": f"Séance de test longue ({duration_s / 60:.0f} minutes, voix de synthèse)",
        "description": "Enregistrement de synthèse : programme du cycle et passages annotés, lus par une voix "
                       "française hors ligne.",
        "media": media_name,
        "speakers": [{k: s[k] for k in ("name", "role", "organisation")} for s in speakers],
    }]
    return data


def make_session(out_dir: Path, minutes: float, seed: int, audio_format: str = "ogg",
                 repo_config: Path = REPO / "config.yaml") -> dict:
    """Generate the recording, its ground truth and its config.yaml in out_dir; return the truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    session_id = re.sub(r"[^a-z0-9_-]+", "-", out_dir.resolve().name.lower()).strip("-")[:64] or "long-session"
    rng = random.Random(seed)
    speakers = make_speakers(rng)
    # The programme opens the session but takes at most about a tenth of it.
    programme_words = int(minutes * 60 * 0.1 * WORDS_PER_S)
    samples, passages = assemble(script(load_dev_set(), speakers, programme_words, rng), speakers,
                                 minutes * 60, rng)
    used = {p.speaker for p in passages}
    speakers = [s for s in speakers if s["name"] in used]
    media = out_dir / f"{session_id}.{audio_format}"
    write_audio(samples, media)
    duration_s = len(samples) / SAMPLE_RATE
    check = check_recording(media, passages, duration_s)
    truth = {
        "schema": TRUTH_SCHEMA,
        "session_id": session_id,
        "seed": seed,
        "minutes_requested": minutes,
        "media": media.name,
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(duration_s, 3),
        "voice": "py-nanotts fr-FR (SVOX Pico), volume 0.5",
        "sources": {"themes": "shared/eval/themes/dev.jsonl",
                    "programme": "shared/eval/sample/seance-introductive.txt (the seed programme, for speech)"},
        "speakers": speakers,
        "check": check,
        "passages": [asdict(p) for p in passages],
    }
    write_json(out_dir / TRUTH_NAME, truth)
    config = session_config(repo_config, session_id, media.name, speakers, duration_s)
    header = ("# Generated by bench/make_long_session.py: the repository's config.yaml with one session,\n"
              "# a synthetic recording. Regenerate rather than edit.\n")
    write_text(out_dir / "config.yaml", header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=100))
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0,
                        help="length to reach, in minutes of speech (the recording ends after the passage that "
                             "reaches it; default 30)")
    parser.add_argument("-o", "--output", type=Path, default=REPO / "bench" / "data" / "long-session",
                        help="output folder (its name is the session id)")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--format", choices=["ogg", "wav"], default="ogg", help="ogg (Opus 24 kbit/s) or wav")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    truth = make_session(args.output, args.minutes, args.seed, args.format)
    kinds = defaultdict(int)
    for passage in truth["passages"]:
        kinds[passage["kind"]] += 1
    check = truth["check"]
    print(f"{args.output / truth['media']}: {truth['duration_s'] / 60:.1f} min, {len(truth['passages'])} passages "
          f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), {len(truth['speakers'])} speakers, "
          f"made in {time.perf_counter() - started:.0f} s")
    print(f"check: decoded {check['decoded_duration_s']:.1f} s (expected {check['expected_duration_s']:.1f}), "
          f"quietest passage RMS {check['min_passage_rms']}, loudest pause RMS {check['max_pause_rms']}: "
          f"{'ok' if check['ok'] else 'PROBLEM'}")
    print(f"run it: .venv/bin/synthese --config {args.output / 'config.yaml'} run")
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
