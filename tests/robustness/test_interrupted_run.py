"""A run killed with SIGKILL at any stage resumes on the next run, redoing only the unfinished stage,
and never leaves a half-written document where a reader could download it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import repository_config

REPO = Path(__file__).resolve().parents[2]

VTT = """WEBVTT

00:00:00.000 --> 00:00:09.000
<v Claire Dubois>La consommation énergétique des centres de données pèse sur les territoires, et la sobriété numérique devient un enjeu pour les collectivités.

00:00:10.000 --> 00:00:19.000
<v Claire Dubois>Les capteurs et les plateformes de données urbaines demandent des études d'impact et des indicateurs partagés.

00:00:21.000 --> 00:00:30.000
<v Marc Petit>Les start-ups et les grands opérateurs se disputent le marché de la ville numérique, et les élus cherchent à réguler ces acteurs privés.
"""


def make_workspace(root: Path) -> Path:
    """A copy of the repository's config.yaml with one imported-transcript session."""
    import yaml

    config = repository_config()
    config["sessions"] = [{
        "id": "s1", "number": 1, "date": "2024-03-14", "title": "Séance d'essai",
        "transcript": "s1.vtt", "replay_url": "https://www.urbanisme-puca.gouv.fr/replay/s1",
        "speakers": [{"name": "Claire Dubois", "role": "Chercheuse"}, {"name": "Marc Petit", "role": "Élu"}],
    }]
    (root / "s1.vtt").write_text(VTT, encoding="utf-8")
    (root / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root / "config.yaml"


def start_run(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "synthese", "--config", str(config), "run"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO)


def kill_when(process: subprocess.Popen, marker: str) -> list[str]:
    """Read the run's log until `marker` appears, then SIGKILL it; return the lines seen."""
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stderr:
        seen.append(line.rstrip("\n"))
        if marker in line:
            time.sleep(0.3)  # let the stage get under way
            os.kill(process.pid, signal.SIGKILL)
            break
        assert time.monotonic() < deadline, f"never saw {marker!r}: {seen}"
    process.wait()
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["tag", "render"])
def test_killed_run_resumes_with_the_unfinished_stage(tmp_path, stage):
    config = make_workspace(tmp_path)
    seen = kill_when(start_run(config), f"s1: {stage}…")
    assert f"s1: {stage}…" in seen
    render_dir = tmp_path / "transcripts" / "s1" / "render"
    # Nothing half-written is visible: no manifest, and every document there is complete.
    assert not (render_dir / "s1.render.json").exists()
    assert not (tmp_path / "outputs" / "site.json").exists()

    resumed = subprocess.run([sys.executable, "-m", "synthese", "--config", str(config), "run"],
                             capture_output=True, text=True, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    log = resumed.stderr.splitlines()
    assert "s1: transcribe up to date" in log
    if stage == "render":
        assert "s1: tag up to date" in log
    assert f"s1: {stage}…" in log
    assert (render_dir / "s1.render.json").is_file()
    assert (tmp_path / "outputs" / "index.html").is_file()
    # Temporary files of the killed run are cleared by the next one.
    assert list(tmp_path.rglob("*.part")) == []


@pytest.mark.slow
def test_second_run_does_nothing(tmp_path, cli):
    config = make_workspace(tmp_path)
    first = cli("--config", str(config), "run")
    assert first.returncode == 0, first.stderr
    second = cli("--config", str(config), "run")
    assert second.returncode == 0, second.stderr
    assert second.stderr.splitlines() == [
        "s1: transcribe up to date",
        "s1: tag up to date",
        "s1: render up to date",
        "publish up to date",
        "Everything is up to date.",
    ]
    status = cli("--config", str(config), "status")
    assert status.stdout.splitlines()[1].split() == ["s1", "done", "done", "done"]


@pytest.mark.slow
def test_failed_session_does_not_stop_the_others(tmp_path, cli):
    config = make_workspace(tmp_path)
    text = config.read_text(encoding="utf-8")
    broken = tmp_path / "broken.vtt"
    broken.write_text("WEBVTT\n\n00:00:xx --> nonsense\nBonjour\n", encoding="utf-8")
    text = text.replace("sessions:\n", "sessions:\n- id: s0\n  title: Cassée\n  transcript: broken.vtt\n", 1)
    config.write_text(text, encoding="utf-8")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert any(line.startswith("Error: session s0: ") and "broken.vtt" in line for line in result.stderr.splitlines())
    assert (tmp_path / "transcripts" / "s1" / "render" / "s1.render.json").is_file()
    index = (tmp_path / "outputs" / "index.html").read_text(encoding="utf-8")
    assert "Séance d" in index
