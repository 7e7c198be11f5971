"""Keyword weights, matching that generalises, calibration and review feedback.

Real spaCy model (fr_core_news_md); the meaning signal is switched off where a test is about
keywords alone, so the expected results follow from the codebook written in the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthese.core.config import Config, load_config
from synthese.core.errors import ConfigError
from synthese.files import calibrate_files as calibrate_cli
from synthese.files import export_labels_file, tag_file
from synthese.tag.themes import ThemeClassifier, above_threshold, load_nlp

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "tag_sample.transcript.json"

CODEBOOK = """\
cycle: {title: "Cycle", organiser: "Puca"}
sessions: []
acronyms:
  RGPD: "règlement général sur la protection des données"
themes:
  - id: vulnerabilites
    label: "Vulnérabilités"
    description: "Sécurité informatique et fuites de données."
    keywords: ["fuite de données", "protection des données", {term: "risque", weak: true}, "vulnérabilité"]
  - id: instrumentation
    label: "Instruments"
    description: "Capteurs, données, plateformes et indicateurs."
    keywords: [{term: "donnée", weak: true}, "outil", "capteur", "régulation"]
tag:
  meaning: none
"""


def write_config(folder: Path, text: str = CODEBOOK) -> Path:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def tagged(config: Config, text: str) -> list[str]:
    nlp = load_nlp(config.tag.spacy_model)
    classifier = ThemeClassifier(nlp, config.themes, config.tag, config.acronyms)
    return [s.theme_id for s in above_threshold(classifier.score(nlp(text)), config.tag)]


@pytest.fixture(scope="module")
def codebook(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return load_config(write_config(tmp_path_factory.mktemp("codebook")))


def test_a_generic_keyword_alone_does_not_tag(codebook: Config) -> None:
    assert tagged(codebook, "Le tableur contient une donnée par ligne et par jour.") == []
    assert tagged(codebook, "Il y a un risque de pluie demain après-midi.") == []


def test_a_specific_keyword_alone_tags(codebook: Config) -> None:
    assert tagged(codebook, "Une fuite de données a touché la mairie au printemps.") == ["vulnerabilites"]


def test_a_derived_form_and_a_phrase_with_words_between_are_matched(codebook: Config) -> None:
    nlp = load_nlp(codebook.tag.spacy_model)
    classifier = ThemeClassifier(nlp, codebook.themes, codebook.tag, codebook.acronyms)
    text = "Les sites vulnérables exposent la ville ; la protection de vos données compte ; il faut réguler."
    matches = {(m.term, m.how) for m in classifier.matches(nlp(text))}
    assert ("vulnérabilité", "family") in matches  # the adjective of the noun in the codebook
    assert ("régulation", "family") in matches  # the verb of the noun
    assert ("protection des données", "phrase") in matches  # "de vos" in between
    # Same letters, another meaning: "marcher" is not the family of "marché".
    assert classifier.matcher.family("marché") == frozenset()


def test_an_acronym_counts_as_its_expansion(codebook: Config) -> None:
    assert tagged(codebook, "Le RGPD s'applique aux communes comme aux associations.") == ["vulnerabilites"]
    nlp = load_nlp(codebook.tag.spacy_model)
    classifier = ThemeClassifier(nlp, codebook.themes, codebook.tag, codebook.acronyms)
    found = classifier.matches(nlp("Le RGPD s'applique."))
    assert [(m.term, m.how) for m in found] == [("protection des données", "acronym")]


def test_a_weight_in_config_yaml_changes_the_result(tmp_path: Path) -> None:
    text = "Le capteur posé sur le pont compte les passages."
    assert tagged(load_config(write_config(tmp_path)), text) == []  # a single word: 0.5 point by default
    heavier = CODEBOOK.replace('"capteur"', '{term: "capteur", weight: 1.5}')
    assert tagged(load_config(write_config(tmp_path, heavier)), text) == ["instrumentation"]
    weak = heavier.replace('{term: "capteur", weight: 1.5}', '{term: "capteur", weight: 1.5, weak: true}')
    assert tagged(load_config(write_config(tmp_path, weak)), text) == []  # weak wins: never alone


def test_bad_keyword_entries_and_weights_files_name_the_key(tmp_path: Path) -> None:
    broken = CODEBOOK.replace('"outil"', '{term: "outil", wieght: 2}')
    with pytest.raises(ConfigError, match=r"config.yaml, line \d+: themes\[1\].*unknown key 'wieght'"):
        load_config(write_config(tmp_path, broken))
    missing = CODEBOOK.replace("  meaning: none", "  meaning: none\n  weights_file: poids.yaml")
    with pytest.raises(ConfigError, match=r"config.yaml, line 16: tag.weights_file: file not found: poids.yaml"):
        load_config(write_config(tmp_path, missing))
    (tmp_path / "poids.yaml").write_text("schema: synthese.weights/1\nweights:\n  sobriete: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="poids.yaml: theme 'sobriete' is not in config.yaml"):
        load_config(write_config(tmp_path, missing))
    (tmp_path / "poids.yaml").write_text("schema: synthese.weights/2\nweights: {}\nmeaning:\n  directions:\n"
                                         "    instrumentation: [0.5, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"poids.yaml, line 5: meaning.directions.instrumentation must be a list "
                                          r"of numbers between -1 and 1"):
        load_config(write_config(tmp_path, missing))
    low = CODEBOOK.replace("  meaning: none", "  meaning: none\n  threshold: 0.3")
    with pytest.raises(ConfigError, match="threshold 0.3 would let a weak keyword tag alone"):
        load_config(write_config(tmp_path, low))


def test_a_calibrated_meaning_tags_without_keywords_and_brings_its_threshold(tmp_path: Path) -> None:
    from synthese.tag.meaning import embed

    # Directions as `synthese calibrate` writes them, here from one sentence per theme.
    security, sensors = embed(["Des pirates ont volé les mots de passe des ordinateurs de la mairie.",
                               "Les capteurs comptent les voitures et alimentent un tableau de bord."])
    directions = "".join(f"    {theme}: [{', '.join(f'{x:.4f}' for x in vector)}]\n"
                         for theme, vector in (("vulnerabilites", security), ("instrumentation", sensors)))
    (tmp_path / "poids.yaml").write_text("schema: synthese.weights/2\nthreshold: 0.55\nweights: {}\nmeaning:\n"
                                         f"  points_per_similarity: 12\n  directions:\n{directions}",
                                         encoding="utf-8")
    with_meaning = CODEBOOK.replace("  meaning: none", "  weights_file: poids.yaml")
    config = load_config(write_config(tmp_path, with_meaning))
    assert config.tag.threshold == 0.55  # the calibrated one, config.yaml setting none
    # No keyword of the codebook: the passage is tagged by its meaning alone.
    text = "Des malfaiteurs se sont introduits dans le réseau informatique de la ville et ont tout bloqué."
    nlp = load_nlp(config.tag.spacy_model)
    scores = {s.theme_id: s for s in ThemeClassifier(nlp, config.themes, config.tag, config.acronyms).score(nlp(text))}
    assert scores["vulnerabilites"].keywords == () and scores["vulnerabilites"].meaning_points > 1.0
    assert scores["instrumentation"].meaning_points < 0  # far from that theme: points taken away
    assert tagged(config, text) == ["vulnerabilites"]
    # A threshold written in config.yaml wins; tag.meaning: none switches the learned meaning off.
    assert load_config(write_config(tmp_path, with_meaning + "  threshold: 0.9\n")).tag.threshold == 0.9
    assert tagged(load_config(write_config(tmp_path, with_meaning + "  meaning: none\n")), text) == []


def test_calibration_from_exported_review_labels_is_reproducible(tmp_path: Path) -> None:
    config = load_config(REPO / "config.yaml")
    shutil.copy(SAMPLE, tmp_path / "s.transcript.json")
    tags = tag_file(tmp_path / "s.transcript.json", config)
    keys = [p["key"] for p in json.loads(tags.read_text(encoding="utf-8"))["passages"]]
    (tmp_path / "s.review.yaml").write_text(
        f'add:\n  - {{passage: "{keys[1]}", theme: gouvernance}}\n'
        f'reject:\n  - {{passage: "{keys[2]}", theme: societes}}\n', encoding="utf-8")
    tags = tag_file(tmp_path / "s.transcript.json", config)
    exported = export_labels_file(tags, tmp_path / "exported.jsonl")
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["themes"]) for r in rows] == [("s:p002", ["vulnerabilites", "gouvernance"]),
                                                     ("s:p003", [])]
    assert all(set(r) == {"id", "source", "text", "themes"} and r["text"] for r in rows)
    every = export_labels_file(tags, tmp_path / "every.jsonl", every_passage=True)
    assert len(every.read_text(encoding="utf-8").splitlines()) == 3

    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    first = calibrate_cli([labels], tmp_path / "w1.yaml", config).read_bytes()
    second = calibrate_cli([labels], tmp_path / "w2.yaml", config).read_bytes()
    assert first == second
    text = first.decode("utf-8")
    assert text.count("schema: synthese.weights/2") == 1 and "passages: 2" in text
    # Two passages are too few to learn the themes' meaning and the threshold from.
    assert "threshold:" not in text and "meaning:" not in text
    # The rejected theme lowers its keywords below their defaults; the file is then usable.
    assert '"inclusion numérique": ' in text
    (tmp_path / "config.yaml").write_text(
        (REPO / "config.yaml").read_text(encoding="utf-8").replace("weights_file: themes.weights.yaml",
                                                                   "weights_file: w1.yaml"), encoding="utf-8")
    recalibrated = load_config(tmp_path / "config.yaml")
    societes = next(t for t in recalibrated.themes if t.id == "societes")
    assert societes.calibrated_weights["inclusion numérique"] < recalibrated.tag.phrase_weight


def test_meaning_directions_point_from_the_other_passages_to_the_theme() -> None:
    import numpy as np

    from synthese.tag.meaning import relative, theme_directions

    embeddings = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    labels = np.array([[True, False], [True, False], [False, False], [False, False]])
    directions = theme_directions(embeddings, labels)
    assert directions[0] @ embeddings[0] > 0 > directions[0] @ embeddings[3]
    assert np.isclose(np.linalg.norm(directions[0]), 1.0)
    assert not directions[1].any()  # no passage about the second theme: no direction
    # Relative to the mean over the themes that have a direction; the others get 0.
    assert relative(np.array([[0.3, 0.9]]), np.array([True, False])).tolist() == [[0.0, 0.0]]
    assert np.allclose(relative(np.array([[0.3, 0.1]])), [[0.1, -0.1]])


def test_calibration_learns_meaning_and_threshold_from_several_sources(tmp_path: Path) -> None:
    labelled = REPO.parent / "shared" / "eval" / "themes" / "dev2.jsonl"
    if not labelled.is_file():
        pytest.skip(f"evaluation material not found at {labelled}")
    rows = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_source: dict[str, list[dict]] = {}
    for row in rows:
        by_source.setdefault(row["source"].split("@")[0], []).append(row)
    chosen = [row for source in sorted(by_source)[:4] for row in by_source[source][:14]]  # 50 passages
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen), encoding="utf-8")
    config = load_config(REPO / "config.yaml")
    first = calibrate_cli([labels], tmp_path / "w1.yaml", config).read_bytes()
    assert first == calibrate_cli([labels], tmp_path / "w2.yaml", config).read_bytes()
    text = first.decode("utf-8")
    assert "cross-fitting over 4 sources" in text and "\nthreshold: 0." in text and "\nmeaning:\n" in text
    (tmp_path / "config.yaml").write_text(
        (REPO / "config.yaml").read_text(encoding="utf-8").replace("weights_file: themes.weights.yaml",
                                                                   "weights_file: w1.yaml"), encoding="utf-8")
    recalibrated = load_config(tmp_path / "config.yaml")
    assert f"threshold: {recalibrated.tag.threshold:.4f}" in text
    learned = [t for t in recalibrated.themes if t.calibrated_meaning]
    assert learned and all(len(t.calibrated_meaning) == 512 for t in learned)
