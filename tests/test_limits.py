"""Hostile and huge inputs are bounded (pipeline/limits.py): each gives one clear error, fast,
instead of hours of work, gigabytes of memory, a hang or a crash later in the pipeline.

Bombs run in milliseconds here: either the limit is monkeypatched small, or the bomb only claims
its size (a zip directory that declares gigabytes) and the check must refuse it before reading.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import struct
import threading
import time
import zipfile
from pathlib import Path

import pytest

from synthese.core import limits
from synthese.core.artefacts import Tags
from synthese.core.config import load_config
from synthese.core.errors import ConfigError, InputError, SyntheseError
from synthese.core.storage import read_json
from synthese.transcribe.importers import import_transcript

DATA = Path(__file__).resolve().parent / "data"

CONFIG = """\
cycle: {title: "Cycle", organiser: "Organisme"}
sessions:
  - {id: s1, title: "Séance", transcript: s1.vtt}
themes:
  - {id: sobriete, label: "Sobriété", description: "Énergie.", keywords: ["énergie"]}
"""


def write_config(folder: Path, text: str = CONFIG) -> Path:
    (folder / "s1.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour.\n", encoding="utf-8")
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def alias_bomb(levels: int) -> str:
    """The "billion laughs": each level a list of nine aliases of the level before."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnop"
    for level in range(1, levels):
        lines.append(f"{names[level]}: &{names[level]} [" + ",".join([f"*{names[level - 1]}"] * 9) + "]")
    return "\n".join(lines) + "\n"


# --- config.yaml ---------------------------------------------------------------------------------

def test_a_one_kilobyte_alias_bomb_is_refused_at_once(tmp_path):
    bomb = alias_bomb(9)  # 9**9 = 387 million values once expanded
    assert len(bomb) < 1100
    path = write_config(tmp_path, "x:\n" + "".join(f"  {line}\n" for line in bomb.splitlines()) + CONFIG)
    started = time.process_time()
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert time.process_time() - started < 5  # a generous bound: it takes milliseconds
    assert str(error.value) == (
        "config.yaml, line 7: the configuration stands for more than 100,000 values once its aliases "
        "(*name) are expanded. Write the values out, or use fewer aliases."
    )


def test_alias_expansion_limit_applies_to_small_bombs(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CONFIG_NODES", 1000)
    path = write_config(tmp_path, "x:\n" + "".join(f"  {line}\n" for line in alias_bomb(4).splitlines()) + CONFIG)
    with pytest.raises(ConfigError, match=r"more than 1,000 values once its aliases"):
        load_config(path)


def test_ordinary_aliases_still_work(tmp_path):
    text = CONFIG.replace('  - {id: s1, title: "Séance", transcript: s1.vtt}',
                          '  - {id: s1, title: "Séance", transcript: s1.vtt, speakers: &team [{name: "Zoé"}]}\n'
                          '  - {id: s2, title: "Suite", transcript: s1.vtt, speakers: *team}')
    config = load_config(write_config(tmp_path, text))
    assert [s.speakers[0].name for s in config.sessions] == ["Zoé", "Zoé"]


def test_an_alias_inside_itself_is_refused(tmp_path):
    path = write_config(tmp_path, CONFIG + "x: &loop [1, *loop]\n")
    with pytest.raises(ConfigError, match=r"^config.yaml, line 6: an alias \(\*name\) refers to the value"):
        load_config(path)


def test_deep_nesting_is_an_error_not_a_crash(tmp_path):
    path = write_config(tmp_path, CONFIG + "x: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == "config.yaml: values are nested too deeply. Check the indentation and brackets."


def test_a_config_over_one_megabyte_is_refused(tmp_path):
    path = write_config(tmp_path, CONFIG + "# " + "x" * 1_100_000 + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        "config.yaml: the file is 1.1 MB, more than the 1.0 MB a configuration file may have. "
        "Check that --config names the cycle's config.yaml."
    )


def test_duplicate_keys_name_both_lines(tmp_path):
    text = CONFIG.replace('  - {id: s1, title: "Séance", transcript: s1.vtt}',
                          '  - id: s1\n    title: "Séance"\n    transcript: s1.vtt\n    title: "Autre"')
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, text))
    assert str(error.value) == (
        "config.yaml, line 6: key 'title' is given twice in the same place (lines 4 and 6). Keep one of them."
    )


