"""The command line: help for every command, and the exact messages for a bad config.yaml."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthese.cli import cli as synthese_cli

COMMANDS = ["run", "transcribe", "tag", "render", "publish", "status", "approve", "serve"]

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
    from synthese.core.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "config.yaml")
    assert [t.id for t in config.themes] == [
        "sobriete", "instrumentation", "gouvernance", "entreprises", "vulnerabilites", "societes"
    ]
    sample = config.session("seance-introductive")
    assert config.source_of(sample).is_file()


# --- configuration values ------------------------------------------------------------------------

def test_cycle_url_must_be_a_web_address(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace(
        '  organiser: "Organisme"', '  organiser: "Organisme"\n  url: "javascript:alert(1)"'))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr == ("Error: config.yaml, line 4: cycle.url: 'javascript:alert(1)' must be an http(s) "
                             "address, e.g. 'https://example.org/page'.\n")


def test_replay_url_is_checked_the_same_way(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace(
        "    transcript: s1.vtt", "    transcript: s1.vtt\n    replay_url: \"https://example.org/a b\""))
    result = cli("--config", str(config), "status")
    assert result.stderr == ("Error: config.yaml, line 8: sessions[0].replay_url: 'https://example.org/a b' must be "
                             "an http(s) address, e.g. 'https://example.org/page'.\n")


@pytest.mark.parametrize("address", ["https://example.org/replays/s1", "http://www.example.com/v", "https://example.net",
                                     "http://localhost:8000/replay", "https://videos.example/s1"])
def test_a_placeholder_replay_url_is_refused_with_its_line(cli, tmp_path, address):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace(
        "    transcript: s1.vtt", f"    transcript: s1.vtt\n    replay_url: \"{address}\""))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: config.yaml, line 8: sessions[0].replay_url: '{address}' is a placeholder")
    assert "give the address where readers can watch the replay, or remove replay_url" in result.stderr
    assert result.stderr.count("\n") == 1


def test_impossible_date_names_its_line(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace("    transcript: s1.vtt",
                                                              "    transcript: s1.vtt\n    date: 2022-13-45"))
    result = cli("--config", str(config), "status")
    assert result.returncode == 1
    assert result.stderr == ("Error: config.yaml, line 8: sessions[0].date: Input should be a valid date or "
                             "datetime, month value is outside expected range of 1-12.\n")


def test_duplicate_key_names_both_lines(cli, tmp_path):
    config = write_workspace(tmp_path, MINIMAL_CONFIG.replace('  organiser: "Organisme"',
                                                              '  organiser: "Organisme"\n  title: "Autre"'))
    result = cli("--config", str(config), "status")
    assert result.stderr == ("Error: config.yaml, line 4: key 'title' is given twice in the same place "
                             "(lines 2 and 4). Keep one of them.\n")


# --- usage and misuse ----------------------------------------------------------------------------

def test_usage_errors_exit_1_with_clicks_message(cli):
    result = cli("tag", "--no-such-option")
    assert result.returncode == 1
    assert result.stderr.endswith("Error: No such option '--no-such-option'.\n")
    assert cli().returncode == 0  # `synthese` alone shows the help


def test_tag_on_captions_says_to_import_them_first(cli, tmp_path):
    config = write_workspace(tmp_path)
    result = cli("--config", str(config), "tag", str(tmp_path / "s1.vtt"))
    assert result.returncode == 1
    assert result.stderr == (f"Error: s1.vtt: `synthese tag` reads a .transcript.json file. Import this one first "
                             f"with `synthese transcribe {tmp_path / 's1.vtt'}`, then tag the .transcript.json it "
                             "writes.\n")


def test_binary_captions_give_one_short_error_line(cli, tmp_path):
    config = write_workspace(tmp_path)
    (tmp_path / "binary.srt").write_bytes(bytes(range(256)) * 400)
    result = cli("--config", str(config), "transcribe", str(tmp_path / "binary.srt"), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Error: binary.srt: this is not a text file (it contains NUL bytes, as binary files do). Check that it is "
        "the transcript; export it again as text.",
        "Error: 1 of 1 input(s) failed: binary.srt (see the messages above); the others were written.",
    ]


def test_a_word_file_with_an_entity_bomb_stops_only_itself(cli, tmp_path):
    from test_limits import entity_bomb_docx

    config = write_workspace(tmp_path)
    bomb = entity_bomb_docx(Path(__file__).parent / "data" / "notes.docx", tmp_path / "bomb.docx")
    out = tmp_path / "out"
    result = cli("--config", str(config), "transcribe", str(bomb), str(tmp_path / "s1.vtt"), "-o", str(out))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert errors[0].startswith("Error: bomb.docx: cannot read this Word file (")
    assert errors[1] == "Error: 1 of 2 input(s) failed: bomb.docx (see the messages above); the others were written."
    assert (out / "s1.transcript.json").is_file()


def test_escape_sequences_written_in_files_never_reach_the_terminal(cli, tmp_path):
    """File names, and names or themes written by hand, are quoted in warnings and errors: their
    control characters are printed as escapes, never sent to the terminal as sequences."""
    config = write_workspace(tmp_path)
    hostile = tmp_path / "s\x1b]0;pwned\x07\x1b[2J.vtt"  # set the window title, clear the screen
    hostile.write_text("WEBVTT\n\n00:00:05.000 --> 00:00:06.000\nDeux.\n\n00:00:01.000 --> 00:00:02.000\nUn.\n",
                       encoding="utf-8")
    result = cli("--config", str(config), "transcribe", str(hostile), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert "s\\x1b]0;pwned\\x07\\x1b[2J.vtt: 1 cue(s) out of time order" in result.stderr
    result = cli("--config", str(tmp_path / "c\x1b[31m.yaml"), "status")
    assert result.stderr == f"Error: {tmp_path}/c\\x1b[31m.yaml: configuration file not found. Run from the project " \
                            "folder or pass --config PATH.\n"
    from synthese.core.artefacts import Tags

    tags = Tags.load(Path(__file__).parent / "data" / "render_sample.tags.json")
    tags.review.orphaned = ["reject \x1b[31mrouge\x1b[0m on \"00:00:05 x\" (line 3): unknown theme"]
    tags.warnings = [f"review decision not applied: {o}" for o in tags.review.orphaned]  # as the tagger writes them
    (tmp_path / "transcripts" / "s1").mkdir(parents=True)
    tags.save(tmp_path / "transcripts" / "s1" / "s1.tags.json")
    result = cli("--config", str(config), "status")
    assert "Note: session s1: review decision not applied: reject \\x1b[31mrouge\\x1b[0m on" in result.stdout
    for output in (result.stdout, result.stderr):
        assert "\x1b" not in output and "\x07" not in output


def test_a_session_file_linked_from_outside_the_project_is_refused(cli, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    config = write_workspace(project)
    (project / "s1.vtt").unlink()
    (project / "s1.vtt").symlink_to("/etc/hostname")
    result = cli("--config", str(config), "run")
    assert result.returncode == 1
    assert (f"Error: session s1: config.yaml, line 7: sessions[0].transcript: {project / 's1.vtt'}: is a symbolic "
            "link to /etc/hostname, outside the project folder") in result.stderr
    assert not list(project.glob("transcripts/s1/*.txt"))


@pytest.mark.parametrize("command", ["tag", "render"])
def test_tag_and_render_wait_for_no_one_but_refuse_during_a_run(cli, tmp_path, command):
    config = write_workspace(tmp_path)
    code = ("import sys, time\nfrom synthese.core.config import load_config\nfrom synthese.workspace import Workspace\n"
            f"with Workspace(load_config({str(config)!r})).lock():\n    print('locked', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        name = "s1.transcript.json" if command == "tag" else "s1.tags.json"
        result = cli("--config", str(config), command, str(tmp_path / "transcripts" / "s1" / name))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert result.stderr == (f"Error: {tmp_path / '.synthese.lock'}: another synthese run (pid {holder.pid}) is "
                             "working in this folder. Wait for it to finish, then run again.\n")


# --- the machine: fonts, Pango, disks ------------------------------------------------------------

def test_no_fonts_gives_an_error_line_not_a_crash(tmp_path, repo):
    """With no font, Pango crashes the process (a segmentation fault) when WeasyPrint lays out a PDF."""
    fonts_conf = tmp_path / "fonts.conf"
    fonts_conf.write_text(f'<?xml version="1.0"?>\n<fontconfig><cachedir>{tmp_path}/cache</cachedir></fontconfig>\n')
    result = subprocess.run(
        [sys.executable, "-m", "synthese", "--config", str(repo / "tests/data/render_config.yaml"), "render",
         str(repo / "tests/data/render_sample.tags.json"), "-o", str(tmp_path / "out"), "--formats", "pdf"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "FONTCONFIG_FILE": str(fonts_conf)},
    )
    assert result.returncode == 1
    assert result.stderr == ("Error: no font is installed on this computer, so the PDF cannot be laid out. Install "
                             "one: `apt-get install fonts-dejavu-core` (Debian, Ubuntu), then run again.\n")
    assert not (tmp_path / "out").exists()


def test_missing_pango_names_the_packages(monkeypatch):
    from synthese.core import environment
    from synthese.core.errors import DependencyError

    def no_pango(name):
        raise OSError("cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: "
                      "No such file or directory.  Additionally, ctypes.util.find_library() did not manage to "
                      "locate a library called 'libpango-1.0-0'")

    monkeypatch.setattr(environment.importlib, "import_module", no_pango)
    with pytest.raises(DependencyError) as error:
        environment.load_weasyprint()
    assert str(error.value).startswith("WeasyPrint cannot load the Pango library it lays out the PDF with "
                                       "(cannot load library 'libpango-1.0-0': ")
    assert str(error.value).endswith("Install it: `apt-get install libpango-1.0-0 libpangoft2-1.0-0`, then run again.")


@pytest.mark.parametrize("code, message", [
    (errno.ENOSPC, "no space left on the disk in {folder} (`df -h {folder}` shows it). Free some space, then run "
                   "the same command again: finished stages are kept."),
    (errno.EROFS, "cannot write in {folder}: it is on a read-only file system. Run from a folder you can write to "
                  "(or make that disk writable), then run again."),
    (errno.EACCES, "permission denied on {file}. Give your user the right to read and write {folder}, or run "
                   "from a folder you own."),
])
def test_disk_errors_are_one_plain_line(tmp_path, monkeypatch, code, message):
    """Wherever a stage hits a full disk or a read-only folder, the command says what to free or fix."""
    from click.testing import CliRunner

    from synthese import files

    folder = tmp_path / "render"
    folder.mkdir()

    def failing(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(folder / "s1.pdf"))

    monkeypatch.setattr(files, "render_file", failing)
    config = write_workspace(tmp_path)
    result = CliRunner().invoke(synthese_cli, ["--config", str(config), "render", str(tmp_path / "s1.tags.json")])
    assert result.exit_code == 1
    assert result.output == "Error: " + message.format(folder=folder, file=folder / "s1.pdf") + "\n"


def test_a_full_disk_while_writing_names_the_file_and_folder(tmp_path, monkeypatch):
    from synthese.core import storage
    from synthese.core.errors import StorageError

    # The temporary file is opened on /dev/full, where every write fails as on a full disk.
    monkeypatch.setattr(storage, "_no_follow", lambda path, flags: os.open("/dev/full", os.O_WRONLY))
    with pytest.raises(StorageError) as error:
        storage.write_json(tmp_path / "s1.tags.json", {"schema": "x"})
    assert str(error.value) == (f"writing s1.tags.json: no space left on the disk in {tmp_path} (`df -h {tmp_path}` "
                                "shows it). Free some space, then run the same command again: finished stages are "
                                "kept.")
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_a_read_only_folder_names_it(tmp_path, monkeypatch):
    from synthese.core import storage
    from synthese.core.errors import StorageError

    def read_only(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/.x.part")

    monkeypatch.setattr(storage.tempfile, "mkstemp", read_only)
    with pytest.raises(StorageError) as error:
        storage.write_text(tmp_path / "s1.vtt", "WEBVTT\n")
    assert str(error.value) == (f"writing s1.vtt: cannot write in {tmp_path}: it is on a read-only file system. Run "
                                "from a folder you can write to (or make that disk writable), then run again.")
