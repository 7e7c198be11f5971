"""A transcription killed with SIGKILL part-way resumes from its last checkpoint, not from zero."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import repository_config

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "transcripts" / "seance-introductive" / "seance-introductive.ogg"


@pytest.mark.slow
def test_killed_transcription_resumes_near_where_it_stopped(tmp_path):
    config = repository_config()
    config["sessions"] = [{"id": "s1", "title": "Séance", "media": str(SAMPLE)}]
    config["transcribe"]["checkpoint_every_s"] = 60  # the 220 s sample in blocks of about a minute
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    checkpoint = tmp_path / "transcripts" / "s1" / ".s1.transcribe-checkpoint.json"
    command = [sys.executable, "-m", "synthese", "--config", str(config_path), "run"]

    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert first.poll() is None, "the run ended before writing a checkpoint"
        assert time.monotonic() < deadline, "no checkpoint after 300 s"
        time.sleep(0.2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    done_s = json.loads(checkpoint.read_text(encoding="utf-8"))["done_s"]
    assert 30 < done_s < 200
    assert not (tmp_path / "transcripts" / "s1" / "s1.transcript.json").exists()

    resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"seance-introductive.ogg: resuming after {done_s:.0f} s already transcribed" in resumed.stderr
    transcript = json.loads((tmp_path / "transcripts" / "s1" / "s1.transcript.json").read_text(encoding="utf-8"))
    starts = [s["start"] for s in transcript["segments"]]
    assert starts == sorted(starts) and starts[-1] > done_s and starts[0] < done_s
    assert not checkpoint.exists()
    assert (tmp_path / "outputs" / "index.html").is_file()
