"""`synthese run`: every session brought up to date, each isolated from the others' failures."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

import synthese.files as files
import synthese.render as render_stage
import synthese.transcribe as transcribe_stage
from synthese.core.config import load_config
from synthese.core.errors import SyntheseError
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


@pytest.mark.slow
def test_an_unforeseen_error_in_one_session_spares_the_others(tmp_path, monkeypatch, caplog):
    config = load_config(two_sessions(tmp_path / "cycle"))
    real = render_stage.render_session

    def broken_for_s1(inputs, *args, **kwargs):
        if inputs.session.id == "s1":
            raise ValueError("something nobody foresaw")
        return real(inputs, *args, **kwargs)

    monkeypatch.setattr(render_stage, "render_session", broken_for_s1)
    report = run_all(config, quiet=True)
    assert report.failed == {"s1": "unexpected ValueError: something nobody foresaw (run with --debug for "
                                   "details and report it)"}
    assert report.done["s2"] == ["transcribe", "tag", "render"] and report.published
    outputs = tmp_path / "cycle" / "outputs"
    assert (outputs / "seances" / "s2.html").is_file() and not (outputs / "seances" / "s1.html").exists()
    assert "Error: session s1: unexpected ValueError" in caplog.text


def test_an_unforeseen_error_on_one_file_spares_the_others(tmp_path, monkeypatch, caplog):
    config = load_config(two_sessions(tmp_path / "cycle"))
    real = transcribe_stage.transcribe

    def broken_for_s1(source, *args, **kwargs):
        if source.name == "s1.vtt":
            raise ValueError("something nobody foresaw")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(transcribe_stage, "transcribe", broken_for_s1)
    sources = [tmp_path / "cycle" / "transcripts" / f"{name}.vtt" for name in ("s1", "s2")]
    out = tmp_path / "out"
    with pytest.raises(SyntheseError, match=r"1 of 2 input\(s\) failed: s1.vtt"):
        files.transcribe_files(sources, config, output_dir=out, quiet=True)
    assert (out / "s2.transcript.json").is_file() and not (out / "s1.transcript.json").exists()
    assert "s1.vtt: unexpected ValueError: something nobody foresaw" in caplog.text


def test_a_warning_of_the_tags_is_shown_once(tmp_path, caplog):
    config = load_config(two_sessions(tmp_path / "cycle"))
    cooking = ["La pâte doit reposer une heure au frais avant de l'étaler finement sur le plan de travail.",
               "On ajoute ensuite les pommes coupées en lamelles, le sucre et une pincée de cannelle.",
               "La cuisson dure quarante minutes dans un four chaud, jusqu'à ce que la croûte soit dorée."]
    vtt = tmp_path / "cuisine.vtt"
    vtt.write_text("WEBVTT\n\n" + "".join(f"00:00:{20 * i:02d}.000 --> 00:00:{20 * i + 18:02d}.000\n{text}\n\n"
                                          for i, text in enumerate(cooking)), encoding="utf-8")
    [transcript] = files.transcribe_files([vtt], config, output_dir=tmp_path / "out", quiet=True)
    files.tag_file(transcript, config)
    shown = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "no theme" in r.getMessage()]
    assert shown == ["cuisine: 1 of 1 passages (100 %) have no theme of the cycle: check that the session belongs "
                     "to the cycle, or add the themes it discusses to config.yaml's themes"]


@pytest.mark.slow
def test_the_cli_reports_the_failed_session_and_exits_1(tmp_path, cli):
    config = two_sessions(tmp_path / "cycle")
    (tmp_path / "cycle" / "transcripts" / "s1.vtt").write_text("WEBVTT\n\n00:00:01.000 --> du texte\n", encoding="utf-8")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert "Error: session s1: s1.vtt, line 3: broken cue timing" in result.stderr
    assert result.stderr.strip().endswith("Error: 1 session(s) failed: s1 (see the messages above); the others "
                                          "are published.")
    assert (tmp_path / "cycle" / "outputs" / "seances" / "s2.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("output_dir", [".", "transcripts"])
def test_run_never_publishes_over_the_project(tmp_path, cli, output_dir):
    config = two_sessions(tmp_path / "cycle")
    config.write_text(config.read_text(encoding="utf-8").replace("output_dir: outputs", f"output_dir: \"{output_dir}\""),
                      encoding="utf-8")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert "publish.output_dir" in result.stderr and "would replace" in result.stderr
    assert config.is_file() and (tmp_path / "cycle" / "transcripts" / "s1.vtt").is_file()


@pytest.mark.slow
def test_a_voice_named_in_the_review_file_is_renamed_everywhere(tmp_path):
    """Speaker labels come from diarization ("Intervenant N"); a name given in the review file
    replaces the label in the PDF, the DOCX, the HTML, the site and its subtitles."""
    import docx
    from pypdf import PdfReader

    from synthese.core.artefacts import Segment, SourceFile, Transcript

    config_path = create_cycle_folder(tmp_path / "cycle")
    said = ["La sobriété numérique commence par mesurer la consommation énergétique des serveurs.",
            "Les collectivités doivent encadrer les opérateurs par la loi et par le contrat.",
            "Les habitants éloignés du numérique ont besoin de médiateurs dans les quartiers."]
    segments = [Segment(id=i, start=10.0 * i, end=10.0 * i + 9, text=text, speaker=f"Intervenant {i % 2 + 1}")
                for i, text in enumerate(said * 3)]
    Transcript(source=SourceFile(file="s1.ogg", sha256="0", kind="audio"), language="fr", duration_s=90,
               segments=segments).save(tmp_path / "cycle" / "transcripts" / "s1.json")
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("sessions: []\n", (
        "sessions:\n  - id: s1\n    number: 1\n    title: \"Essai\"\n    transcript: transcripts/s1.json\n")),
        encoding="utf-8")
    config = load_config(config_path)
    assert not run_all(config, quiet=True).failed
    review = tmp_path / "cycle" / "transcripts" / "s1" / "s1.review.yaml"
    review.write_text(review.read_text(encoding="utf-8").replace("speakers: {}", "speakers:\n  Intervenant 2: Zoé Martin"),
                      encoding="utf-8")
    assert not run_all(config, quiet=True).failed
    render = tmp_path / "cycle" / "transcripts" / "s1" / "render"
    outputs = tmp_path / "cycle" / "outputs"
    texts = {
        "pdf": "".join(page.extract_text() for page in PdfReader(render / "s1.pdf").pages),
        "docx": "\n".join(p.text for p in docx.Document(str(render / "s1.docx")).paragraphs),
        "html": (render / "s1.html").read_text(encoding="utf-8"),
        "site": (outputs / "seances" / "s1.html").read_text(encoding="utf-8"),
        "subtitles": (outputs / "seances" / "s1" / "s1.vtt").read_text(encoding="utf-8"),
    }
    for where, text in texts.items():
        assert "Zoé Martin" in text, where
        assert "Intervenant 2" not in text, where
    assert "<v Zoé Martin>" in texts["subtitles"] and "<v Intervenant 1>" in texts["subtitles"]


@pytest.mark.slow
def test_status_reports_a_stale_voice_name(tmp_path, cli):
    config = two_sessions(tmp_path / "cycle")
    assert cli("--config", str(config), "run").returncode == 0
    review = tmp_path / "cycle" / "transcripts" / "s1" / "s1.review.yaml"
    review.write_text(review.read_text(encoding="utf-8").replace("speakers: {}", "speakers:\n  Intervenant 7: Zoé"),
                      encoding="utf-8")
    run = cli("--config", str(config), "run")
    assert run.returncode == 0
    assert 'speakers: "Intervenant 7" (line ' in run.stderr and "kept in the file but not applied" in run.stderr
    status = cli("--config", str(config), "status")
    assert ('Note: session s1: review decision not applied: speakers: "Intervenant 7"' in status.stdout)
    assert "Intervenant 7: Zoé" in review.read_text(encoding="utf-8")  # never dropped


# --- the tool never writes over an input -------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["vtt", "srt", "txt"])
def test_an_imported_transcript_in_the_session_folder_is_never_overwritten(tmp_path, suffix):
    """`transcript: transcripts/s1/s1.vtt` (the path `synthese init` suggests) stays the author's
    file: the machine's captions go to s1.machine.vtt, and the next run imports the same text."""
    from synthese.stages import stage
    from synthese.workspace import Workspace

    config_path = create_cycle_folder(tmp_path / "cycle")
    folder = tmp_path / "cycle" / "transcripts" / "s1"
    folder.mkdir()
    source = folder / f"s1.{suffix}"
    original = {"vtt": (DATA / "teams.vtt").read_bytes(), "srt": (DATA / "zoom.srt").read_bytes(),
                "txt": (DATA / "notes.txt").read_bytes()}[suffix]
    source.write_bytes(original)
    config_path.write_text(config_path.read_text(encoding="utf-8").replace("sessions: []\n", (
        f"sessions:\n  - id: s1\n    number: 1\n    title: \"Essai\"\n    transcript: transcripts/s1/s1.{suffix}\n")),
        encoding="utf-8")
    config = load_config(config_path)
    assert not run_all(config, quiet=True).failed
    assert source.read_bytes() == original
    assert {p.name for p in folder.glob("s1.machine.*")} == {"s1.machine.vtt", "s1.machine.srt", "s1.machine.txt"}
    assert run_all(config, quiet=True).done == {"s1": []}  # nothing changed, nothing redone
    assert source.read_bytes() == original
    assert stage("transcribe").artefact(Workspace(config).paths(config.sessions[0])).is_file()


