"""Nothing lost, nothing hidden: the coverage audit and passages in another language.

Real Whisper on short real clips (shared/eval/asr) put end to end. A decoder that loses a
stretch of speech is simulated by removing the words the real decoder gave there (the failure
seen on real replays: a batched window that stops early); the audit must then decode the
stretch again on its own, or record it as a gap when that gives nothing either. The English
clip (tests/data/english-pico.ogg: the text beside it, spoken by the offline Pico voice en-GB,
Apache-2.0) must come out in English, marked `lang: en`.
"""

from __future__ import annotations

import json
import logging
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import transcribe_session

from synthese.core.config import Config, load_config
from synthese.core.textnorm import wer
from synthese.transcribe import asr
from synthese.transcribe.asr import BlockDecoder, uncovered
from synthese.transcribe.segments import Word
from synthese.transcribe.transcription import load_audio, transcribe_audio
from synthese.transcribe.whisper_model import load_whisper

REPO = Path(__file__).resolve().parents[1]
ASR = REPO.parent / "shared" / "eval" / "asr"
DATA = Path(__file__).parent / "data"
SECOND = 16_000


def write_wav(path: Path, pieces: list[np.ndarray]) -> Path:
    audio = np.concatenate(pieces)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SECOND)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Config:
    base = load_config(REPO / "config.yaml")
    cache = tmp_path_factory.mktemp("whisper-cache")
    return base.model_copy(update={"transcribe": base.transcribe.model_copy(update={"model_cache": cache})})


@pytest.fixture(scope="module")
def model(config):
    return load_whisper("base", cache_dir=config.transcribe.model_cache, compute_type=config.transcribe.compute_type)


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory) -> tuple[Path, tuple[float, float]]:
    """fleurs-fr-003, 1.5 s of silence, fleurs-fr-004; and where the second clip lies (s)."""
    first, second = load_audio(ASR / "fleurs-fr-003.ogg"), load_audio(ASR / "fleurs-fr-004.ogg")
    silence = np.zeros(int(1.5 * SECOND), np.float32)
    path = write_wav(tmp_path_factory.mktemp("audio") / "deux.wav", [first, silence, second])
    start = (len(first) + len(silence)) / SECOND
    return path, (start, start + len(second) / SECOND)


def words_in(result, start: float, end: float) -> str:
    return " ".join(w.text for s in result.segments for w in s.words or []
                    if start <= (w.start + w.end) / 2 <= end)


def losing_decoder(monkeypatch, lost: tuple[float, float]) -> None:
    """The batched pass returns no word for the `lost` stretch, as a window that stops early does."""
    real = BlockDecoder._decode_windows

    def decode_windows(self, block, windows, result, on_progress):
        pieces = real(self, block, windows, result, on_progress)
        for piece in pieces:
            piece.words = [w for w in piece.words if not lost[0] <= (w.start + w.end) / 2 <= lost[1]]
        return pieces

    monkeypatch.setattr(BlockDecoder, "_decode_windows", decode_windows)


def test_uncovered_finds_speech_without_words():
    words = [Word(1.0, 1.4, "un", 0.9), Word(1.5, 2.0, "deux", 0.9), Word(6.0, 6.5, "trois", 0.9)]
    # Speech from 0.8 to 7.0 s: words cover 0.7–2.3 and 5.7–6.8, so 2.3–5.7 is a hole.
    assert uncovered([(0.8, 7.0)], words) == [(pytest.approx(2.3), pytest.approx(5.7))]
    assert uncovered([(0.8, 7.0)], words, min_s=4.0) == []
    assert uncovered([(10.0, 12.0)], words) == [(10.0, 12.0)]  # a stretch with no word at all
    assert uncovered([(10.0, 11.0)], words) == []  # shorter than MIN_AUDITED_S


@pytest.mark.slow
def test_lost_speech_is_decoded_again_on_its_own(two_clips, config, model, monkeypatch):
    path, lost = two_clips
    losing_decoder(monkeypatch, lost)
    result = transcribe_audio(path, config, checkpoint=None, model=model)
    assert result.stats.holes >= 1 and result.stats.recovered >= 1
    assert result.gaps == []
    reference = (ASR / "fleurs-fr-004.txt").read_text(encoding="utf-8")
    assert wer(reference, words_in(result, *lost)) < 0.6


