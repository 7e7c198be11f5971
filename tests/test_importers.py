"""Importing existing transcripts (VTT, SRT, TXT, DOCX, JSON) and writing captions: exact output."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthese.core.artefacts import Segment
from synthese.core.errors import InputError
from synthese.core.subtitles import to_srt, to_txt, to_vtt
from synthese.core.typography import format_timestamp
from synthese.transcribe.importers import (
    import_transcript,
    parse_srt,
    parse_txt,
    parse_vtt,
)

DATA = Path(__file__).parent / "data"


def rows(transcript):
    return [(s.start, s.end, s.speaker, s.text) for s in transcript.segments]


def test_vtt_voice_tags_give_speakers_and_markup_is_removed():
    transcript = import_transcript(DATA / "teams.vtt")
    assert transcript.kind == "vtt"
    assert transcript.warnings == []
    assert rows(transcript) == [
        (1.5, 4.25, "François Ménard", "Bonjour à toutes et à tous, bienvenue."),
        (4.25, 9.0, "Eulalie Creusé", "La sobriété numérique & les données."),
        (9.0, 11.0, None, "Une question du public."),
        (12.0, 14.5, "Zoé Martin", "Merci pour cette présentation."),
    ]


def test_srt_name_prefix_multiline_cues_and_empty_cue():
    transcript = import_transcript(DATA / "zoom.srt")
    assert rows(transcript) == [
        (0.0, 2.5, "François Ménard", "Bonjour."),
        (2.5, 6.0, None, "Nous parlons de capteurs et de données ouvertes."),
    ]


def test_txt_markers_give_times_and_speakers_that_carry_over():
    transcript = import_transcript(DATA / "notes.txt")
    assert transcript.warnings == []
    assert rows(transcript) == [
        (5.0, 7.4, "François Ménard", "Bonjour et bienvenue dans ce cycle."),
        (7.4, 60.0, "François Ménard", "Nous commençons par les enjeux."),
        (60.0, 62.8, "Eulalie Creusé", "Merci. La gouvernance des données est centrale."),
    ]


def test_txt_without_times_is_timed_by_word_count():
    transcript = import_transcript(DATA / "plain.txt")
    assert rows(transcript) == [
        (0.0, 2.0, None, "Un deux trois quatre cinq."),
        (2.0, 4.0, None, "Six sept huit neuf dix."),
    ]
    assert transcript.warnings == ["no times in the transcript: times estimated from the word count (2.5 words/s)"]


def test_docx_paragraphs_with_markers():
    transcript = import_transcript(DATA / "notes.docx")
    assert transcript.kind == "docx"
    assert rows(transcript) == [
        (10.0, 11.2, "François Ménard", "Bonjour à tous."),
        (11.2, 30.0, "François Ménard", "La ville numérique pose des questions de sobriété."),
        (30.0, 31.6, "Eulalie Creusé", "Et de gouvernance publique."),
    ]


def test_own_json_is_read_back():
    transcript = import_transcript(DATA / "own.transcript.json")
    assert transcript.kind == "json"
    assert transcript.language == "fr"
    assert rows(transcript) == [
        (0.0, 2.5, "François Ménard", "Bonjour."),
        (2.5, 6.0, None, "Texte corrigé à la main."),
    ]


def test_broken_vtt_timing_names_file_and_line():
    with pytest.raises(InputError) as error:
        import_transcript(DATA / "broken.vtt")
    assert str(error.value) == (
        "broken.vtt, line 6: broken cue timing '00:00:03.000 -> 00:00:05.000': expected "
        "'00:01:02.500 --> 00:01:05.000'. Fix or remove that cue."
    )


def test_broken_srt_timing_names_file_and_line():
    with pytest.raises(InputError) as error:
        import_transcript(DATA / "broken.srt")
    assert str(error.value) == (
        "broken.srt, line 6: broken cue timing '00:00:02,500 --> 00:00:xx,000': expected "
        "'00:01:02,500 --> 00:01:05,000'. Fix or remove that cue."
    )


def test_cue_ending_before_it_starts(tmp_path):
    path = tmp_path / "reversed.vtt"
    path.write_text("WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nTexte.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^reversed.vtt, line 3: cue ends before it starts"):
        parse_vtt(path)


def test_vtt_without_header(tmp_path):
    path = tmp_path / "captions.vtt"
    path.write_text("00:00:01.000 --> 00:00:02.000\nTexte.\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"^captions.vtt, line 1: not a WebVTT file"):
        import_transcript(path)


def test_docx_that_is_not_a_zip(tmp_path):
    path = tmp_path / "compte-rendu.docx"
    path.write_text("ceci est du texte, pas un document Word", encoding="utf-8")
    with pytest.raises(InputError) as error:
        import_transcript(path)
    assert str(error.value) == (
        "compte-rendu.docx: not a Word .docx file (it is not a zip archive). Save it as .docx from "
        "Word or LibreOffice, or export it as .txt."
    )


def test_foreign_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"text": "bonjour"}', encoding="utf-8")
    with pytest.raises(InputError, match=r"^other.json: not a Synthèse transcript"):
        import_transcript(path)


@pytest.mark.parametrize("name, content", [("empty.vtt", "WEBVTT\n\n"), ("empty.srt", ""), ("empty.txt", "\n\n")])
def test_empty_transcript_gives_zero_segments_and_a_warning(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    transcript = import_transcript(path)
    assert transcript.segments == []
    assert transcript.warnings[-1] == f"{name}: the transcript contains no text"


def test_cp1252_text_is_read(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("Éléments de sobriété.".encode("cp1252"))
    assert parse_txt(path).segments[0].text == "Éléments de sobriété."


def test_timestamp_format():
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(3725.4567) == "01:02:05.457"
    assert format_timestamp(59.9996, ",") == "00:01:00,000"


SEGMENTS = [Segment(start=0.0, end=2.5, text="Bonjour <à> tous & toutes.", speaker="François Ménard"),
            Segment(start=2.5, end=4.0, text="Suite.")]


def test_writers_exact_output():
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n<v François Ménard>Bonjour &lt;à&gt; tous &amp; toutes.\n\n"
        "00:00:02.500 --> 00:00:04.000\nSuite.\n"
    )
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:02,500\nFrançois Ménard: Bonjour <à> tous & toutes.\n\n"
        "2\n00:00:02,500 --> 00:00:04,000\nSuite.\n"
    )
    assert to_txt(SEGMENTS) == (
        "[00:00:00.000] François Ménard : Bonjour <à> tous & toutes.\n[00:00:02.500] Suite.\n"
    )


def test_writers_round_trip(tmp_path):
    (tmp_path / "a.vtt").write_text(to_vtt(SEGMENTS), encoding="utf-8")
    (tmp_path / "a.txt").write_text(to_txt(SEGMENTS[:1]), encoding="utf-8")
    back = parse_vtt(tmp_path / "a.vtt").segments
    assert [(s.start, s.end, s.speaker, s.text) for s in back] == [
        (0.0, 2.5, "François Ménard", "Bonjour <à> tous & toutes."), (2.5, 4.0, None, "Suite.")]
    assert parse_txt(tmp_path / "a.txt").segments[0].speaker == "François Ménard"
    (tmp_path / "b.srt").write_text(to_srt(SEGMENTS[1:]), encoding="utf-8")
    assert parse_srt(tmp_path / "b.srt").segments[0].text == "Suite."


def test_note_labels_and_words_before_a_colon_are_not_speakers(tmp_path):
    path = tmp_path / "compte-rendu.txt"
    path.write_text(
        "[00:00:00] Zoé : Bonjour à toutes et à tous.\n"
        "[00:00:04] Remarque : la séance est enregistrée.\n"
        "[00:00:08] Objectifs de la séance : comprendre les données urbaines.\n"
        "[00:00:12] Conséquence : il faut des règles. Et des moyens.\n"
        "[00:00:16] Zoé : Je passe la parole à Karim Benali.\n"
        "[00:00:20] Karim Benali : Merci.\n",
        encoding="utf-8",
    )
    assert [(s.speaker, s.text) for s in import_transcript(path).segments] == [
        ("Zoé", "Bonjour à toutes et à tous."),
        ("Zoé", "Remarque : la séance est enregistrée."),
        ("Zoé", "Objectifs de la séance : comprendre les données urbaines."),
        ("Zoé", "Conséquence : il faut des règles. Et des moyens."),
        ("Zoé", "Je passe la parole à Karim Benali."),
        ("Karim Benali", "Merci."),
    ]


def test_a_one_word_label_used_once_in_captions_stays_text(tmp_path):
    path = tmp_path / "captions.srt"
    path.write_text(
        "1\n00:00:00,000 --> 00:00:02,000\nExemple : une rue piétonne.\n\n"
        "2\n00:00:02,000 --> 00:00:04,000\nKarim Benali : Tout à fait.\n",
        encoding="utf-8",
    )
    assert [(s.speaker, s.text) for s in import_transcript(path).segments] == [
        (None, "Exemple : une rue piétonne."),
        ("Karim Benali", "Tout à fait."),
    ]