def test_a_named_pipe_as_config_is_refused(tmp_path):
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    unblock_later(fifo)
    with pytest.raises(ConfigError) as error:
        load_config(fifo)
    assert str(error.value) == (f"{fifo}: is a named pipe (FIFO), not a file. Synthèse reads regular files only; "
                                "give the path of the file itself.")


def test_control_characters_in_config_values_are_dropped(tmp_path):
    config = load_config(write_config(tmp_path, CONFIG.replace('label: "Sobriété"', 'label: "Sobri\\aété\\x1b"')))
    assert config.themes[0].label == "Sobriété"


@pytest.mark.parametrize(("setting", "name"), [
    ("tag:\n  similarity_low: .nan\n", "tag.similarity_low"),
    ("tag:\n  similarity_high: .inf\n", "tag.similarity_high"),
    ("tag:\n  threshold: .NaN\n", "tag.threshold"),
    ("transcribe:\n  checkpoint_every_s: .inf\n", "transcribe.checkpoint_every_s"),
    ("themes:\n  - {id: a, label: A, description: d, keywords: [{term: énergie, weight: .nan}]}\n",
     "themes[0].weight"),
])
def test_a_setting_that_is_not_a_finite_number_is_refused_with_its_name(tmp_path, setting, name):
    text = CONFIG.split("themes:")[0] if setting.startswith("themes") else CONFIG
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, text + setting))
    assert str(error.value).endswith(f": {name}: Input should be a finite number.")
    assert str(error.value).startswith("config.yaml, line ")


def with_logo(folder: Path, name: str, data: bytes) -> Path:
    (folder / name).write_bytes(data)
    return write_config(folder, CONFIG + f"publication:\n  logo: {name}\n")


def test_a_logo_that_is_not_a_png_or_jpeg_image_is_refused_with_its_line(tmp_path):
    from PIL import Image

    with pytest.raises(ConfigError) as error:
        load_config(with_logo(tmp_path, "logo.png", b"<html>not an image</html>"))
    assert str(error.value).startswith("config.yaml, line 7: publication.logo: logo.png: not a readable PNG or JPEG "
                                       "image (cannot identify image file")
    assert str(error.value).endswith("Export the logo again as PNG or JPEG, or remove the key.")
    Image.new("RGB", (4, 4)).save(tmp_path / "gif.png", format="GIF")
    with pytest.raises(ConfigError, match=r"publication.logo: logo.jpg: is a GIF image, not PNG or JPEG"):
        load_config(with_logo(tmp_path, "logo.jpg", (tmp_path / "gif.png").read_bytes()))
    Image.new("1", (6000, 6000)).save(tmp_path / "huge.png")
    with pytest.raises(ConfigError, match=r"publication.logo: logo.png: 6000 x 6000 pixels, more than the 25,000,000"):
        load_config(with_logo(tmp_path, "logo.png", (tmp_path / "huge.png").read_bytes()))
    truncated = (tmp_path / "huge.png").read_bytes()[:60]
    with pytest.raises(ConfigError, match=r"publication.logo: logo.png: not a readable PNG or JPEG image"):
        load_config(with_logo(tmp_path, "logo.png", truncated))
    Image.new("RGB", (40, 20), "navy").save(tmp_path / "logo.png")
    assert load_config(with_logo(tmp_path, "logo.png", (tmp_path / "logo.png").read_bytes())).publication.logo