@pytest.mark.slow
def test_speech_that_stays_undecodable_is_a_gap_never_dropped_silently(two_clips, config, model, monkeypatch,
                                                                         tmp_path, caplog):
    path, lost = two_clips
    losing_decoder(monkeypatch, lost)
    # Decoded alone, the stretch gives nothing either.
    monkeypatch.setattr(BlockDecoder, "_transcribe", lambda self, audio, language, beam_size, prompt=True: [])
    session = config.sessions[0]
    with caplog.at_level(logging.WARNING, logger="synthese.transcribe.transcription"):
        written = transcribe_session(path, config, session, out_dir=tmp_path, stem="deux",
                                     checkpoint=tmp_path / ".ckpt", quiet=True)
    data = json.loads(written.read_text(encoding="utf-8"))
    assert len(data["gaps"]) == 1
    gap = data["gaps"][0]
    assert gap["reason"] == "no_speech_decoded"
    assert gap["start"] <= lost[0] + 1.0 and gap["end"] >= lost[1] - 1.0  # the clip's speech, give or take its pauses
    assert gap["end"] - gap["start"] >= asr.MIN_AUDITED_S
    assert words_in_json(data, *lost) == ""
    assert any("no transcript for 00:00:1" in message and "recorded as a gap" in message for message in caplog.messages)
    assert data["warnings"] == [f"deux.wav: 1 passage(s) of speech ({gap['end'] - gap['start']:.0f} s) could not be "
                                "transcribed: see `gaps` in the transcript"]
    # The first clip is still there.
    reference = (ASR / "fleurs-fr-003.txt").read_text(encoding="utf-8")
    assert wer(reference, words_in_json(data, 0.0, lost[0])) < 0.7


def words_in_json(data: dict, start: float, end: float) -> str:
    return " ".join(w["text"] for s in data["segments"] for w in s.get("words") or []
                    if start <= (w["start"] + w["end"]) / 2 <= end)


@pytest.mark.slow
def test_a_passage_in_another_language_is_transcribed_in_it_and_marked(tmp_path, config, model):
    french, english = load_audio(ASR / "fleurs-fr-001.ogg"), load_audio(DATA / "english-pico.ogg")
    silence = np.zeros(SECOND, np.float32)
    path = write_wav(tmp_path / "mixte.wav", [french, silence, english, silence, load_audio(ASR / "fleurs-fr-000.ogg")])
    english_span = ((len(french) + len(silence)) / SECOND, (len(french) + len(silence) + len(english)) / SECOND)
    written = transcribe_session(path, config, config.sessions[0], out_dir=tmp_path, stem="mixte",
                                 checkpoint=tmp_path / ".ckpt", quiet=True)
    data = json.loads(written.read_text(encoding="utf-8"))
    assert data["language"] == "fr"
    marked = [s for s in data["segments"] if s.get("lang") == "en"]
    assert marked, "the English passage is not marked"
    assert all(english_span[0] - 0.5 <= s["start"] and s["end"] <= english_span[1] + 0.5 for s in marked)
    reference = (DATA / "english-pico.txt").read_text(encoding="utf-8")
    assert wer(reference, " ".join(s["text"] for s in marked)) < 0.35
    french_segments = [s for s in data["segments"] if "lang" not in s]
    assert french_segments and all(s["end"] <= english_span[0] + 0.5 or s["start"] >= english_span[1] - 0.5
                                   for s in french_segments)
    assert set(data["languages"]) == {"fr", "en"} and data["languages"]["en"] > 5
    assert data["gaps"] == []


# --- batches side by side ---------------------------------------------------------------------

class _Workers:
    """Stands for a loaded model where only its number of workers matters."""

    def __init__(self, workers: int):
        self.model = type("Ct2", (), {"num_workers": workers})()


def test_windows_are_shared_evenly_among_the_workers():
    windows = [asr._Window([(i * 30 * SECOND, (i + 1) * 30 * SECOND)]) for i in range(10)]
    settings = asr.DecodeSettings(language="fr", batch_size=8)
    one = BlockDecoder(_Workers(1), settings)._batches(windows)
    two = BlockDecoder(_Workers(2), settings)._batches(windows)
    assert [len(b) for b in one] == [5, 5]
    # At most 8 windows decoded at once over both workers, every worker busy, in time order.
    assert len(two) % 2 == 0 and max(len(b) for b in two) <= 4 and min(len(b) for b in two) >= 2
    assert [w for b in two for w in b] == windows
    assert BlockDecoder(_Workers(2), settings)._batches(windows[:1]) == [windows[:1]]


def test_worker_threads_share_the_cores():
    from synthese.transcribe.whisper_model import worker_threads

    assert worker_threads(1) == (1, 1)
    assert worker_threads(2) == (2, 1)
    assert worker_threads(8) == (2, 4)
    assert worker_threads(0)[0] * worker_threads(0)[1] >= 1


@pytest.mark.slow
def test_batches_side_by_side_give_the_words_of_one_worker(config):
    # Three clips (42 s of speech): two windows, decoded by two workers at once or by one.
    audio = np.concatenate([load_audio(ASR / f"fleurs-fr-00{i}.ogg") for i in (1, 0, 4)])
    settings = asr.DecodeSettings(language="fr")
    texts = []
    for threads in (2, 1):
        model = load_whisper("base", cache_dir=config.transcribe.model_cache,
                             compute_type=config.transcribe.compute_type, cpu_threads=threads)
        assert model.model.num_workers == threads
        result = BlockDecoder(model, settings).decode(audio)
        assert result.stats.windows == 2
        texts.append(" ".join(s.text for s in result.segments))
    assert wer(texts[1], texts[0]) < 0.05
