"""References cited and acronyms said (tag/references.py): found in the text as said, never in
words the recogniser was unsure of; the patterns are wording.fr.yaml's."""

from __future__ import annotations

import pytest

from synthese.core.artefacts import Passage
from synthese.core.errors import ConfigError
from synthese.core.resources import TemplateSet
from synthese.tag.references import acronyms_said, reference_patterns, references_said

PATTERNS = reference_patterns(TemplateSet().wording()["reference_patterns"])


def passage(pid: str, text: str) -> Passage:
    return Passage(id=pid, key=pid, start=0.0, end=1.0, text=text)


def test_laws_programmes_and_standards_said_are_listed_once_each():
    passages = [passage("p001", "La loi AGEC et le RGPD s'appliquent, comme la loi Climat et résilience."),
                passage("p002", "Le RGAA, la norme ISO 14001, le programme France Services et encore le RGPD."),
                passage("p003", "La Loi La plupart du temps, la loi, Elle dit autre chose.")]
    found = references_said(passages, PATTERNS, {})
    assert [(r.text, r.passages) for r in found] == [
        ("France Services", ["p002"]), ("ISO 14001", ["p002"]), ("Loi AGEC", ["p001"]),
        ("Loi Climat et résilience", ["p001"]), ("RGAA", ["p002"]), ("RGPD", ["p001", "p002"])]


def test_a_reference_in_unsure_words_is_not_listed():
    passages = [passage("p001", "La loi Jack impose le réemploi.")]
    assert [r.text for r in references_said(passages, PATTERNS, {})] == ["Loi Jack"]
    assert references_said(passages, PATTERNS, {"p001": {"jack"}}) == []


def test_the_acronyms_said_are_expanded_from_the_config():
    acronyms = {"RGPD": "règlement général sur la protection des données", "ANCT": "agence nationale",
                "SI": "système d'information", "UE": "Union européenne"}
    passages = [passage("p001", "Le RGPD et le SI de la ville. Si besoin, l'UE aide."),
                passage("p002", "Le RGPD encore, et la DSI-RGPD.")]
    glossary = acronyms_said(passages, acronyms, {"p001": {"ue"}})
    assert [(g.term, g.expansion, g.passages) for g in glossary] == [
        ("RGPD", "Règlement général sur la protection des données", ["p001", "p002"]),
        ("SI", "Système d'information", ["p001"])]


def test_a_pattern_that_is_not_a_regular_expression_is_named():
    with pytest.raises(ConfigError, match=r"reference pattern '\(loi' is not a regular expression"):
        reference_patterns(["(loi"])