@pytest.mark.slow
def test_an_input_where_an_output_goes_is_refused_and_left_alone(tmp_path):
    config_path = two_sessions(tmp_path / "cycle")
    folder = tmp_path / "cycle" / "transcripts" / "s1"
    folder.mkdir()
    source = folder / "s1.machine.vtt"
    source.write_bytes((DATA / "teams.vtt").read_bytes())
    config_path.write_text(config_path.read_text(encoding="utf-8").replace(
        "transcript: transcripts/s1.vtt", "transcript: transcripts/s1/s1.machine.vtt"), encoding="utf-8")
    report = run_all(load_config(config_path), quiet=True)
    assert report.failed["s1"].startswith(
        "config.yaml, line ")
    assert ("sessions[0].transcript is transcripts/s1/s1.machine.vtt, where Synthèse writes its own s1.machine.vtt: "
            "it would be overwritten. Move or rename that file") in report.failed["s1"]
    assert source.read_bytes() == (DATA / "teams.vtt").read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["s1.machine.vtt"]
    assert report.done["s2"] == ["transcribe", "tag", "render"] and report.published


def test_transcribe_never_writes_over_its_input(tmp_path, cli):
    """`synthese transcribe DIR/x.transcript.json -o DIR` would write x.transcript.json over itself."""
    own = tmp_path / "own.transcript.json"
    own.write_bytes((DATA / "own.transcript.json").read_bytes())
    config = create_cycle_folder(tmp_path / "cycle")
    result = cli("--config", str(config), "transcribe", str(own), "-o", str(tmp_path))
    assert result.returncode == 1
    assert (f"Error: {own}: Synthèse would write its own.transcript.json over this input. Choose another output "
            "folder (-o DIR), or rename the input.") in result.stderr
    assert own.read_bytes() == (DATA / "own.transcript.json").read_bytes()