def test_a_path_setting_starting_with_a_tilde_is_in_the_home_folder(tmp_path, monkeypatch):
    from synthese.workspace import Workspace

    home = tmp_path / "home"
    (home / "replays").mkdir(parents=True)
    (home / "replays" / "s2.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour.\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    project = tmp_path / "project"
    project.mkdir()
    text = CONFIG.replace("themes:", '  - {id: s2, title: "Deux", transcript: "~/replays/s2.vtt"}\nthemes:')
    config = load_config(write_config(project, text + "publish:\n  output_dir: ~/site\n"))
    assert config.publish.output_dir == home / "site" and Workspace(config).outputs_dir == home / "site"
    assert config.source_of(config.session("s2")) == home / "replays" / "s2.vtt"
    with pytest.raises(ConfigError) as error:
        load_config(write_config(project, CONFIG + "publish:\n  output_dir: ~\n"))
    assert str(error.value) == ("config.yaml, line 7: publish.output_dir: is empty ('~' alone means no value in YAML): "
                                "write a folder, such as 'outputs', or '~/site' for a folder in your home folder.")
    with pytest.raises(ConfigError, match=r"^config.yaml, line 7: render.templates: '~nobody-synthese/x': "
                                          r"~nobody-synthese is no user of this computer"):
        load_config(write_config(project, CONFIG + "render:\n  templates: ~nobody-synthese/x\n"))
    assert not (project / "~").exists()


# --- input files: pipes, devices, links ------------------------------------------------------------

def unblock_later(fifo: Path, after_s: float = 3.0) -> None:
    """Should a reader block on the pipe (the behaviour these tests forbid), give it a writer that
    closes at once after a while, so the test fails instead of hanging."""
    def release() -> None:
        time.sleep(after_s)
        if fifo.exists():
            os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))

    threading.Thread(target=release, daemon=True).start()


def test_a_named_pipe_as_transcript_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "captions.vtt"
    os.mkfifo(fifo)
    unblock_later(fifo)
    started = time.monotonic()
    with pytest.raises(InputError) as error:
        import_transcript(fifo)
    assert time.monotonic() - started < 2
    assert str(error.value) == (f"{fifo}: is a named pipe (FIFO), not a file. Synthèse reads regular files only; "
                                "give the path of the file itself.")


def test_a_device_as_transcript_is_refused(tmp_path):
    link = tmp_path / "notes.txt"
    link.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(InputError) as error:
        import_transcript(link)
    assert str(error.value) == (f"{link}: is a character device, not a file. Synthèse reads regular files only; "
                                "give the path of the file itself.")


def test_a_symlinked_session_file_outside_the_project_is_refused(tmp_path, caplog):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    config = load_config(write_config(project))
    secret = elsewhere / "secret.vtt"
    secret.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nMot de passe.\n", encoding="utf-8")
    (project / "s1.vtt").unlink()
    (project / "s1.vtt").symlink_to(secret)
    with pytest.raises(ConfigError) as error:
        config.source_of(config.sessions[0])
    assert str(error.value) == (
        f"config.yaml, line 3: sessions[0].transcript: {project / 's1.vtt'}: is a symbolic link to {secret}, "
        f"outside the project folder {project}. A link is followed only to a file inside that folder: write the "
        "file's real path in the configuration, or copy the file into the folder."
    )
    # Inside the project, a link is followed, and the log says where it leads.
    inside = project / "captions" / "s1.vtt"
    inside.parent.mkdir()
    shutil.copy(secret, inside)
    (project / "s1.vtt").unlink()
    (project / "s1.vtt").symlink_to(inside)
    with caplog.at_level(logging.INFO, logger="synthese.core.limits"):
        assert config.source_of(config.sessions[0]) == project / "s1.vtt"
    assert f"{project / 's1.vtt'} is a symbolic link: reading {inside}" in caplog.text
    # A path written in config.yaml is trusted as written, even outside the folder.
    text = CONFIG.replace("transcript: s1.vtt", f"transcript: {secret}")
    config = load_config(write_config(project, text))
    assert config.source_of(config.sessions[0]) == secret


# --- transcripts ---------------------------------------------------------------------------------

