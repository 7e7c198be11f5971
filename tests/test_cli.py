"""The command line: help for every command, and the exact messages for a bad config.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from synthese.cli import cli as synthese_cli

COMMANDS = ["run", "transcribe", "tag", "render", "publish", "status", "serve"]

MINIMAL_CONFIG = """\
cycle:
  title: "Cycle d'essai"
  organiser: "Organisme"
sessions:
  - id: s1
    title: "Séance d'essai"
    transcript: s1.vtt
themes:
  - id: sobriete
    label: "Sobriété"
    description: "Consommation énergétique du numérique."
    keywords: ["énergie"]
"""

VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Alice Martin>La consommation d'énergie des centres de données augmente.
"""


def write_workspace(tmp_path: Path, config_text: str = MINIMAL_CONFIG) -> Path:
    (tmp_path / "s1.vtt").write_text(VTT, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(config_text, encoding="utf-8")
    return config


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: synthese {command}")
    summary = synthese_cli.commands[command].help.split("\n\n")[0]
    assert " ".join(summary.split()) in " ".join(result.stdout.split())


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from synthese.cli import cli\n"
        "for args in (['--help'], ['run', '--help'], ['transcribe', '--help']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "heavy = {'faster_whisper', 'ctranslate2', 'spacy', 'weasyprint', 'docx', 'matplotlib'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_unknown_key_names_file_line_and_key(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace('    title: "Séance', '    titel: "x"\n    title: "Séance'))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr == (
        "Error: config.yaml, line 6: unknown key 'titel' in sessions[0]. Remove it or fix its spelling.\n"
    )


def test_unknown_top_level_key(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG + "sessons: []\n")
    result = cli("--config", str(config), "status")
    assert result.stderr == "Error: config.yaml, line 13: unknown key 'sessons'. Remove it or fix its spelling.\n"


def test_yaml_syntax_error_names_line(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace('organiser: "Organisme"', 'organiser: "Organisme'))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: config.yaml, line 6: YAML syntax error: ")
    assert result.stderr.endswith("Check the indentation and quoting there.\n")
    assert "Traceback" not in result.stderr


def test_wrong_type_names_key(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG + "tag:\n  excerpts_per_theme: beaucoup\n")
    result = cli("--config", str(config), "status")
    assert result.stderr == (
        "Error: config.yaml, line 14: tag.excerpts_per_theme: Input should be a valid integer, "
        "unable to parse string as an integer.\n"
    )


def test_duplicate_session_ids(cli, tmp_path):
    duplicate = MINIMAL_CONFIG.replace("themes:", '  - id: s1\n    title: "Autre"\n    transcript: s1.vtt\nthemes:')
    config = write_workspace(tmp_path, duplicate)
    result = cli("--config", str(config), "status")
    assert result.stderr == "Error: config.yaml, line 4: sessions: duplicate session id 's1': each must be unique.\n"


def test_theme_without_keywords(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace('["énergie"]', "[]"))
    result = cli("--config", str(config), "status")
    assert result.stderr == (
        "Error: config.yaml, line 12: themes[0].keywords: a theme needs at least one keyword.\n"
    )


@pytest.mark.parametrize("session_id", ["../evil", "/etc", "Séance 1", "a/b"])
def test_session_id_cannot_escape_folders(cli, tmp_path, session_id):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace("id: s1", f'id: "{session_id}"'))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: config.yaml, line 5: sessions[0].id: session id ")


def test_missing_media_file_names_key_and_line(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace("transcript: s1.vtt", "media: absent.ogg"))
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert (
        "Error: session s1: config.yaml, line 7: sessions[0].media: file not found: absent.ogg. "
        "Fix the path (relative to config.yaml) or put the file there.\n"
    ) in result.stderr
    assert result.stderr.endswith(
        "Error: 1 session(s) failed: s1 (see the messages above); the others are published.\n"
    )


def test_missing_config_file(cli, tmp_path):
    result = cli("--config", str(tmp_path / "nope.yaml"), "status")
    assert result.stderr == (
        f"Error: {tmp_path / 'nope.yaml'}: configuration file not found. "
        "Run from the project folder or pass --config PATH.\n"
    )


def test_unknown_session_id(cli, tmp_path):
    config = write_workspace(tmp_path)
    result = cli("--config", str(config), "run", "s9")
    assert result.stderr == "Error: config.yaml: no session with id 's9' (known: s1)\n"


def test_repository_config_is_valid():
    from synthese.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    assert [t.id for t in config.themes] == [
        "sobriete", "instrumentation", "gouvernance", "entreprises", "vulnerabilites", "societes"
    ]
    sample = config.session("seance-introductive")
    assert config.source_of(sample).is_file()
