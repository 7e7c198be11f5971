"""Human review decisions: they survive re-runs, orphans are reported, a broken file is an error."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from synthese.config import Config, load_config
from synthese.errors import ReviewError
from synthese.resources import TemplateSet
from synthese.review import ensure_review_file, load_review, passage_key
from synthese.run import tag_file

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
    assert load_review(path) == []
    path.write_text("accept:\n  - {passage: \"00:00:00 x\", theme: sobriete}\n", encoding="utf-8")
    ensure_review_file(path, REVIEW_TEMPLATE)
    assert path.read_text(encoding="utf-8").startswith("accept:")


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
                                  "decisions_applied": 5, "orphaned": []}
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
    with caplog.at_level(logging.WARNING, logger="synthese.review"):
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

    monkeypatch.setattr("synthese.tagging.load_nlp", no_model)
    second = tag(tmp_path, config)
    assert "sobriete" not in themes(second, "p001")
    assert [p["key"] for p in second["passages"]] == [p["key"] for p in first["passages"]]
    assert second["review"]["decisions_applied"] == 1
    # A codebook change is not a review edit: the passages are tagged again.
    edited = config.model_copy(update={"themes": [config.themes[0].model_copy(update={"keywords": ["énergie"]}),
                                                  *config.themes[1:]]})
    with pytest.raises(AssertionError, match="loaded again"):
        tag(tmp_path, edited)
