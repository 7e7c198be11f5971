"""What makes a stage stale: each stage's inputs hash follows exactly what the stage reads."""

from __future__ import annotations

from pathlib import Path

from synthese.core.config import load_config
from synthese.stages import CycleRun, stage
from synthese.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def workspace_with(tmp_path: Path, replace: tuple[str, str] | None = None) -> Workspace:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    text = text.replace("transcripts/seance-introductive/seance-introductive.ogg", str(
        REPO / "transcripts" / "seance-introductive" / "seance-introductive.ogg"))
    text = text.replace("weights_file: themes.weights.yaml", f"weights_file: {REPO / 'themes.weights.yaml'}")
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    return Workspace(load_config(tmp_path / "config.yaml"))


def test_a_keyword_edit_retags_without_retranscribing(tmp_path):
    before = workspace_with(tmp_path)
    session = before.config.sessions[0]
    after = workspace_with(tmp_path, ('"sobriété", "sobre",', '"sobriété", "frugalité", "sobre",'))
    assert stage("transcribe").inputs_hash(after, session) == stage("transcribe").inputs_hash(before, session)
    assert stage("tag").inputs_hash(after, session) != stage("tag").inputs_hash(before, session)


def test_a_model_change_retranscribes(tmp_path):
    before = workspace_with(tmp_path)
    session = before.config.sessions[0]
    after = workspace_with(tmp_path, ("  model: base ", "  model: small "))
    assert stage("transcribe").inputs_hash(after, session) != stage("transcribe").inputs_hash(before, session)


def test_site_templates_do_not_make_documents_stale(tmp_path):
    from synthese.core.resources import default_templates_dir

    ws = workspace_with(tmp_path)
    session = ws.config.sessions[0]
    site_css = default_templates_dir() / "site" / "style.css"
    original = site_css.read_bytes()
    render_before, publish_before = stage("render").inputs_hash(ws, session), CycleRun(ws, [session]).publish_hash()
    try:
        site_css.write_bytes(original + b"\n/* edited */\n")
        assert stage("render").inputs_hash(ws, session) == render_before
        assert CycleRun(ws, [session]).publish_hash() != publish_before
    finally:
        site_css.write_bytes(original)


def test_stage_commands_and_run_agree_on_what_is_up_to_date(tmp_path):
    """`synthese transcribe/tag/render FILE` and `synthese run` hash a stage's inputs the same way,
    so a stage redone by hand is up to date for the next run."""
    from synthese.stages import render_inputs_hash, tag_inputs_hash, transcribe_inputs_hash

    ws = workspace_with(tmp_path)
    session = ws.config.sessions[0]
    paths = ws.paths(session)
    assert transcribe_inputs_hash(ws.config.source_of(session), ws.config, session.speakers) == \
        stage("transcribe").inputs_hash(ws, session)
    assert tag_inputs_hash(paths.transcript, paths.review, ws.config, session) == stage("tag").inputs_hash(ws, session)
    assert render_inputs_hash(paths.tags, session, ws.config) == stage("render").inputs_hash(ws, session)


def test_status_names_speech_left_untranscribed(tmp_path):
    from synthese.core.artefacts import Gap, SourceFile, Transcript

    ws = workspace_with(tmp_path)
    session = ws.config.sessions[0]
    paths = ws.paths(session)
    paths.folder.mkdir(parents=True, exist_ok=True)
    Transcript(source=SourceFile(file="s.ogg", sha256="x", kind="audio"), language="fr",
               gaps=[Gap(start=200.4, end=221.0, reason="no_speech_decoded"),
                     Gap(start=300.0, end=303.0, reason="other_language")]).save(paths.transcript)
    assert ws.transcript_notes(session) == [
        "speech not transcribed 00:03:20–00:03:41 (speech heard, no words could be decoded): listen to it on the "
        "review page",
        "speech not transcribed 00:05:00–00:05:03 (another language, no words could be decoded): listen to it on "
        "the review page",
    ]


def test_clearing_a_killed_runs_leftovers_spares_other_files_and_writes_in_progress(tmp_path):
    """Only part files named as ours and not being written now are removed: the review page writes
    the review file while its background job starts a run, which clears the leftovers."""
    from synthese.core.storage import atomic_path

    ws = workspace_with(tmp_path)
    session = ws.config.sessions[0]
    folder = ws.paths(session).folder
    (folder / "render").mkdir(parents=True)
    killed = folder / ".s1.tags.json.k3x_9a2q.part"
    killed_render = folder / "render" / ".s1.pdf.abcdefgh.part"
    mine = folder / ".mes-notes.part"  # the user's, not named as ours
    for path in (killed, killed_render, mine):
        path.write_text("x", encoding="utf-8")
    with atomic_path(folder / "s1.review.yaml") as writing:
        writing.write_text("en cours", encoding="utf-8")
        ws.clear_partial_files(session)
        assert writing.is_file()
    assert not killed.exists() and not killed_render.exists()
    assert mine.read_text(encoding="utf-8") == "x"
    assert (folder / "s1.review.yaml").read_text(encoding="utf-8") == "en cours"
