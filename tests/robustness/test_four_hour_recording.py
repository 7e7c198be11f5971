"""A four-hour replay is transcribed whole, with the same memory as a short one.

The recordings are real speech (a FLEURS clip) at the start, the middle and the very end of
hours of digital silence, in FLAC: a few megabytes, made in seconds, and the voice-activity
filter skips the silence, so the test costs Whisper on three clips while the decoder, the
blocks and the checkpoints go through all four hours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthese.core.textnorm import wer
from synthese.transcribe.audio import SAMPLE_RATE, load_audio

REPO = Path(__file__).resolve().parents[2]
ASR = REPO.parent / "shared" / "eval" / "asr"
CLIP = ASR / "fleurs-fr-001.ogg"


def write_long_flac(path: Path, hours: float, clip: np.ndarray) -> list[float]:
    """A FLAC of `hours` of silence with `clip` at its start, middle and end; returns where the
    clip starts, in seconds."""
    import av

    total = int(hours * 3600 * SAMPLE_RATE)
    clip16 = (clip * 32767).astype(np.int16)
    starts = [0, total // 2, total - len(clip16) - 5 * SAMPLE_RATE]
    silence = np.zeros(SAMPLE_RATE * 10, np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")

        def write(samples: np.ndarray) -> None:
            frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
            frame.sample_rate = SAMPLE_RATE
            for packet in stream.encode(frame):
                container.mux(packet)

        position = 0
        for start in [*starts, total]:
            while position < start:
                write(silence[: min(len(silence), start - position)])
                position = min(start, position + len(silence))
            if start < total:
                write(clip16)
                position += len(clip16)
        for packet in stream.encode(None):
            container.mux(packet)
    return [start / SAMPLE_RATE for start in starts]


def transcribe_measured(source: Path, out: Path) -> tuple[dict, float]:
    """`synthese transcribe` in a child process: (its transcript, its peak resident memory in MB)."""
    command = [sys.executable, "-m", "synthese", "--config", str(REPO / "config.yaml"), "--quiet",
               "transcribe", str(source), "-o", str(out)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr = child.stderr.read()
    child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, stderr
    transcript = json.loads((out / f"{source.stem}.transcript.json").read_text(encoding="utf-8"))
    return transcript, usage.ru_maxrss / 1024  # kB on Linux


@pytest.mark.slow
def test_four_hours_transcribed_whole_with_the_memory_of_twenty_minutes(tmp_path):
    clip = load_audio(CLIP)
    reference = (ASR / "fleurs-fr-001.txt").read_text(encoding="utf-8")
    long_starts = write_long_flac(tmp_path / "quatre-heures.flac", 4, clip)
    write_long_flac(tmp_path / "vingt-minutes.flac", 1 / 3, clip)

    short, short_mb = transcribe_measured(tmp_path / "vingt-minutes.flac", tmp_path / "short")
    long, long_mb = transcribe_measured(tmp_path / "quatre-heures.flac", tmp_path / "long")

    assert long["duration_s"] == 4 * 3600.0
    assert len(short["segments"]) >= 3
    # The clip is found where it was put, the last one four hours in, and read as well as alone.
    for start in long_starts:
        said = " ".join(s["text"] for s in long["segments"] if start - 1 <= s["start"] < start + 30)
        assert wer(reference, said) < 0.3, (start, said)
    # Holding four hours of decoded audio would add 0.9 GB over twenty minutes.
    assert long_mb - short_mb < 150, (short_mb, long_mb)
    assert long_mb < 2048
