"""Revising a transcript: corrections across segments, punctuation and sentences, stretches
marked inaudible or deleted, and the cycle's glossary (pipeline/core/revision.py, applied by
review_file.revise_transcript)."""

from __future__ import annotations

import pytest

from synthese.core.artefacts import Segment, SourceFile, Transcript, Word
from synthese.core.errors import ReviewError
from synthese.core.glossary import parse_glossary
from synthese.core.review_file import parse_review, revise, revise_transcript


def transcript(*segments: tuple[float, float, str, str | None], words: bool = True) -> Transcript:
    result = []
    for index, (start, end, text, speaker) in enumerate(segments):
        tokens = text.split()
        step = (end - start) / len(tokens)
        result.append(Segment(id=index, start=start, end=end, text=text, speaker=speaker, words=[
            Word(start=round(start + i * step, 3), end=round(start + (i + 1) * step, 3), text=token, p=0.9,
                 speaker=speaker) for i, token in enumerate(tokens)] if words else []))
    return Transcript(source=SourceFile(file="s.ogg", sha256="0", kind="audio"), language="fr", duration_s=60,
                      segments=result)


def corrections(*items: tuple[str, str, str]) -> str:
    return "corrections:\n" + "".join(f'  - {{at: "{at}", original: "{o}", corrected: "{c}"}}\n' for at, o, c in items)


TWO = transcript((0, 4, "Bonjour à tous, la ville intelligente", "A"),
                 (4, 8, "c'est aussi la ville sobre et juste.", "A"),
                 (8, 12, "Merci pour cette introduction.", "B"))


def test_a_correction_across_two_segments_with_punctuation_and_a_sentence_break():
    review = parse_review(corrections(("00:00:03", "la ville intelligente c'est aussi",
                                       "la ville intelligente. C'est, aussi")), "r.yaml")
    revised, orphaned = revise_transcript(TWO, review)
    assert orphaned == []
    # The boundary moved to the new sentence end: each segment holds whole sentences.
    assert [s.text for s in revised.segments] == ["Bonjour à tous, la ville intelligente.",
                                                  "C'est, aussi la ville sobre et juste.",
                                                  "Merci pour cette introduction."]
    # Unchanged words keep their times; the moved word keeps its own.
    before = {w.text: (w.start, w.end) for s in TWO.segments for w in s.words}
    after = {w.text: (w.start, w.end) for s in revised.segments for w in s.words}
    for word in ("Bonjour", "ville", "sobre", "aussi"):
        assert after[word] == before[word]
    assert after["C'est,"] == before["c'est"] and after["intelligente."] == before["intelligente"]
    assert revised.segments[1].start == before["c'est"][0] and revised.segments[0].end == before["intelligente"][1]
    assert all(len(s.words) == len(s.text.split()) for s in revised.segments)


def test_a_sentence_end_removed_between_two_voices_leaves_both_segments():
    review = parse_review(corrections(("00:00:07", "juste. Merci pour", "juste, merci pour")), "r.yaml")
    revised, _ = revise_transcript(TWO, review)
    assert [s.speaker for s in revised.segments] == ["A", "A", "B"]
    assert revised.segments[1].text.endswith("juste,") and revised.segments[2].text.startswith("merci pour")


def test_punctuation_around_the_words_stays_unless_the_correction_brings_its_own():
    t = transcript((0, 6, "Les data centaires, émettent des gars.", None))
    review = parse_review(corrections(("00:00:01", "centaires,", "centers"), ("00:00:04", "gars.", "gaz !")), "r")
    assert revise_transcript(t, review)[0].segments[0].text == "Les data centers, émettent des gaz !"
    # New words take the times of those they replace, in proportion to their length.
    review = parse_review(corrections(("00:00:01", "data centaires,", "centres de données,")), "r")
    words = revise_transcript(t, review)[0].segments[0].words
    replaced = [w for w in words if w.text in ("centres", "de", "données,")]
    assert replaced[0].start == pytest.approx(t.segments[0].words[1].start)
    assert replaced[-1].end == pytest.approx(t.segments[0].words[2].end)
    assert all(w.p is None for w in replaced) and words[0].p == 0.9
    assert replaced[2].end - replaced[2].start > replaced[1].end - replaced[1].start


