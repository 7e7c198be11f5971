"""Captions: cues follow subtitling practice (2 lines of 42 characters, 1–7 s, one speaker) and the
files they make are valid WebVTT and SRT, read back by the project's own importers."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthese.core.artefacts import Segment, Word
from synthese.core.subtitles import CUE_MAX_S, CUE_MIN_S, LINE_CHARS, cues, to_srt, to_txt, to_vtt, wrap
from synthese.transcribe.importers import parse_srt, parse_vtt

SENTENCE = ("Les collectivités territoriales, qui achètent des capteurs et des plateformes, doivent "
            "mesurer leur consommation énergétique avant de multiplier les équipements. Ensuite, "
            "elles pourront comparer leurs indicateurs avec ceux des villes voisines.")


def timed(text: str, start: float, speaker: str | None, rate_s: float = 0.32, pause_after: dict | None = None):
    """A segment whose words last rate_s each, as speech recognition gives them."""
    words, clock = [], start
    for index, word in enumerate(text.split()):
        words.append(Word(start=round(clock, 3), end=round(clock + rate_s - 0.05, 3), text=word, p=0.9))
        clock += rate_s + (pause_after or {}).get(index, 0.0)
    return Segment(start=start, end=words[-1].end, text=text, speaker=speaker, words=words)


def check_limits(made):
    for cue in made:
        assert 1 <= len(cue.lines) <= 2
        assert all(0 < len(line) <= LINE_CHARS for line in cue.lines), cue.lines
        assert 0 < cue.end - cue.start <= CUE_MAX_S + 1e-9, (cue.start, cue.end)
    for before, after in zip(made, made[1:]):
        assert before.end <= after.start + 1e-9


def test_cues_from_word_times_respect_the_limits_and_cut_at_punctuation():
    segment = timed(SENTENCE, 10.0, "Claire Dubois")
    made = cues([segment])
    check_limits(made)
    assert " ".join(c.text for c in made) == SENTENCE
    assert made[0].start == 10.0 and made[-1].end >= segment.end
    # A full cue ends after the comma in its second half rather than in mid-clause.
    assert made[0].text == "Les collectivités territoriales, qui achètent des capteurs et des plateformes,"
    assert any(c.text.endswith("équipements.") for c in made)  # a sentence ends its cue


def test_a_pause_ends_a_cue_and_short_cues_last_a_second():
    segment = timed("Merci. Oui, tout à fait, je vais vous répondre.", 0.0, None, pause_after={0: 1.2})
    made = cues([segment])
    assert made[0].text == "Merci."
    assert made[0].end - made[0].start == pytest.approx(CUE_MIN_S)  # 0.27 s of speech, shown a second
    assert made[1].start == segment.words[1].start


def test_cues_never_hold_two_speakers():
    segments = [timed("Bonjour à toutes et à tous, bienvenue", 0.0, "Zoé Martin"),
                timed("Merci", 2.5, "Karim Benali"), timed("pour cette invitation.", 2.9, "Karim Benali")]
    made = cues(segments)
    assert [(c.speaker, c.text) for c in made] == [
        ("Zoé Martin", "Bonjour à toutes et à tous, bienvenue"),
        ("Karim Benali", "Merci pour cette invitation.")]
    assert [c.speaker_changed for c in made] == [True, True]


def test_a_long_imported_segment_is_shared_out_over_its_characters():
    text = " ".join([SENTENCE] * 3)  # ~600 characters in 40 s, no word times: an imported caption
    made = cues([Segment(start=100.0, end=140.0, text=text, speaker="Zoé Martin")])
    check_limits(made)
    assert " ".join(c.text for c in made) == text
    assert made[0].start == 100.0 and made[-1].end == pytest.approx(140.0, abs=0.5)
    assert len(made) >= 9


def test_vtt_and_srt_are_valid_and_read_back(tmp_path: Path):
    segments = [timed(SENTENCE, 0.0, "Claire Dubois"), timed("Vous avez raison : c'est essentiel & urgent.", 30.0,
                                                             "Marc Petit"), timed("Et ensuite ?", 34.0, "Marc Petit")]
    vtt, srt = to_vtt(segments), to_srt(segments)
    assert vtt.startswith("WEBVTT\n\n")
    assert "<v Marc Petit>Vous avez raison : c'est\nessentiel &amp; urgent.\n" in vtt
    (tmp_path / "a.vtt").write_text(vtt, encoding="utf-8")
    (tmp_path / "a.srt").write_text(srt, encoding="utf-8")
    from_vtt, from_srt = parse_vtt(tmp_path / "a.vtt").segments, parse_srt(tmp_path / "a.srt").segments
    made = cues(segments)
    expected = [(round(c.start, 3), round(c.end, 3), c.text) for c in made]
    assert [(s.start, s.end, s.text) for s in from_vtt] == expected
    # Every WebVTT cue names its speaker; SRT names the speaker where the turn starts.
    assert [s.speaker for s in from_vtt] == [c.speaker for c in made]
    assert [s.speaker for s in from_srt] == [c.speaker if c.speaker_changed else None for c in made]
    assert [s.text for s in from_srt] == [c.text for c in made]
    numbers = [block.split("\n")[0] for block in srt.strip().split("\n\n")]
    assert numbers == [str(i) for i in range(1, len(made) + 1)]


def test_writers_without_segments():
    assert to_vtt([]) == "WEBVTT\n"
    assert to_srt([]) == ""
    assert to_txt([]) == ""


def test_wrap_balances_two_lines_or_refuses():
    assert wrap("un deux trois".split()) == ["un deux trois"]
    lines = wrap(SENTENCE.split()[:10])
    assert lines and len(lines) == 2 and all(len(line) <= LINE_CHARS for line in lines)
    assert abs(len(lines[0]) - len(lines[1])) <= 12
    assert wrap(SENTENCE.split()) is None
