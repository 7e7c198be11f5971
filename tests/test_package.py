"""The installable package: a wheel that runs from anywhere, typed artefacts with versioned
schemas, a library API, `synthese init` and templates a cycle can override (the layout's
rules are in test_architecture.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from synthese import __version__
from synthese.core.artefacts import RenderManifest, SiteManifest, Tags, Transcript
from synthese.core.config import load_config
from synthese.core.errors import ArtefactError, SyntheseError
from synthese.scaffold import create_cycle_folder

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"


def cycle_with_one_imported_session(folder: Path) -> Path:
    """A cycle made by `synthese init`, with one session imported from captions."""
    config = create_cycle_folder(folder)
    shutil.copy(DATA / "teams.vtt", folder / "transcripts" / "teams.vtt")
    text = config.read_text(encoding="utf-8").replace("sessions: []\n", (
        "sessions:\n  - id: seance-1\n    number: 1\n    date: 2022-03-17\n    title: \"Essai\"\n"
        "    transcript: transcripts/teams.vtt\n"))
    config.write_text(text, encoding="utf-8")
    return config


# --- the wheel ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
                   check=True, capture_output=True, timeout=600)
    [built] = out.glob("synthese-*.whl")
    return built


def test_the_wheel_carries_the_templates_and_wording(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("synthese/cli.py", "synthese/templates/wording.fr.yaml", "synthese/templates/review.fr.yaml",
                 "synthese/templates/synthese.css", "synthese/templates/synthese_body.html.j2",
                 "synthese/templates/site/base.html.j2", "synthese/templates/site/style.css",
                 "synthese/templates/init/config.yaml"):
        assert name in names, name
    assert not [n for n in names if n.startswith("pipeline/")]


@pytest.mark.slow
def test_an_installed_wheel_runs_from_another_folder(wheel, tmp_path):
    """`pip install` of the wheel (not editable) into a fresh environment, then `synthese run` on a
    cycle elsewhere, started from a third folder: the same documents as this checkout makes."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        check=True, capture_output=True, text=True).stdout.strip())
    # The dependencies come from this environment (a path entry: its .pth files, among them
    # this checkout's editable install, are not read); Synthèse itself only from the wheel.
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    where = subprocess.run([str(python), "-c", "import synthese; print(synthese.__file__)"], check=True,
                           capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert Path(where).is_relative_to(site_packages), where

    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    installed = cycle_with_one_imported_session(tmp_path / "installed")
    result = subprocess.run([str(venv / "bin" / "synthese"), "--config", str(installed), "run"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    outputs = installed.parent / "outputs"
    for name in ("index.html", "site.json", "seances/seance-1.html", "seances/seance-1/seance-1.pdf",
                 "seances/seance-1/seance-1.docx", "seances/seance-1/seance-1.html", "cycle/cycle.pdf"):
        assert (outputs / name).is_file(), name
    assert not list(elsewhere.iterdir())  # nothing written where it was started

    editable = cycle_with_one_imported_session(tmp_path / "editable")
    result = subprocess.run([sys.executable, "-m", "synthese", "--config", str(editable), "run"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    same = editable.parent / "outputs"
    assert json.loads((outputs / "site.json").read_text())["files"].keys() == \
        json.loads((same / "site.json").read_text())["files"].keys()
    for name in ("seances/seance-1/seance-1.html", "index.html", "themes/sobriete.html"):
        assert (outputs / name).read_bytes() == (same / name).read_bytes(), name


def test_version_and_module_entry_point(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"synthese, version {__version__}"


# --- typed, versioned artefacts ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [
    ("render_sample.tags.json", Tags), ("render_sample.transcript.json", Transcript),
    ("tag_sample.transcript.json", Transcript), ("own.transcript.json", Transcript),
])
def test_golden_inputs_have_the_current_shape(name, kind):
    """Fixtures are artefacts as this version writes them: loading checks every key."""
    data = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert data["schema"] == kind.SCHEMA
    artefact = kind.load(DATA / name)
    assert json.loads(artefact.model_dump_json(by_alias=True)) == data


def test_a_transcript_of_the_previous_version_is_migrated(tmp_path):
    old = {"schema": "synthese.transcript/1", "generator": "synthese 0.1.0", "created": "2026-01-01T00:00:00+00:00",
           "inputs_hash": "h", "options": {}, "source": {"file": "a.ogg", "sha256": "0", "kind": "audio"},
           "language": "fr", "language_probability": 0.9, "duration_s": 4.0, "model": None,
           "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": "Bonjour à tous", "speaker": None,
                         "words": [{"start": 0.0, "end": 0.8, "word": " Bonjour"}, {"start": 0.9, "end": 1.2, "word": " à"},
                                   {"start": 1.3, "end": 2.0, "word": " tous"}]}],
           "dropped": {"repetition": 0, "silence": 0, "backwards": 0}, "warnings": []}
    path = tmp_path / "a.transcript.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    transcript = Transcript.load(path)
    assert transcript.schema_ == "synthese.transcript/2" and transcript.gaps == []
    assert [w.text for w in transcript.segments[0].words] == ["Bonjour", "à", "tous"]


@pytest.mark.parametrize(("kind", "content", "message"), [
    (Tags, {"schema": "synthese.tags/1"}, "written by an older version of Synthèse (synthese.tags/1; this one reads "
                                          "synthese.tags/2). Re-run the tag stage: `synthese run --force`."),
    (Tags, {"schema": "synthese.tags/3"}, "written by a newer version of Synthèse (synthese.tags/3; this one reads "
                                          "synthese.tags/2). Update Synthèse, or re-run the tag stage."),
    (RenderManifest, {"schema": "synthese.site/2"}, "expected a render artefact (synthese.render/2), found schema "
                                                    "'synthese.site/2'. Pass the file the render stage wrote."),
    (SiteManifest, [1, 2], "expected a publish artefact (synthese.site/3), found no schema. Pass the file the "
                           "publish stage wrote."),
    (Tags, {"schema": "synthese.tags/2", "transcript": "t", "codebook": {"version": "v", "themes": []},
            "review": {"file": "r", "status": "relu"}},
     "review.status: Input should be 'reviewed' or 'not reviewed'. Re-run the tag stage to rebuild it"),
])
def test_an_artefact_of_another_kind_or_version_is_a_clear_error(tmp_path, kind, content, message):
    path = tmp_path / "x.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ArtefactError) as error:
        kind.load(path)
    assert str(error.value).startswith(f"{path}: {message}")


# --- the library API, as the README shows it ----------------------------------------------------------

@pytest.mark.slow
def test_the_readme_library_example_runs(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    config = cycle_with_one_imported_session(tmp_path / "cycle")
    monkeypatch.chdir(config.parent)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    manifest = namespace["manifest"]
    assert isinstance(manifest, RenderManifest)
    assert set(manifest.files) == {"pdf", "docx", "odt", "html", "vtt"}  # vtt: the reviewed subtitles
    assert all((config.parent / "out" / name).is_file() for name in manifest.files.values())


# --- synthese init, and templates a cycle overrides -------------------------------------------------------

def test_init_makes_a_cycle_folder_with_the_codebook(tmp_path, cli):
    folder = tmp_path / "cycle-2026"
    result = cli("init", str(folder), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (folder / "transcripts").is_dir() and (folder / "outputs").is_dir()
    config = load_config(folder / "config.yaml")
    assert config.sessions == []
    # The scaffold carries this repository's codebook and settings (when config.yaml or
    # themes.weights.yaml change, copy them into templates/init/, without the sessions).
    repository = load_config(REPO / "config.yaml")
    assert config.themes == repository.themes and config.acronyms == repository.acronyms
    for section in ("transcribe", "tag", "render", "publish"):
        assert getattr(config, section) == getattr(repository, section), section
    assert (folder / "themes.weights.yaml").read_bytes() == (REPO / "themes.weights.yaml").read_bytes()
    assert (folder / "config.yaml").read_text(encoding="utf-8").count("\n#") > 10  # commented for staff
    again = cli("init", str(folder), cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.strip() == (f"Error: {folder / 'config.yaml'} already exists: `synthese init` never "
                                    "overwrites a configuration. Choose a new folder, or edit that file.")


def test_a_cycle_can_override_templates_and_wording(tmp_path):
    from synthese.files import render_file, tag_file, transcribe_files

    config_path = cycle_with_one_imported_session(tmp_path / "cycle")
    own = tmp_path / "cycle" / "gabarits"
    own.mkdir()
    (own / "wording.fr.yaml").write_text('document_kind: "Compte rendu"\n', encoding="utf-8")
    (own / "synthese.css").write_text("body { color: #123456; }\n", encoding="utf-8")
    text = config_path.read_text(encoding="utf-8").replace("  transcript_annex: true\n",
                                                           "  transcript_annex: true\n  templates: gabarits\n")
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    [transcript] = transcribe_files([config.source_of(config.sessions[0])], config, output_dir=tmp_path / "t")
    manifest = render_file(tag_file(transcript, config), config, formats=["html"])
    page = (manifest.parent / "teams.html").read_text(encoding="utf-8")
    assert "<title>Compte rendu · " in page and "#123456" in page
    assert "Vue d’ensemble" in page  # the other wording comes from the package

    missing = yaml.safe_load(text)
    missing["render"]["templates"] = "absent"
    config_path.write_text(yaml.safe_dump(missing, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SyntheseError, match=r"render.templates: folder not found: absent"):
        _ = load_config(config_path).templates