def test_inaudible_and_deleted_stretches():
    review = parse_review(corrections(("00:00:05", "aussi la ville", "[inaudible]"),
                                      ("00:00:09", "Merci pour cette introduction.", "")), "r.yaml")
    assert [c.kind for c in review.corrections] == ["inaudible", "delete"]
    revised = revise(TWO, review)
    assert revised.orphaned == []
    # A segment whose words are all deleted is left out.
    assert [s.text for s in revised.transcript.segments] == ["Bonjour à tous, la ville intelligente",
                                                             "c'est [inaudible] sobre et juste."]
    mark = next(p for p in revised.pieces[1] if p.text == "[inaudible]")
    assert mark.source == "correction" and mark.replaced == "aussi la ville" and mark.p is None


def test_words_added_take_their_time_from_their_neighbours():
    t = transcript((0, 4, "un deux trois quatre", None))
    revised = revise(t, parse_review(corrections(("00:00:01", "deux trois", "deux et demi trois")), "r"))
    words = revised.transcript.segments[0].words
    assert [w.text for w in words] == ["un", "deux", "et", "demi", "trois", "quatre"]
    assert words[1].end <= words[2].start <= words[3].end <= words[4].start
    assert [p.source for p in revised.pieces[0]] == ["", "", "correction", "correction", "", ""]


def test_a_transcript_without_word_times_is_corrected_all_the_same():
    t = transcript((0, 10, "la ville intelligente", None), (10, 20, "c'est la ville sobre.", None), words=False)
    revised, orphaned = revise_transcript(t, parse_review(corrections(("00:00:05", "intelligente c'est",
                                                                        "intelligente. C'est")), "r"))
    assert orphaned == [] and [s.text for s in revised.segments] == ["la ville intelligente.", "C'est la ville sobre."]
    assert all(not s.words for s in revised.segments)


GLOSSARY = ('- {heard: "data centaires", written: "data centers"}\n'
            '- {heard: "smart cité", written: "smart city"}\n'
            '- {heard: "Lyon", written: "Lyon"}\n')


def test_the_glossary_writes_its_words_everywhere_keeping_a_capital_at_a_sentence_start():
    t = transcript((0, 6, "Data centaires et DATA CENTAIRES, la smart cité.", None),
                   (6, 12, "Smart cité ici. Les data centairesx restent, lyon aussi.", None))
    review = parse_review("", "r")
    review.glossary = parse_glossary(GLOSSARY, "glossary.yaml")
    revised = revise(t, review)
    assert [s.text for s in revised.transcript.segments] == [
        "Data centers et data centers, la smart city.", "Smart city ici. Les data centairesx restent, Lyon aussi."]
    assert {p.source for s in revised.pieces for p in s if p.text.startswith(("centers", "city"))} == {"glossary"}


def test_a_correction_written_before_a_glossary_entry_still_applies():
    t = transcript((0, 6, "Les data centaires consomment.", None))
    review = parse_review(corrections(("00:00:02", "data centaires consomment.", "data centers consomment beaucoup.")),
                          "r")
    review.glossary = parse_glossary(GLOSSARY, "glossary.yaml")
    revised, orphaned = revise_transcript(t, review)
    assert orphaned == [] and revised.segments[0].text == "Les data centers consomment beaucoup."


def test_the_glossary_is_checked_with_its_lines():
    assert parse_glossary("", "g.yaml") == [] and parse_glossary("# rien\n", "g.yaml") == []
    with pytest.raises(ReviewError, match=r"^g.yaml, line 2: unknown key 'said'"):
        parse_glossary('- {heard: a, written: b}\n- {heard: c, said: d}\n', "g.yaml")
    with pytest.raises(ReviewError, match=r"^g.yaml, line 2: \"Data Centaires\" is already in the glossary \(line 1\)"):
        parse_glossary('- {heard: data centaires, written: x}\n- {heard: "Data Centaires", written: y}\n', "g.yaml")
    with pytest.raises(ReviewError, match=r"^g.yaml, line 1: 'heard' and 'written' must both be words"):
        parse_glossary('- {heard: "…", written: b}\n', "g.yaml")
    with pytest.raises(ReviewError, match=r"^g.yaml, line 1: the glossary must be a list"):
        parse_glossary('heard: a\n', "g.yaml")


