"""`synthese run`: every session brought up to date, each isolated from the others' failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synthese import rendering
from synthese.config import load_config
from synthese.run import run_all
from synthese.scaffold import create_cycle_folder

DATA = Path(__file__).resolve().parent / "data"


def two_sessions(folder: Path) -> Path:
    config = create_cycle_folder(folder)
    for name in ("s1", "s2"):
        shutil.copy(DATA / "teams.vtt", folder / "transcripts" / f"{name}.vtt")
    text = config.read_text(encoding="utf-8").replace("sessions: []\n", "sessions:\n" + "".join(
        f"  - id: {name}\n    number: {n}\n    title: \"Séance {n}\"\n    transcript: transcripts/{name}.vtt\n"
        for n, name in ((1, "s1"), (2, "s2"))))
    config.write_text(text, encoding="utf-8")
    return config


def test_an_unforeseen_error_in_one_session_spares_the_others(tmp_path, monkeypatch, caplog):
    config = load_config(two_sessions(tmp_path / "cycle"))
    real = rendering.render_session

    def broken_for_s1(inputs, *args, **kwargs):
        if inputs.session.id == "s1":
            raise ValueError("something nobody foresaw")
        return real(inputs, *args, **kwargs)

    monkeypatch.setattr(rendering, "render_session", broken_for_s1)
    report = run_all(config, quiet=True)
    assert report.failed == {"s1": "unexpected ValueError: something nobody foresaw (run with --debug for "
                                   "details and report it)"}
    assert report.done["s2"] == ["transcribe", "tag", "render"] and report.published
    outputs = tmp_path / "cycle" / "outputs"
    assert (outputs / "seances" / "s2.html").is_file() and not (outputs / "seances" / "s1.html").exists()
    assert "Error: session s1: unexpected ValueError" in caplog.text


def test_the_cli_reports_the_failed_session_and_exits_1(tmp_path, cli):
    config = two_sessions(tmp_path / "cycle")
    (tmp_path / "cycle" / "transcripts" / "s1.vtt").write_text("WEBVTT\n\n00:00:01.000 --> du texte\n", encoding="utf-8")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert "Error: session s1: s1.vtt, line 3: broken cue timing" in result.stderr
    assert result.stderr.strip().endswith("Error: 1 session(s) failed: s1 (see the messages above); the others "
                                          "are published.")
    assert (tmp_path / "cycle" / "outputs" / "seances" / "s2.html").is_file()


@pytest.mark.parametrize("output_dir", [".", "transcripts"])
def test_run_never_publishes_over_the_project(tmp_path, cli, output_dir):
    config = two_sessions(tmp_path / "cycle")
    config.write_text(config.read_text(encoding="utf-8").replace("output_dir: outputs", f"output_dir: \"{output_dir}\""),
                      encoding="utf-8")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert "publish.output_dir" in result.stderr and "would replace" in result.stderr
    assert config.is_file() and (tmp_path / "cycle" / "transcripts" / "s1.vtt").is_file()