def test_a_zip_bomb_docx_is_refused_from_its_directory(tmp_path, monkeypatch):
    """The archive's directory declares 2 GB: refused before any byte is inflated."""
    bomb = tmp_path / "bomb.docx"
    shutil.copy(DATA / "notes.docx", bomb)
    with zipfile.ZipFile(bomb, "a") as archive:
        archive.writestr("word/media/filler.bin", b"\0" * 1000, compress_type=zipfile.ZIP_DEFLATED)
    data = bytearray(bomb.read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the last member's central directory entry
    struct.pack_into("<I", data, entry + 24, 2_000_000_000)  # its declared uncompressed size
    bomb.write_bytes(bytes(data))

    import docx

    monkeypatch.setattr(docx, "Document", lambda *_: pytest.fail("the archive was opened"))
    with pytest.raises(InputError) as error:
        import_transcript(bomb)
    assert re.fullmatch(r"bomb.docx: the Word file unpacks to 2,00\d MB, more than the 50 MB a transcript may "
                        r"take. Remove its pictures, or export the text as .txt.", str(error.value))


def entity_bomb_docx(source: Path, target: Path) -> Path:
    """A Word file whose document declares XML entities that expand 2 KB into ten billion
    characters (the "billion laughs"), which Word never writes."""
    entities = '<!ENTITY a "' + "a" * 50 + '">' + "".join(
        f'<!ENTITY {chr(98 + i)} "' + f"&{chr(97 + i)};" * 10 + '">' for i in range(9))
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as bomb:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "word/document.xml":
                head, body = data.decode("utf-8").split("?>", 1)
                body = re.sub(r"(<w:t(?: [^>]*)?>)[^<]*", r"\1&j;", body, count=1)
                data = (head + "?><!DOCTYPE w:document [" + entities + "]>" + body).encode("utf-8")
            bomb.writestr(item, data)
    return target


def test_a_docx_with_an_entity_bomb_is_one_error_line(tmp_path):
    bomb = entity_bomb_docx(DATA / "notes.docx", tmp_path / "bomb.docx")
    assert bomb.stat().st_size < 50_000
    with pytest.raises(InputError) as error:
        import_transcript(bomb)
    assert str(error.value).startswith("bomb.docx: cannot read this Word file (")
    assert str(error.value).endswith("). Save it again as .docx.")


def test_a_real_zip_bomb_is_refused_with_a_small_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DOCX_UNCOMPRESSED_BYTES", 1_000_000)
    bomb = tmp_path / "bomb.docx"
    shutil.copy(DATA / "notes.docx", bomb)
    with zipfile.ZipFile(bomb, "a") as archive:
        archive.writestr("word/media/zeros.bin", b"\0" * 3_000_000, compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 50_000
    with pytest.raises(InputError, match=r"^bomb.docx: the Word file unpacks to \d MB, more than the 1 MB"):
        import_transcript(bomb)


def test_a_docx_with_too_many_members_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DOCX_MEMBERS", 12)
    path = tmp_path / "many.docx"
    shutil.copy(DATA / "notes.docx", path)
    with zipfile.ZipFile(path, "a") as archive:
        for index in range(20):
            archive.writestr(f"customXml/extra{index}.xml", "<a/>")
    with pytest.raises(InputError, match=r"^many.docx: the Word file holds \d+ parts, more than the 12"):
        import_transcript(path)


@pytest.mark.parametrize("literal, reason", [
    ("NaN", "NaN is not a number here (NaN and Infinity are not allowed)"),
    ("Infinity", "Infinity is not a number here (NaN and Infinity are not allowed)"),
    ("1e999", "the number '1e999' is too large"),
])
def test_json_transcript_with_non_finite_numbers(tmp_path, literal, reason):
    path = tmp_path / "s1.json"
    path.write_text('{"schema": "synthese.transcript/1", "segments": [{"start": 0, "end": ' + literal + ', "text": "x"}]}',
                    encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == f"s1.json: not a usable transcript: {reason}. Fix the file."


def test_deeply_nested_json_is_refused(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"schema": "synthese.transcript/1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                    encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == "deep.json: not a usable transcript: it is nested more than 64 levels deep. Fix the file."


def test_artefacts_with_nan_or_deep_nesting_are_named_errors(tmp_path):
    tags = tmp_path / "s1.tags.json"
    tags.write_text('{"schema": "synthese.tags/2", "duration_s": NaN}', encoding="utf-8")
    with pytest.raises(SyntheseError) as error:
        Tags.load(tags)
    assert str(error.value) == (f"{tags}: not a readable JSON file (NaN is not a number here (NaN and "
                                "Infinity are not allowed)). Re-run the stage that writes it.")
    tags.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(SyntheseError, match=r"nested more than 64 levels deep\)\. Re-run the stage"):
        read_json(tags)


def test_lone_surrogates_in_json_become_replacement_characters():
    assert limits.loads_json('{"text": "a\\ud800b \\ud83d\\ude00"}') == {"text": "a\ufffdb \U0001f600"}


def vtt(cues: list[tuple[float, str]]) -> str:
    from synthese.core.typography import format_timestamp

    return "WEBVTT\n\n" + "\n".join(f"{format_timestamp(t)} --> {format_timestamp(t + 1)}\n{text}\n"
                                    for t, text in cues)


def test_out_of_order_cues_are_sorted_with_a_warning(tmp_path):
    path = tmp_path / "s1.vtt"
    path.write_text(vtt([(0, "Un."), (10, "Trois."), (5, "Deux."), (20, "Quatre."), (15, "Cinq.")]), encoding="utf-8")
    transcript = import_transcript(path)
    assert [s.text for s in transcript.segments] == ["Un.", "Deux.", "Trois.", "Cinq.", "Quatre."]
    assert transcript.warnings == [
        "s1.vtt: 2 cue(s) out of time order (the first, at 00:00:05.000, comes after one at 00:00:10.000): "
        "sorted by start time. Check those times if the file's order was right."
    ]


def test_too_many_cues_or_words_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "s1.vtt"
    path.write_text(vtt([(i, "Trois mots ici.") for i in range(5)]), encoding="utf-8")
    monkeypatch.setattr(limits, "MAX_SEGMENTS", 4)
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == ("s1.vtt: 5 cues or paragraphs, more than the 4 a session may have. Split the "
                                "recording into several sessions, or merge the cues.")
    monkeypatch.setattr(limits, "MAX_SEGMENTS", 50_000)
    monkeypatch.setattr(limits, "MAX_TRANSCRIPT_WORDS", 14)
    with pytest.raises(InputError, match=r"^s1.vtt: 15 words, more than the 14 a session may have"):
        import_transcript(path)


def test_a_transcript_file_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRANSCRIPT_BYTES", 1000)
    path = tmp_path / "notes.txt"
    path.write_text("Bonjour à tous. " * 200, encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == ("notes.txt: the file is 3 KB, more than the 1 KB a transcript may have. "
                                "Split it into several sessions, or export the text alone (.txt).")


def test_a_binary_srt_gives_a_short_error(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_bytes(os.urandom(100_000) + b"\0")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == ("captions.srt: this is not a text file (it contains NUL bytes, as binary files "
                                "do). Check that it is the transcript; export it again as text.")


def test_a_caption_line_too_long_gives_a_short_error(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_text("1\n" + "x" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == (
        "captions.srt, line 2: 100,000 characters on one line, more than the 20,000 a caption line may have. "
        "Check that it is a caption file; a text with long paragraphs imports as .txt.")
    path.write_text("1\n00:00:01,000 --> 00:00:02,000" + "x" * 5000 + "\nTexte.\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == (
        "captions.srt, line 2: broken cue timing '00:00:01,000 --> 00:00:02,000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxx…': expected '00:01:02,500 --> 00:01:05,000'. Fix or remove that cue.")


def test_control_characters_are_removed_on_import(tmp_path):
    path = tmp_path / "s1.vtt"
    path.write_text(vtt([(0, "<v Zo\x07é>Bonjour\x1b[31m à\x0b tous\x85.")]), encoding="utf-8")
    transcript = import_transcript(path)
    assert [(s.speaker, s.text) for s in transcript.segments] == [("Zoé", "Bonjour[31m à tous.")]
    assert transcript.warnings == ["s1.vtt: 4 control character(s) removed (invisible characters that no document "
                                   "can hold)"]
    own = tmp_path / "own.json"
    own.write_text(json.dumps({"schema": "synthese.transcript/1", "segments": [
        {"start": 0, "end": 1, "text": "a\u0000b\u0001c\ud800d", "speaker": "Zo\u0007é"}]}), encoding="utf-8")
    segment = import_transcript(own).segments[0]
    assert (segment.text, segment.speaker) == ("abc\ufffdd", "Zoé")


def test_utf16_text_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("\ufeffZoé : Bonjour.\nZoé : Merci.".encode("utf-16-le"))
    assert [(s.speaker, s.text) for s in import_transcript(path).segments] == [("Zoé", "Bonjour."), ("Zoé", "Merci.")]


# --- before spaCy -----------------------------------------------------------------------------------

@pytest.fixture
def small_nlp():
    """A blank French pipeline with sentence boundaries, its length limit set low: a paragraph
    over it must be split before spaCy sees it (as one over 1,000,000 characters is for the real
    model)."""
    import spacy

    nlp = spacy.blank("fr")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 5000
    return nlp


def test_a_paragraph_over_spacys_limit_is_split_before_spacy(small_nlp):
    from synthese.core.artefacts import Segment
    from synthese.core.config import TagOptions
    from synthese.tag.passages import split_passages

    sentence = "La ville numérique consomme de l'énergie et des données chaque jour. "
    paragraph = sentence * 800  # 55,000 characters, eleven times the pipeline's limit
    unpunctuated = "mot " * 3000  # no sentence end at all
    segments = [Segment(start=0.0, end=3000.0, text=paragraph, speaker="Zoé"),
                Segment(start=3000.0, end=3010.0, text=unpunctuated, speaker="Zoé")]
    passages = split_passages(segments, small_nlp, TagOptions())
    assert passages
    assert all(a.end <= b.start + 0.01 for a, b in zip(passages, passages[1:]))
    assert passages[0].start == 0.0 and passages[-1].end == 3010.0
    assert "".join(p.text for p in passages).replace(" ", "") == (paragraph + unpunctuated).replace(" ", "")


def test_ten_megabytes_without_a_space_are_refused_on_import_at_once(tmp_path):
    """The probe: 10 MB without a space counted as one word, imported, then kept tagging busy for
    more than five minutes (sentence splitting, the encoder's tokenizer)."""
    path = tmp_path / "s1.txt"
    path.write_text("a" * 10_000_000, encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == ("s1.txt: a word of 10,000,000 characters at 00:00:00 ('" + "a" * 39 + "…'), more "
                                "than the 200 a word may have: that is not speech. Check that it is the transcript, "
                                "or remove that text.")
    path.write_text("Bonjour, voici https://example.org/" + "a" * 150 + " pour finir.", encoding="utf-8")
    assert len(import_transcript(path).segments) == 1  # a long web address is a word


def test_words_made_of_many_pieces_are_counted_as_the_language_model_reads_them(tmp_path):
    """970 KB of 197-character words joined by hyphens pass the word and character bounds, but
    spaCy reads 640,000 tokens: tagging ran for more than ten minutes."""
    path = tmp_path / "s1.txt"
    path.write_text(" ".join(["-".join(["ab"] * 66)] * 4_900), encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value).startswith("s1.txt: 641,900 words and punctuation marks, more than the 200,000 a session "
                                       "may have")
    said = " ".join(s["text"] for s in json.loads((DATA / "render_sample.transcript.json").read_text())["segments"])
    assert len(re.findall(r"\w+|[^\w\s]", said)) < 1.3 * len(said.split())  # speech: ~1.25 pieces a word


def test_an_unpunctuated_stretch_is_cut_by_words_however_many_tokens_they_make(small_nlp):
    from synthese.tag.passages import _pieces, word_count

    text = " ".join(f"m-{i % 7}-a.b" for i in range(420)) + " fin -up"  # 2,500 tokens, no sentence end
    doc = small_nlp(text)
    pieces = _pieces(doc[0:len(doc)], 130)
    assert [word_count(p.text) for p in pieces] == [130, 130, 130, 32]  # "-up" stays with "fin"
    assert "".join(p.text_with_ws for p in pieces) == text


def test_a_transcript_with_too_many_characters_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRANSCRIPT_CHARS", 100)
    path = tmp_path / "s1.vtt"
    path.write_text(vtt([(0, "Un texte de quelque soixante caractères, sans rien de plus."),
                         (5, "Et un second du même ordre, pour dépasser la limite.")]), encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == ("s1.vtt: 111 characters, more than the 100 a session may have (about nine hours of "
                                "speech). Split the recording into several sessions.")


def test_a_long_word_from_any_source_is_refused_before_nlp(small_nlp):
    """A hand-edited transcript or a correction reaches the tagger without the importer: the
    same bounds hold there, before spaCy or the encoder see the text."""
    from synthese.core.artefacts import Segment
    from synthese.core.config import TagOptions
    from synthese.tag.passages import split_passages

    segments = [Segment(start=0.0, end=3.0, text="Bonjour à tous."),
                Segment(start=65.0, end=70.0, text="Voici " + "-".join(["a"] * 5000))]

    def no_encoder(texts):
        raise AssertionError("the encoder ran")

    with pytest.raises(InputError, match=r"^the transcript: a word of 9,999 characters at 00:01:05 \('a-a-a"):
        split_passages(segments, small_nlp, TagOptions(), embed=no_encoder)


def test_the_encoder_reads_a_text_up_to_its_limit():
    from synthese.tag.meaning import embed

    sentence = "La sobriété numérique réduit la consommation d'énergie des réseaux. "
    other = "Les habitants du quartier ont planté des arbres le long de la rivière. "
    long_text = sentence * 40 + other * 2_000  # 146,000 characters, the first 2,700 about energy
    vectors = embed([long_text, long_text[:limits.MAX_ENCODER_CHARS], other])
    assert float(vectors[0] @ vectors[1]) == pytest.approx(1.0, abs=1e-6)
    assert float(vectors[0] @ vectors[2]) < 0.9


def test_split_long_segments_cuts_at_sentences_and_shares_the_time():
    from synthese.core.artefacts import Segment, Word

    text = "Première phrase assez longue. " * 10 + "Fin"
    pieces = limits.split_long_segments([Segment(start=10.0, end=20.0, text=text,
                                                 words=[Word(start=10, end=11, text="x")])], 200)
    assert [len(p.text) <= 100 for p in pieces] == [True] * len(pieces)
    assert all(p.text.endswith(".") for p in pieces[:-1])
    assert pieces[0].start == 10.0 and pieces[-1].end == 20.0
    assert all(a.end <= b.start for a, b in zip(pieces, pieces[1:]))
    assert not any(p.words for p in pieces)


def test_a_transcript_too_long_to_tag_is_refused(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRANSCRIPT_WORDS", 5)
    with pytest.raises(InputError, match=r"^the transcript: 6 words, more than the 5 a session may have"):
        from synthese.core.artefacts import Segment

        limits.split_long_segments([Segment(start=0, end=1, text="un deux trois quatre cinq six")], 1_000_000)


def test_evaluation_passages_with_deep_nesting_or_nan_are_refused_by_line(tmp_path):
    from synthese.files import classify_file as classify_passages_file

    config = load_config(write_config(tmp_path))
    rows = tmp_path / "passages.jsonl"
    rows.write_text('{"id": "a", "text": "Bonjour."}\n{"id": "b", "text": "x", "score": NaN}\n', encoding="utf-8")
    with pytest.raises(InputError) as error:
        classify_passages_file(rows, tmp_path / "out.jsonl", config)
    assert str(error.value) == ("passages.jsonl, line 2: NaN is not a number here (NaN and Infinity are not "
                                "allowed). Fix that line.")
    rows.write_text('{"id": "a", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^passages.jsonl, line 1: it is nested more than 64 levels deep"):
        classify_passages_file(rows, tmp_path / "out.jsonl", config)


# --- files the tool writes ---------------------------------------------------------------------------

def test_a_write_never_follows_or_replaces_a_link(tmp_path):
    from synthese.core.errors import StorageError
    from synthese.core.storage import write_bytes, write_text

    victim = tmp_path / "victim.txt"
    victim.write_text("mine", encoding="utf-8")
    for name, write in (("s1.vtt", write_text), ("s1.pdf", write_bytes)):
        link = tmp_path / "out" / name
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(victim)
        with pytest.raises(StorageError) as error:
            write(link, "ours" if write is write_text else b"ours")
        assert str(error.value).startswith(f"{link}: is a symbolic link (to {victim}); Synthèse never writes through "
                                           "a link nor replaces one. Remove the link")
        assert victim.read_text(encoding="utf-8") == "mine" and link.is_symlink()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s1.pdf", "s1.vtt"]  # no .part left


def test_a_temporary_file_swapped_for_a_link_is_never_renamed_in(tmp_path):
    from synthese.core.errors import StorageError
    from synthese.core.storage import atomic_path

    victim = tmp_path / "victim.txt"
    victim.write_text("mine", encoding="utf-8")
    target = tmp_path / "s1.tags.json"
    with pytest.raises(StorageError, match=r"the temporary file was replaced \(by a link or another file\)"):
        with atomic_path(target) as tmp:
            tmp.unlink()
            tmp.symlink_to(victim)
    assert not target.exists() and victim.read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]


# --- a session's length ------------------------------------------------------------------------------

def test_a_cue_beyond_twelve_hours_is_refused_on_import(tmp_path):
    """The 313-byte probe: two cues, one at 99999:00:00, passed every limit and kept the timeline
    chart drawing for more than ten minutes."""
    path = tmp_path / "s1.vtt"
    path.write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour à tous.\n\n"
                    "99999:00:00.000 --> 99999:00:02.000\nAu revoir.\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == (
        "s1.vtt: the cue or paragraph at 99999:00:00.000 ('Au revoir.') ends at 99999:00:02.000, beyond the 12 hours "
        "a session may last. Fix that time if it is a typing error, or split the recording into several sessions.")
    text = tmp_path / "s1.txt"
    text.write_text("[00:00:05] Bonjour.\n\n[12:00:01] Fin.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^s1.txt: the cue or paragraph at 12:00:01.000 \('Fin.'\) ends at "):
        import_transcript(text)
    text.write_text("[00:00:05] Bonjour.\n\n[11:59:00] Fin.\n", encoding="utf-8")  # within the limit
    assert import_transcript(text).segments[-1].start == 11 * 3600 + 59 * 60


def test_a_word_or_gap_beyond_twelve_hours_is_refused_in_a_json_transcript(tmp_path):
    path = tmp_path / "s1.json"
    segment = {"start": 0, "end": 2, "text": "Bonjour.", "words": [{"start": 0, "end": 1e9, "text": "Bonjour."}]}
    path.write_text(json.dumps({"schema": "synthese.transcript/2", "segments": [segment]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"^s1.json: the cue or paragraph at 00:00:00.000 \('Bonjour.'\) ends at "
                                         r"277777:46:40.000, beyond the 12 hours"):
        import_transcript(path)
    segment["words"] = []
    path.write_text(json.dumps({"schema": "synthese.transcript/2", "segments": [segment],
                                "gaps": [{"start": 5, "end": 50_000, "reason": "x"}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"^s1.json: a gap at 00:00:05.000 ends at 13:53:20.000, beyond the 12 hours"):
        import_transcript(path)


def test_a_transcript_artefact_beyond_twelve_hours_is_a_named_error(tmp_path):
    from synthese.core.artefacts import Transcript
    from synthese.core.errors import ArtefactError

    data = json.loads((DATA / "render_sample.transcript.json").read_text(encoding="utf-8"))
    data["segments"][1]["end"] = 99_999 * 3600.0
    path = tmp_path / "s1.transcript.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ArtefactError, match=r"s1.transcript.json: segments\[1\].end: Value error, must be a time "
                                            r"within the 12 hours a session may last"):
        Transcript.load(path)


def test_a_recording_beyond_the_longest_session_is_refused_before_transcription(tmp_path, monkeypatch):
    import wave

    from synthese.transcribe.audio import check_audio

    path = tmp_path / "replay.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(struct.pack("<32000h", *([1000, -1000] * 16_000)))  # two seconds
    assert check_audio(path).duration_s == 2.0
    monkeypatch.setattr(limits, "MAX_SESSION_SECONDS", 1)
    with pytest.raises(InputError) as error:
        check_audio(path)
    assert str(error.value).startswith("replay.wav: the recording lasts 00:00:02, beyond the ")
