"""The tag stage: passages, themes from the codebook, entities, excerpts, evaluation mode.

The spaCy model (fr_core_news_md) is loaded once per test process; tagging is deterministic, so
the fixed French transcript in tests/data has exact expected passages and themes.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from synthese.core.artefacts import Segment, Tags, Transcript
from synthese.core.config import Config, load_config
from synthese.core.errors import InputError, ModelError
from synthese.files import classify_file, tag_file
from synthese.tag.passages import split_passages
from synthese.tag.tagging import tag
from synthese.tag.themes import load_nlp

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "tag_sample.transcript.json"
EVAL = REPO.parent / "shared" / "eval" / "themes"
# micro-F1 with config.yaml as measured by bench/bench_tag.py (weights, meaning directions and
# threshold calibrated on dev + dev2, so these are fits, kept as regression floors): dev 0.843,
# dev2 0.833. The margin of 0.03 lets the codebook be edited; a real regression fails. The honest
# figure is the bench's source-held-out one (0.761).
MICRO_F1_FLOORS = {"dev.jsonl": 0.813, "dev2.jsonl": 0.803}


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO / "config.yaml")


@pytest.fixture(scope="module")
def tagged(config: Config, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("tag")
    shutil.copy(SAMPLE, out / "tag_sample.transcript.json")
    path = tag_file(out / "tag_sample.transcript.json", config)
    Tags.load(path)  # the file has the current shape
    return json.loads(path.read_text(encoding="utf-8"))


def themes_of(data: dict) -> dict[str, list[str]]:
    return {p["id"]: [t["id"] for t in p["themes"]] for p in data["passages"]}


def test_fixed_text_has_exact_passages_and_themes(tagged: dict) -> None:
    assert tagged["schema"] == "synthese.tags/2"
    assert [(p["id"], p["start"], p["end"], p["speaker"]) for p in tagged["passages"]] == [
        ("p001", 0.0, 28.0, "Claire Dubois"),  # ends at the 3 s pause before "Autre sujet"
        ("p002", 31.0, 53.0, "Claire Dubois"),
        ("p003", 54.0, 80.0, "Marc Lefèvre"),
    ]
    assert themes_of(tagged) == {
        "p001": ["sobriete"],
        "p002": ["vulnerabilites"],  # the data leak "expose les habitants": not substantially about them
        "p003": ["societes"],
    }
    first = tagged["passages"][0]["themes"][0]
    assert first["source"] == "tagger" and 0 <= first["score"] <= 1
    terms = [e["term"] for e in first["evidence"] if e["kind"] == "keyword"]
    assert "gaz à effet de serre" in terms and "centre de données" in terms
    assert tagged["passages"][0]["key"] == "00:00:00 Bonjour à toutes et à tous"
    security = [e["term"] for e in tagged["passages"][1]["themes"][0]["evidence"]]
    assert "cyber*" in security  # "cybersécurité", "cyberattaque": a compound prefix of the codebook
    assert "sécurité de l'information" in security  # "l'Anssi", an acronym of the codebook
    assert {theme: [q["passage"] for q in quotes] for theme, quotes in tagged["excerpts"].items()} == {
        "sobriete": ["p001"], "instrumentation": [], "gouvernance": [],
        "entreprises": [], "vulnerabilites": ["p002"], "societes": ["p003"]}
    # The quote is the sentences that carry the theme, not the greeting that opens the passage.
    quote = tagged["excerpts"]["sobriete"][0]
    sentences = tagged["passages"][0]["sentences"]
    assert quote["sentences"] == [1, 2]
    assert quote["text"] == f"{sentences[1]['text']} {sentences[2]['text']}"
    assert quote["text"].startswith("Les centres de données consomment beaucoup d'électricité")
    assert (quote["start"], quote["end"]) == (sentences[1]["start"], sentences[2]["end"]) == (6.3, 22.0)
    assert quote["subtheme"] == "Consommation énergétique, émissions de gaz à effet de serre"


def test_artefact_header_and_entities(tagged: dict) -> None:
    assert tagged["transcript"] == "tag_sample.transcript.json"
    assert tagged["session_id"] is None
    assert tagged["models"]["nlp"].startswith("fr_core_news_md ")
    assert tagged["models"]["asr"]["name"] == "base"
    assert [t["id"] for t in tagged["codebook"]["themes"]] == [
        "sobriete", "instrumentation", "gouvernance", "entreprises", "vulnerabilites", "societes"]
    assert tagged["review"] == {"file": "tag_sample.review.yaml", "status": "not reviewed",
                                "decisions_applied": 0, "corrections": 0, "speakers": {}, "orphaned": [],
                                "approval": {"state": "draft"}}
    places = {e["text"]: e for e in tagged["entities"] if e["label"] == "LOC"}
    assert places["Rennes"]["passages"] == ["p003"] and places["Rennes"]["count"] == 1
    for entity in tagged["entities"]:
        assert len(entity["text"]) > 1 and not entity["text"][0].islower()


def test_passages_never_cross_speakers_and_stay_within_bounds(config: Config) -> None:
    segments = []
    for i in range(30):  # alternating speakers every 3 segments, no punctuation pauses
        speaker = "Anne" if (i // 3) % 2 == 0 else "Paul"
        segments.append({"id": i, "start": i * 5.0, "end": i * 5.0 + 4.5, "speaker": speaker,
                         "text": "Nous parlons de la ville et de ses habitants et des services publics locaux."})
    segments += [{"id": 99, "start": 200.0, "end": 260.0, "speaker": "Anne",
                  "text": " ".join(["la donnée circule entre les services"] * 40)}]  # one unpunctuated run
    passages = split_passages([Segment.model_validate(s) for s in segments], load_nlp(config.tag.spacy_model),
                              config.tag)
    for passage in passages:
        # Times may fall inside a long segment: every segment the passage overlaps is its speaker's.
        inside = [s for s in segments if s["start"] < passage.end and s["end"] > passage.start]
        assert inside and {s["speaker"] for s in inside} == {passage.speaker}
        assert passage.start < passage.end
        assert len(passage.text.split()) <= config.tag.passage_max_words
    # the unpunctuated run was cut into several passages of at most passage_max_words
    run = [p for p in passages if p.start >= 200.0]
    assert len(run) >= 2 and run[0].start == 200.0 and run[-1].end == 260.0
    # their times are spread over the segment, in order
    assert all(a.end <= b.start + 0.01 for a, b in zip(run, run[1:]))


def test_empty_transcript_gives_no_passages_and_a_warning(config: Config, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    data["segments"] = []
    transcript = tmp_path / "vide.transcript.json"
    transcript.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="synthese.tag.tagging"):
        result = json.loads(tag_file(transcript, config).read_text(encoding="utf-8"))
    assert result["passages"] == [] and result["entities"] == []
    assert result["excerpts"] == {t.id: [] for t in config.themes}
    assert result["warnings"] == ["vide.transcript.json: the transcript has no text, so there are no passages to tag."]
    assert "no passages to tag" in caplog.text


def test_codebook_edit_changes_tags_without_code_change(config: Config, tmp_path: Path) -> None:
    themes = [t.model_copy(update={"keywords": [*t.keywords, "personne âgée", "atelier"]})
              if t.id == "gouvernance" else t for t in config.themes]
    edited = config.model_copy(update={"themes": themes})
    shutil.copy(SAMPLE, tmp_path / "tag_sample.transcript.json")
    result = json.loads(tag_file(tmp_path / "tag_sample.transcript.json", edited).read_text(encoding="utf-8"))
    p003 = next(p for p in result["passages"] if p["id"] == "p003")
    governance = next(t for t in p003["themes"] if t["id"] == "gouvernance")
    assert [e["term"] for e in governance["evidence"]] == ["personne âgée", "droit", "atelier"]
    assert "atelier" in next(t for t in result["codebook"]["themes"] if t["id"] == "gouvernance")["keywords"]


def test_missing_spacy_model_names_the_package(config: Config, tmp_path: Path) -> None:
    broken = config.model_copy(update={"tag": config.tag.model_copy(update={"spacy_model": "fr_core_news_zz"})})
    shutil.copy(SAMPLE, tmp_path / "tag_sample.transcript.json")
    with pytest.raises(ModelError, match="fr_core_news_zz"):
        tag_file(tmp_path / "tag_sample.transcript.json", broken)


def test_tag_file_writes_into_out_dir(config: Config, tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = tag_file(SAMPLE, config, output_dir=out)
    assert path == out / "tag_sample.tags.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["inputs_hash"] and data["options"]["threshold"] == config.tag.threshold
    assert data["transcript"] == SAMPLE.name
    assert (out / "tag_sample.review.yaml").is_file()


def test_the_tag_stage_is_pure(config: Config, tmp_path: Path) -> None:
    """`tag` reads a Transcript and returns Tags: it writes nothing, and the same input gives
    the same passages and quotes."""
    transcript = Transcript.load(SAMPLE)
    before = sorted(p.name for p in SAMPLE.parent.iterdir())
    first, second = tag(transcript, config), tag(transcript, config)
    assert sorted(p.name for p in SAMPLE.parent.iterdir()) == before
    assert first.passages == second.passages and first.excerpts == second.excerpts
    assert first.inputs_hash == "" and first.transcript == SAMPLE.name


def test_evaluation_mode_output_format(config: Config, tmp_path: Path) -> None:
    rows = [{"id": "a", "text": "Les data centers consomment énormément d'électricité et émettent du carbone."},
            {"id": 7, "text": "Il fait beau aujourd'hui et nous irons nous promener au bord de la rivière."}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = classify_file(source, tmp_path / "out.jsonl", config)
    result = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in result] == ["a", 7]
    assert result[0]["themes"] == ["sobriete"] and result[1]["themes"] == []
    for row in result:
        assert set(row) == {"id", "themes", "scores"}
        assert list(row["scores"]) == [t.id for t in config.themes]
        assert all(0 <= s <= 1 for s in row["scores"].values())


def test_evaluation_mode_rejects_a_bad_row(config: Config, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "ok"}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"in.jsonl, line 2: each row needs"):
        classify_file(source, tmp_path / "out.jsonl", config)


@pytest.mark.parametrize("name", sorted(MICRO_F1_FLOORS))
def test_micro_f1_does_not_regress(config: Config, tmp_path: Path, name: str) -> None:
    labelled = EVAL / name
    if not labelled.is_file():
        pytest.skip(f"evaluation material not found at {labelled}")
    rows = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = classify_file(labelled, tmp_path / "out.jsonl", config)
    predicted = {r["id"]: set(r["themes"]) for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    tp = sum(len(set(r["themes"]) & predicted[r["id"]]) for r in rows)
    fp = sum(len(predicted[r["id"]] - set(r["themes"])) for r in rows)
    fn = sum(len(set(r["themes"]) - predicted[r["id"]]) for r in rows)
    micro_f1 = 2 * tp / (2 * tp + fp + fn)
    assert micro_f1 >= MICRO_F1_FLOORS[name]


def test_a_sentence_handing_over_to_a_speaker_is_talk_about_the_session(config: Config) -> None:
    from synthese.tag.themes import _addresses

    nlp = load_nlp(config.tag.spacy_model)
    assert _addresses(nlp("Sophie Garnier, vous avez accompagné plusieurs villes sur la sécurité.")[:])
    assert not _addresses(nlp("Sophie Garnier a accompagné plusieurs villes sur la sécurité.")[:])
    assert not _addresses(nlp("Paris, comme Lyon, investit dans les capteurs.")[:])


def test_sentences_and_passages_start_when_their_first_word_was_said(config: Config) -> None:
    """A quote's time (and its replay link) is its first word's, not its segment's: a segment
    can open with a second of silence, and hold several sentences."""
    first = "Les collectivités mesurent mal la consommation de leurs réseaux numériques."
    second = "Elles découvrent ensuite que les terminaux pèsent plus que les centres de données."
    words, clock = [], 11.2  # the segment starts at 10.0: its first word 1.2 s later
    for index, text in enumerate(f"{first} {second}".split()):
        clock += 0.9 if index == len(first.split()) else 0.0  # a pause between the sentences
        words.append({"start": round(clock, 2), "end": round(clock + 0.3, 2), "text": text, "p": 0.9})
        clock += 0.35
    segment = Segment.model_validate({"id": 0, "start": 10.0, "end": words[-1]["end"] + 0.5, "speaker": "Anne",
                                      "text": f"{first} {second}", "words": words})
    passages = split_passages([segment], load_nlp(config.tag.spacy_model), config.tag)
    sentences = [s for p in passages for s in p.sentences]
    assert [s.text for s in sentences] == [first, second]
    second_at = words[len(first.split())]["start"]
    assert sentences[0].start == pytest.approx(11.2, abs=0.01) and passages[0].start == pytest.approx(11.2, abs=0.01)
    assert sentences[1].start == pytest.approx(second_at, abs=0.01)
    assert sentences[0].end == pytest.approx(words[len(first.split()) - 1]["end"], abs=0.01)


def _with_words(transcript: Transcript, unsure: dict[int, str]) -> Transcript:
    """Every segment given word times and probabilities; the words named in `unsure` (segment
    index -> word) heard with probability 0.2."""
    from synthese.core.artefacts import Word

    revised = transcript.model_copy(deep=True)
    for index, segment in enumerate(revised.segments):
        tokens = segment.text.split()
        step = (segment.end - segment.start) / len(tokens)
        segment.words = [Word(start=round(segment.start + i * step, 3), end=round(segment.start + (i + 1) * step, 3),
                              text=token, p=0.2 if unsure.get(index) == token else 0.95)
                         for i, token in enumerate(tokens)]
    return revised


def test_a_sentence_with_an_unsure_word_is_held_back_until_corrected_or_confirmed(config: Config) -> None:
    from synthese.core.review_file import parse_review

    transcript = _with_words(Transcript.load(SAMPLE), {1: "d'électricité"})
    said = transcript.segments[1].text
    plain = tag(transcript, config)
    sentences = [(p, i) for p in plain.passages for i, s in enumerate(p.sentences) if s.text == said]
    [(passage, index)] = sentences
    assert [w.text for w in passage.sentences[index].unsure] == ["d'électricité"]
    printed = [q for quotes in plain.excerpts.values() for q in quotes] + plain.key_points.session \
        + [q for points in plain.key_points.themes.values() for q in points]
    assert not any(q.passage == passage.id and index in q.sentences for q in printed)
    assert any(h.passage == passage.id and h.doubtful == [index] and h.reasons == ["unsure"] for h in plain.held)
    # A reviewer confirms the sentence, or corrects the word: it is no longer doubtful.
    confirmed = tag(transcript, config, review=parse_review(
        f'confirm:\n  - {{passage: "{passage.key}", sentences: [{index}]}}\n', "r.yaml"))
    assert not any(h.passage == passage.id for h in confirmed.held)
    assert any(q.passage == passage.id and index in q.sentences for q in confirmed.excerpts["sobriete"])
    corrected = tag(transcript, config, review=parse_review(
        'corrections:\n  - {at: "00:00:08", original: "d\'électricité", corrected: "d\'électricité"}\n', "r.yaml"))
    assert corrected.review.orphaned == []
    assert not any(s.unsure for p in corrected.passages for s in p.sentences)


def test_a_session_mostly_off_the_themes_is_warned_about(config: Config) -> None:
    cooking = ["La pâte doit reposer une heure au frais avant de l'étaler finement sur le plan de travail.",
               "On ajoute ensuite les pommes coupées en lamelles, le sucre et une pincée de cannelle.",
               "La cuisson dure quarante minutes dans un four chaud, jusqu'à ce que la croûte soit dorée."]
    segments = [Segment(id=i, start=20.0 * i, end=20.0 * i + 18, text=" ".join([text] * 4), speaker="Chef")
                for i, text in enumerate(cooking)]
    transcript = Transcript.load(SAMPLE).model_copy(update={"segments": segments})
    tags = tag(transcript, config, session_id="cuisine")
    # The session is named once, by whoever shows the warning (`synthese status`: "session cuisine: …").
    assert any(w.startswith("3 of 3 passages (100 %) have no theme of the cycle") for w in tags.warnings)
    assert not any("have no theme" in w for w in tag(Transcript.load(SAMPLE), config).warnings)


def test_passages_read_whole_sentences_where_the_recogniser_cut_them(config: Config) -> None:
    from synthese.core.heard import Mending

    texts = ["Nous devons mesurer l'effet des climats,", "Et même celui des usages sur nos réseaux.",
             "Cela demande la vérification.", "Qui nécessite toujours du temps et des agents formés.",
             "Il faut enfin mutualiser les.", "Serveurs de la métropole avec les communes voisines."]
    segments = [Segment(id=i, start=4.0 * i, end=4.0 * i + 3.8, text=t, speaker="Anne") for i, t in enumerate(texts)]
    mending = Mending.from_wording(config.templates.wording())
    [passage] = split_passages(segments, load_nlp(config.tag.spacy_model), config.tag, mending=mending)
    assert [s.text for s in passage.sentences] == [
        "Nous devons mesurer l'effet des climats, et même celui des usages sur nos réseaux.",
        "Cela demande la vérification, qui nécessite toujours du temps et des agents formés.",
        "Il faut enfin mutualiser les Serveurs de la métropole avec les communes voisines."]
    assert passage.sentences[1].start == 8.0 and passage.sentences[2].end == 23.8
