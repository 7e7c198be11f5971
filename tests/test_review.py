"""Human review decisions: they survive re-runs, orphans are reported, a broken file is an error."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from synthese.core.artefacts import Segment, SourceFile, Transcript, Word
from synthese.core.config import Config, load_config
from synthese.core.errors import ReviewError
from synthese.core.resources import TemplateSet
from synthese.core.review_file import ensure_review_file, load_review, parse_review, passage_key, revise_transcript
from synthese.files import tag_file

REVIEW_TEMPLATE = TemplateSet().read_text("review.fr.yaml")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "tag_sample.transcript.json"
P001 = "00:00:00 Bonjour à toutes et à tous"
P002 = "00:00:31 Autre sujet la cybersécurité l'Anssi rappelle"
P003 = "00:00:54 Je voudrais parler des habitants et"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config.yaml")


def with_threshold(config: Config, threshold: float) -> Config:
    return config.model_copy(update={"tag": config.tag.model_copy(update={"threshold": threshold})})


def tag(folder: Path, config: Config) -> dict:
    transcript = folder / "tag_sample.transcript.json"
    if not transcript.exists():
        shutil.copy(SAMPLE, transcript)
    return json.loads(tag_file(transcript, config).read_text(encoding="utf-8"))


def themes(data: dict, pid: str) -> dict[str, str]:
    passage = next(p for p in data["passages"] if p["id"] == pid)
    return {t["id"]: t["source"] for t in passage["themes"]}


def test_review_file_is_created_once_and_never_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "s.review.yaml"
    ensure_review_file(path, REVIEW_TEMPLATE)
    assert path.read_text(encoding="utf-8") == REVIEW_TEMPLATE
    assert load_review(path).empty
    path.write_text("accept:\n  - {passage: \"00:00:00 x\", theme: sobriete}\n", encoding="utf-8")
    ensure_review_file(path, REVIEW_TEMPLATE)
    assert path.read_text(encoding="utf-8").startswith("accept:")


def test_control_characters_written_in_the_review_file_are_left_out() -> None:
    """Names and corrections reach every document, the site and the subtitles: control
    characters (YAML escapes such as "\\e" or "\\a") are dropped as the importers drop them."""
    review = parse_review('speakers:\n  "Intervenant\\a 1": "Zoé\\0 \\e[31mMartin\\x07"\n'
                          'corrections:\n  - {at: "00:00:05", original: "veux\\x1b-binaire", corrected: "web\\einaire"}\n'
                          'accept:\n  - {passage: "00:00:00 Bonjour", theme: "sobri\\eete"}\n', "s.review.yaml")
    assert review.speakers == {"Intervenant 1": "Zoé [31mMartin"}
    assert [(c.original, c.corrected) for c in review.corrections] == [("veux-binaire", "webinaire")]
    assert review.decisions[0].theme == "sobriete"


def test_passage_key() -> None:
    assert passage_key(3725.4, "« Bonjour », dit-elle, à tous les élus présents ici.") == \
        "01:02:05 Bonjour dit-elle à tous les élus"


def test_decisions_survive_a_rerun_with_other_thresholds(config: Config, tmp_path: Path) -> None:
    first = tag(tmp_path, config)
    assert [p["key"] for p in first["passages"]] == [P001, P002, P003]
    review = tmp_path / "tag_sample.review.yaml"
    review.write_text(
        REVIEW_TEMPLATE.replace("accept: []", f'accept:\n  - {{passage: "{P001}", theme: instrumentation}}')
        .replace("reject: []", f'reject:\n  - {{passage: "{P002}", theme: societes}}')
        .replace("add: []", f'add:\n  - {{passage: "{P003}", theme: gouvernance, note: "droits"}}')
        .replace("pin: []", f'pin:\n  - {{passage: "{P002}", theme: societes}}')
        .replace("exclude: []", f'exclude:\n  - {{passage: "{P003}", theme: societes}}'),
        encoding="utf-8",
    )
    before = review.read_text(encoding="utf-8")
    for threshold in (config.tag.threshold, 0.95, 0.2):  # stricter, then looser, than calibrated
        data = tag(tmp_path, with_threshold(config, threshold))
        assert themes(data, "p001")["instrumentation"] == "review"
        assert "societes" not in themes(data, "p002")
        assert themes(data, "p003")["gouvernance"] == "review"
        quoted = [q["passage"] for q in data["excerpts"]["societes"]]
        assert "p002" in quoted and "p003" not in quoted
        assert data["review"] == {"file": "tag_sample.review.yaml", "status": "reviewed",
                                  "decisions_applied": 5, "corrections": 0, "speakers": {}, "orphaned": [],
                                  "approval": {"state": "draft"}}
    assert themes(data, "p001")["sobriete"] == "tagger"
    assert review.read_text(encoding="utf-8") == before


def test_a_key_with_another_time_still_finds_its_passage(config: Config, tmp_path: Path) -> None:
    (tmp_path / "tag_sample.review.yaml").write_text(
        'add:\n  - {passage: "00:00:59 je voudrais parler des HABITANTS et", theme: entreprises}\n',
        encoding="utf-8")
    data = tag(tmp_path, config)
    assert themes(data, "p003")["entreprises"] == "review"


def test_orphaned_decision_is_reported(config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "tag_sample.review.yaml").write_text(
        f'accept:\n  - {{passage: "{P001}", theme: sobriete}}\n'
        'reject:\n  - {passage: "00:10:00 Un passage disparu depuis", theme: gouvernance}\n'
        f'add:\n  - {{passage: "{P001}", theme: mobilite}}\n',
        encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="synthese.core.review_file"):
        data = tag(tmp_path, config)
    assert data["review"]["decisions_applied"] == 1 and data["review"]["status"] == "reviewed"
    assert data["review"]["orphaned"] == [
        'reject gouvernance on "00:10:00 Un passage disparu depuis" (line 4): passage not found',
        f"add mobilite on \"{P001}\" (line 6): unknown theme 'mobilite'",
    ]
    assert "passage not found" in caplog.text
    assert data["warnings"][0].startswith("review decision not applied: reject gouvernance")


def test_broken_review_yaml_is_an_error_with_its_line(config: Config, tmp_path: Path) -> None:
    review = tmp_path / "tag_sample.review.yaml"
    text = 'accept:\n  - {passage: "00:00:00 Bonjour", theme: sobriete\nreject: []\n'
    review.write_text(text, encoding="utf-8")
    with pytest.raises(ReviewError) as error:
        tag(tmp_path, config)
    assert str(error.value) == (
        "tag_sample.review.yaml, line 3: YAML syntax error: expected ',' or '}', but got ':'. "
        "Fix the review file (it was left unchanged) and re-run."
    )
    assert review.read_text(encoding="utf-8") == text
    assert not (tmp_path / "tag_sample.tags.json").exists()


def test_review_structure_errors_name_the_line(tmp_path: Path) -> None:
    review = tmp_path / "r.review.yaml"
    review.write_text("accept: []\npinned:\n  - {passage: x, theme: y}\n", encoding="utf-8")
    with pytest.raises(ReviewError, match=r"^r.review.yaml, line 2: unknown list 'pinned'"):
        load_review(review)
    review.write_text("add:\n  - {passage: \"00:00:01 Bonjour\"}\n", encoding="utf-8")
    with pytest.raises(ReviewError, match=r"^r.review.yaml, line 2: 'passage' and 'theme' are required"):
        load_review(review)


def test_a_review_edit_reapplies_decisions_without_retagging(config: Config, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first = tag(tmp_path, config)
    assert "sobriete" in themes(first, "p001")
    review = tmp_path / "tag_sample.review.yaml"
    review.write_text(REVIEW_TEMPLATE.replace("reject: []", f'reject:\n  - {{passage: "{P001}", theme: sobriete}}'),
                      encoding="utf-8")

    def no_model(name: str):
        raise AssertionError("the language model was loaded again for a review edit")

    monkeypatch.setattr("synthese.tag.tagging.load_nlp", no_model)
    second = tag(tmp_path, config)
    assert "sobriete" not in themes(second, "p001")
    assert [p["key"] for p in second["passages"]] == [p["key"] for p in first["passages"]]
    assert second["review"]["decisions_applied"] == 1
    # A codebook change is not a review edit: the passages are tagged again.
    edited = config.model_copy(update={"themes": [config.themes[0].model_copy(update={"keywords": ["énergie"]}),
                                                  *config.themes[1:]]})
    with pytest.raises(AssertionError, match="loaded again"):
        tag(tmp_path, edited)


# --- corrections and names of voices ----------------------------------------------------------------

def _transcript(*segments: tuple[float, float, str, str | None], words: bool = False) -> Transcript:
    result = []
    for index, (start, end, text, speaker) in enumerate(segments):
        tokens = text.split()
        step = (end - start) / len(tokens)
        result.append(Segment(id=index, start=start, end=end, text=text, speaker=speaker,
                              words=[Word(start=start + i * step, end=start + (i + 1) * step, text=token, speaker=speaker)
                                     for i, token in enumerate(tokens)] if words else []))
    return Transcript(source=SourceFile(file="s.ogg", sha256="0", kind="audio"), language="fr", duration_s=60,
                      segments=result)


def test_a_correction_replaces_the_misheard_words_where_they_were_said():
    transcript = _transcript((0, 10, "Les data centaires émettent des gars à effet de serre.", "Intervenant 1"),
                             (50, 60, "Ailleurs, des gars à effet de serre encore.", "Intervenant 2"), words=True)
    review = parse_review('corrections:\n'
                          '  - {at: "00:00:04", original: "gars à effet de serre", corrected: "gaz à effet de serre"}\n'
                          '  - {at: "00:00:02", original: "data centaires", corrected: "data centers"}\n', "r.yaml")
    revised, orphaned = revise_transcript(transcript, review)
    assert orphaned == []
    assert revised.segments[0].text == "Les data centers émettent des gaz à effet de serre."
    # The other occurrence, said later, is left: a correction applies where it was said.
    assert revised.segments[1].text == "Ailleurs, des gars à effet de serre encore."
    words = revised.segments[0].words
    assert [w.text for w in words] == "Les data centers émettent des gaz à effet de serre.".split()
    assert all(a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))
    assert transcript.segments[0].text.startswith("Les data centaires")  # the original is untouched


def test_a_correction_whose_words_are_gone_is_reported_not_applied_elsewhere():
    transcript = _transcript((0, 10, "Les centres de données consomment.", None),
                             (200, 210, "Les data centaires consomment.", None))
    review = parse_review('corrections:\n  - {at: "00:00:05", original: "data centaires", corrected: "data centers"}\n',
                          "r.yaml")
    revised, orphaned = revise_transcript(transcript, review)
    assert orphaned == ['correction "data centaires" -> "data centers" at 00:00:05 (line 2): words not found '
                        'near that time']
    assert [s.text for s in revised.segments] == [s.text for s in transcript.segments]


def test_named_voices_replace_their_labels_and_a_stale_name_is_reported():
    transcript = _transcript((0, 5, "Bonjour à tous.", "Intervenant 1"), (5, 9, "Merci, bonjour.", "Intervenant 2"),
                             words=True)
    review = parse_review('speakers:\n  Intervenant 1: François Ménard\n  Intervenant 3: Zoé Martin\n', "r.yaml")
    revised, orphaned = revise_transcript(transcript, review)
    assert [s.speaker for s in revised.segments] == ["François Ménard", "Intervenant 2"]
    assert {w.speaker for w in revised.segments[0].words} == {"François Ménard"}
    assert orphaned == ['speakers: "Intervenant 3" (line 3): no voice of that name in the transcript']


def test_review_sections_are_checked():
    with pytest.raises(ReviewError, match=r"^r.yaml, line 2: 'at' \(HH:MM:SS\), 'original' and 'corrected' are "
                                          r"required"):
        parse_review('corrections:\n  - {at: "vers 3 min", original: "x", corrected: "y"}\n', "r.yaml")
    with pytest.raises(ReviewError, match=r"^r.yaml, line 1: 'speakers' must map each voice to a name"):
        parse_review("speakers: [Intervenant 1]\n", "r.yaml")


def test_corrections_and_names_reach_the_tags(config: Config, tmp_path: Path) -> None:
    first = tag(tmp_path, config)
    text = first["passages"][0]["text"]
    word = text.split()[3]
    (tmp_path / "tag_sample.review.yaml").write_text(
        f'corrections:\n  - {{at: "00:00:01", original: "{word}", corrected: "ÉCRIT-JUSTE"}}\n'
        'speakers:\n  Claire Dubois: Claire Dubois-Martin\n', encoding="utf-8")
    second = tag(tmp_path, config)
    assert "ÉCRIT-JUSTE" in second["passages"][0]["text"] and word not in second["passages"][0]["text"].split()[3]
    assert second["passages"][0]["speaker"] == "Claire Dubois-Martin"
    assert second["review"]["corrections"] == 1 and second["review"]["speakers"] == {"Claire Dubois": "Claire Dubois-Martin"}
    assert second["review"]["status"] == "reviewed"


def test_a_pin_may_choose_the_sentences_to_quote():
    from synthese.core.artefacts import Passage, Sentence
    from synthese.core.config import TagOptions
    from synthese.tag.decisions import apply_review
    from synthese.tag.excerpts import SessionEvidence, select_quotes

    sentences = [Sentence(start=10 + 5 * i, end=14 + 5 * i, text=f"Phrase {i}.") for i in range(4)]
    passage = Passage(id="p001", key="00:00:10 Phrase 0 Phrase 1", start=10, end=29,
                      text=" ".join(s.text for s in sentences), sentences=sentences)
    review = parse_review('pin:\n  - {passage: "00:00:10 Phrase 0 Phrase 1", theme: sobriete, sentences: [3, 1]}\n'
                          '  - {passage: "00:00:10 Phrase 0 Phrase 1", theme: gouvernance, sentences: [1, 2]}\n'
                          '  - {passage: "00:00:10 Phrase 0 Phrase 1", theme: instrumentation, sentences: [4]}\n',
                          "r.yaml")
    assert review.decisions[0].sentences == (1, 3)
    outcome = apply_review([passage], review.decisions, ["sobriete", "gouvernance", "instrumentation"], {})
    assert outcome.applied == 2
    # A sentence the passage no longer has: the pin is reported, never applied to other words.
    assert outcome.orphaned == ['pin instrumentation on "00:00:10 Phrase 0 Phrase 1" (line 4): sentence 4 '
                                'not in the passage (it has 4, numbered from 0)']
    evidence = SessionEvidence({}, {}, ["sobriete", "gouvernance", "instrumentation"], TagOptions())
    chosen = select_quotes([passage], evidence, outcome.choices)
    assert [(q.text, q.start, q.end) for q in chosen["sobriete"]] == [("Phrase 1. […] Phrase 3.", 15, 29)]
    assert [(q.text, q.start, q.end) for q in chosen["gouvernance"]] == [("Phrase 1. Phrase 2.", 15, 24)]


def test_sentences_are_for_pins_only_and_numbers():
    with pytest.raises(ReviewError, match=r"^r.yaml, line 2: 'sentences' must list the numbers"):
        parse_review('pin:\n  - {passage: "00:00:01 x", theme: t, sentences: [un]}\n', "r.yaml")
    with pytest.raises(ReviewError, match=r"^r.yaml, line 2: each item of 'exclude' must be \{passage"):
        parse_review('exclude:\n  - {passage: "00:00:01 x", theme: t, sentences: [1]}\n', "r.yaml")


def test_locate_correction_says_where_revise_applies_it():
    from synthese.core.review_file import Correction, locate_correction

    transcript = _transcript((0, 10, "le plan de la ville et de la région", None),
                             (10, 12, "de la", None))
    # "de la" said at 11 s: the short segment nearest that time, first.
    assert locate_correction(transcript, Correction(11, "de la", "du", 1)) == (1, 0)
    assert locate_correction(transcript, Correction(4, "de la région", "du pays", 1)) == (0, 6)
    assert locate_correction(transcript, Correction(4, "absent", "x", 1)) is None


def test_a_correction_gives_its_words_no_probability_even_where_the_recogniser_split_them():
    from synthese.core.heard import text_word_owners

    words = [Word(start=0.0, end=0.3, text="La", p=0.9), Word(start=0.3, end=0.6, text="loi", p=0.9),
             Word(start=0.6, end=1.0, text="Jack", p=0.2), Word(start=1.0, end=1.2, text="s", p=0.3),
             Word(start=1.2, end=1.4, text="'applique.", p=0.9)]
    transcript = Transcript(source=SourceFile(file="s.ogg", sha256="0", kind="audio"), language="fr",
                            duration_s=2, segments=[Segment(start=0, end=1.4, text="La loi Jack s'applique.",
                                                            words=words)])
    review = parse_review('corrections:\n  - {at: "00:00:00", original: "Jack", corrected: "AGEC"}\n', "r.yaml")
    revised = revise_transcript(transcript, review)[0].segments[0]
    assert revised.text == "La loi AGEC s'applique."
    # One word per word shown (the captions take each one's time); the recogniser's "s" +
    # "'applique." keep their lowest probability, the corrected word has none.
    assert [(w.text, w.p) for w in revised.words] == [("La", 0.9), ("loi", 0.9), ("AGEC", None),
                                                      ("s'applique.", 0.3)]
    assert text_word_owners(revised) == [[0], [1], [2], [3]]


def test_confirmations_name_a_passage_and_its_sentences():
    from synthese.core.artefacts import Passage, Sentence
    from synthese.core.review_file import confirmed_sentences

    review = parse_review('confirm:\n  - {passage: "00:00:10 Phrase 0 Phrase 1", sentences: [2, 0]}\n'
                          '  - {passage: "00:00:10 Phrase 0 Phrase 1", sentences: [5], note: relu}\n'
                          '  - {passage: "00:09:00 Ailleurs", sentences: [0]}\n', "r.yaml")
    assert [(c.passage, c.sentences, c.line) for c in review.confirmations] == [
        ("00:00:10 Phrase 0 Phrase 1", (0, 2), 2), ("00:00:10 Phrase 0 Phrase 1", (5,), 3),
        ("00:09:00 Ailleurs", (0,), 4)]
    assert not review.empty
    sentences = [Sentence(start=10 + 5 * i, end=14 + 5 * i, text=f"Phrase {i}.") for i in range(4)]
    passage = Passage(id="p001", key="00:00:10 Phrase 0 Phrase 1", start=10, end=29,
                      text=" ".join(s.text for s in sentences), sentences=sentences)
    confirmed, orphaned = confirmed_sentences(review.confirmations, [passage])
    assert confirmed == {"p001": {0, 2}}
    assert orphaned == ['confirm sentences [5] of "00:00:10 Phrase 0 Phrase 1" (line 3): sentence 5 not in the '
                        'passage (it has 4, numbered from 0)',
                        'confirm sentences [0] of "00:09:00 Ailleurs" (line 4): passage not found']
    with pytest.raises(ReviewError, match=r"^r.yaml, line 2: 'passage' and 'sentences' are required"):
        parse_review('confirm:\n  - {passage: "00:00:10 Phrase 0"}\n', "r.yaml")
    with pytest.raises(ReviewError, match=r"^r.yaml, line 2: unknown key 'theme'"):
        parse_review('confirm:\n  - {passage: "00:00:10 Phrase 0", sentences: [0], theme: sobriete}\n', "r.yaml")
    with pytest.raises(ReviewError, match=r"^r.yaml, line 1: 'confirm' must be a list of \{passage"):
        parse_review('confirm: oui\n', "r.yaml")