def test_a_sentence_marked_inaudible_is_never_quoted():
    from synthese.core.artefacts import Passage, Sentence
    from synthese.core.config import TagOptions
    from synthese.tag.decisions import apply_review
    from synthese.tag.excerpts import SessionEvidence, select_quotes

    texts = ["La ville mesure tout.", "Les capteurs [inaudible] partout.", "Elle le publie."]
    sentences = [Sentence(start=10 + 5 * i, end=14 + 5 * i, text=text) for i, text in enumerate(texts)]
    passage = Passage(id="p001", key="00:00:10 La ville mesure tout", start=10, end=24, text=" ".join(texts),
                      sentences=sentences)
    review = parse_review('pin:\n  - {passage: "00:00:10 La ville mesure tout", theme: t, sentences: [0, 1]}\n'
                          '  - {passage: "00:00:10 La ville mesure tout", theme: u}\n', "r.yaml")
    outcome = apply_review([passage], review.decisions, ["t", "u"], {})
    chosen = select_quotes([passage], SessionEvidence({}, {}, ["t", "u"], TagOptions()), outcome.choices)
    assert [q.text for q in chosen["t"]] == ["La ville mesure tout."]
    assert all("[inaudible]" not in q.text for quotes in chosen.values() for q in quotes)


def test_a_sentence_marked_inaudible_never_counts_as_unsure():
    from synthese.core.approval import left_to_review, voice_pattern
    from synthese.core.artefacts import Passage, Sentence, UnsureWord
    from synthese.review.view import shown_tokens
    from synthese.tag.excerpts import sentence_doubts

    t = transcript((0, 4, "Les capteurs mesurent partout.", "A"), (4, 8, "La ville publie tout.", "A"))
    t.segments[0].words[2].p = 0.2  # "mesurent"
    t.segments[1].words[2].p = 0.3  # "publie"
    review = parse_review(corrections(("00:00:01", "capteurs", "[inaudible]")), "r.yaml")
    revised = revise(t, review)
    assert [s.text for s in revised.transcript.segments] == ["Les [inaudible] mesurent partout.", "La ville publie tout."]
    # The mark's sentence has nothing left to check; the next sentence still has its unsure word.
    todo = {x.kind: x.count for x in left_to_review(t, review, None, voice_pattern("Intervenant {n}"))}
    assert todo["uncertain_words"] == 1
    assert [x.text for x in shown_tokens(revised) if x.low] == ["publie"]
    sentences = [Sentence(start=0, end=4, text="Les [inaudible] mesurent partout.",
                          unsure=[UnsureWord(text="mesurent", p=0.2, at=2)]),
                 Sentence(start=4, end=8, text="La ville publie tout.", unsure=[UnsureWord(text="publie", p=0.3, at=6)])]
    passage = Passage(id="p001", key="00:00:00 Les inaudible mesurent partout", start=0, end=8,
                      text=" ".join(s.text for s in sentences), sentences=sentences)
    assert sentence_doubts([passage], [], {}) == {"p001": {1: ["unsure"]}}
    assert sentence_doubts([passage], [], {"p001": {1}}) == {}


def test_the_glossary_is_an_input_of_tagging_and_never_of_transcription(tmp_path):
    import yaml
    from conftest import repository_config

    from synthese.core.config import load_config
    from synthese.stages import tag_inputs_hash, transcribe_inputs_hash

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(repository_config(), allow_unicode=True), encoding="utf-8")
    config = load_config(tmp_path / "config.yaml")
    media, review = tmp_path / "s.ogg", tmp_path / "s.review.yaml"
    media.write_bytes(b"OggS")

    def hashes():
        return (transcribe_inputs_hash(media, config, config.sessions[0].speakers),
                tag_inputs_hash(tmp_path / "s.transcript.json", review, config, config.sessions[0]))

    before = hashes()
    (tmp_path / "glossary.yaml").write_text('- {heard: "data centaires", written: "data centers"}\n', encoding="utf-8")
    after = hashes()
    assert after[0] == before[0] and after[1] != before[1]
