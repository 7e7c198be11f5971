"""The name index (entities.py): only names it is sure of are listed, and every name found says why."""

from __future__ import annotations

from pathlib import Path

import yaml

from synthese.core.artefacts import Entity, Passage
from synthese.core.config import load_config
from synthese.tag.entities import declared_names, entity_index

CONFIG = Path(__file__).resolve().parent / "data" / "render_config.yaml"


def config_with(tmp_path: Path, index: dict | None = None):
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["sessions"][0]["transcript"] = str(CONFIG.parent / "render_sample.transcript.json")
    if index is not None:
        data["index"] = index
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


def passage(pid: str, text: str, entities: list[tuple[str, str]]) -> Passage:
    return Passage(id=pid, key=pid, start=0.0, end=1.0, text=text,
                   entities=[Entity(text=t, label=label) for t, label in entities])


def index_of(config, passages, session="seance-2"):
    return {e.text: e for e in entity_index(passages, config.index, declared_names(config, config.session(session)),
                                            config.themes)}


def test_a_one_off_misheard_name_is_left_out_and_a_declared_organisation_kept(tmp_path):
    config = config_with(tmp_path)
    passages = [
        passage("p001", "Merci à Gmaï pour son accueil, et au Puca qui organise ce cycle.",
                [("Gmaï", "PER"), ("Puca", "ORG")]),
        passage("p002", "La Métropole de Rivebourg a travaillé avec l'université.", [("Rivebourg", "LOC")]),
        passage("p003", "À Rivebourg, les capteurs ont été posés en 2021.", [("Rivebourg", "LOC")]),
    ]
    index = index_of(config, passages)
    assert not index["Gmaï"].listed and index["Gmaï"].reason == "once"
    organiser = index["Plan Urbanisme Construction Architecture"]  # said "Puca"
    assert organiser.listed and organiser.reason == "organisation" and organiser.passages == ["p001"]
    assert index["Rivebourg"].listed and index["Rivebourg"].reason == "mentions"  # said twice, a place both times


def test_known_names_are_found_by_their_spelling_and_speakers_where_a_name_is_recognised(tmp_path):
    config = config_with(tmp_path, {"known": {"ORG": ["Google", "Facebook"]}, "exclude": ["Linde"]})
    passages = [
        passage("p001", "Je donne la parole à Claire Dubreuil. Google et Facebook captent les données.",
                [("Linde", "PER")]),
        passage("p002", "Comme le disait Dubreuil, la sobriété commence par la mesure.", [("Dubreuil", "LOC")]),
    ]
    index = index_of(config, passages)
    # A speaker's name is one of Whisper's spelling hints: its spelling alone (p001, where no name
    # was recognised) may be a hint written where nobody said it; where a name is recognised, it
    # is the speaker's, spelled as declared.
    assert index["Claire Dubreuil"].listed and index["Claire Dubreuil"].passages == ["p002"]
    assert index["Claire Dubreuil"].reason == "speaker"
    assert index["Google"].listed and index["Google"].reason == "known" and index["Google"].label == "ORG"
    assert index["Facebook"].listed
    assert not index["Linde"].listed and index["Linde"].reason == "excluded"


def test_ordinary_words_and_the_themes_wording_are_not_names(tmp_path):
    config = config_with(tmp_path)
    passages = [
        passage("p001", "Start-up et collectivités : la start-up propose un service.", [("Start-up", "LOC")]),
        passage("p002", "Société urbaine : voilà le sujet.", [("Société urbaine", "ORG")]),
        passage("p003", "Société urbaine encore, vue autrement.", [("Société urbaine", "ORG")]),
    ]
    index = index_of(config, passages)
    assert not index["Start-up"].listed and index["Start-up"].reason == "common word"
    assert not index["Société urbaine"].listed and index["Société urbaine"].reason == "common word"


def test_a_name_recognised_as_different_kinds_is_not_sure(tmp_path):
    config = config_with(tmp_path)
    passages = [passage("p001", "Orly", [("Orly", "LOC")]), passage("p002", "Orly", [("Orly", "PER")])]
    assert index_of(config, passages)["Orly"].reason == "once"


def test_index_settings_are_validated(tmp_path):
    import pytest

    from synthese.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"index.known.PERSON"):
        config_with(tmp_path, {"known": {"PERSON": ["Anne"]}})
    with pytest.raises(ConfigError, match=r"index.min_mentions"):
        config_with(tmp_path, {"min_mentions": 0})


def test_a_name_heard_only_in_unsure_words_is_left_out_until_checked(tmp_path):
    config = config_with(tmp_path)
    passages = [passage("p001", "Bocuse en parlait déjà.", [("Bocuse", "PER")]),
                passage("p002", "Et Bocuse encore.", [("Bocuse", "PER")]),
                passage("p003", "Escoffier aussi, et Escoffier encore.", [("Escoffier", "PER")]),
                passage("p004", "Escoffier, bien sûr.", [("Escoffier", "PER")])]
    unsure = {"p001": {"bocuse"}, "p002": {"bocuse"}, "p003": {"escoffier"}}
    index = {e.text: e for e in entity_index(passages, config.index, declared_names(config, config.session("seance-2")),
                                             config.themes, unsure)}
    assert not index["Bocuse"].listed and index["Bocuse"].reason == "unsure"
    assert index["Escoffier"].listed and index["Escoffier"].reason == "mentions"  # heard surely in p004
