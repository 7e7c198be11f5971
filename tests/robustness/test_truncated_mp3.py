"""A recording cut short in transfer (a truncated MP3) is an error naming the file, not half a transcript."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthese.core.config import load_config
from synthese.core.errors import InputError
from synthese.transcribe.transcription import check_audio, load_audio, transcribe_audio

REPO = Path(__file__).resolve().parents[2]


def write_mp3(path: Path, seconds: float) -> None:
    """A real MP3 (LAME, with its Info header giving the duration) of a quiet tone."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=16000)
        t = np.arange(int(16000 * seconds)) / 16000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, len(samples), 1152):
            frame = av.AudioFrame.from_ndarray(samples[None, i:i + 1152], format="flt", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_truncated_mp3_is_reported(tmp_path):
    whole = tmp_path / "replay.mp3"
    write_mp3(whole, 20.0)
    assert len(load_audio(whole)) == 20 * 16000
    cut = tmp_path / "coupé.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputError) as error:
        load_audio(cut)
    assert str(error.value) == (
        "coupé.mp3: the file is truncated or corrupt (the sound stops at 10.0 s of 20.0 s). "
        "Download or export the recording again."
    )


def test_a_few_damaged_packets_are_skipped_and_reported(tmp_path):
    whole = tmp_path / "replay.mp3"
    write_mp3(whole, 20.0)
    data = bytearray(whole.read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes()
    for share in (0.3, 0.5, 0.7):  # three bursts of garbage, as a bad transfer leaves
        at = int(len(data) * share)
        data[at:at + len(noise)] = noise
    damaged = tmp_path / "abîmé.mp3"
    damaged.write_bytes(bytes(data))

    checked = check_audio(damaged)
    assert checked.damaged_packets >= 3
    assert abs(checked.duration_s - 20.0) < 1.0
    result = transcribe_audio(damaged, load_config(REPO / "config.yaml"), checkpoint=None)
    assert result.warnings[0] == (f"abîmé.mp3: {checked.damaged_packets} damaged packet(s) skipped: "
                                  "the sound has gaps of a few milliseconds there")
