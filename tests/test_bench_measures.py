"""The transcription benchmark's own measures: a wrong count there would hide what the stage invents."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_transcribe import (  # noqa: E402
    Hypothesis,
    Item,
    codebook_insertions,
    codebook_phrases,
    hint_echoes,
    hint_words,
)
from synthese.core.config import Session, load_config  # noqa: E402

PATTERNS = codebook_phrases(load_config(REPO / "config.yaml"))


def test_a_keyword_written_and_not_said_is_an_insertion():
    assert codebook_insertions("un autre avion de ligne", "un autre agent de ligne", PATTERNS) == ["agent"]
    assert codebook_insertions("malgré le net avantage", "l'algorithme est avantage", PATTERNS) == ["algorithme"]


def test_a_keyword_said_in_another_form_is_not_an_insertion():
    # Gender and number, and a keyword said inside a longer word.
    assert codebook_insertions("les agents publics", "les agents public", PATTERNS) == []
    assert codebook_insertions("la cybersécurité", "la cyber sécurité", PATTERNS) == []
    # A participle written as the infinitive: the same sound, the same keyword.
    assert codebook_insertions("un portail sécurisé", "un portail sécuriser", PATTERNS) == []
    assert codebook_insertions("un portail", "un portail sécurisé", PATTERNS) == ["sécuriser"]
    assert codebook_insertions("les usagers", "les usager", PATTERNS) == []
    assert codebook_insertions("un calcul", "calculer", PATTERNS) == ["calculer"]


def test_a_prefix_keyword_counts_any_word_starting_so():
    # "cyber*": said "cybersécurité", written "cyber-sécurités": not an insertion; never said: one.
    assert codebook_insertions("les bons gestes en cybersécurité", "les bons gestes en cyber-sécurités",
                               PATTERNS) == []
    assert codebook_insertions("les bons gestes", "les cyberattaques", PATTERNS) == ["cyberattaque", "cyber*"]


# --- hint echoes ----------------------------------------------------------------------------------

SESSION = Session.model_validate({
    "id": "s", "title": "Table ronde 1 : la ville numérique en débat", "media": "s.ogg",
    "speakers": [{"name": "Eulalie Creusé", "organisation": "Agence d'urbanisme de Lyon"},
                 {"name": "Thibault Escoffier", "organisation": "Cerema"}]})
HINTS = hint_words(load_config(REPO / "config.yaml"), SESSION)
SAID = [(0.0, 4.0, "Je donne la parole à Eulalie Creusé, de l'Agence d'urbanisme de Lyon."),
        (10.0, 14.0, "Oui, bonjour, merci pour l'invitation. Alors, pour répondre rapidement.")]
ITEM = Item(Path("s.ogg"), " ".join(text for _, _, text in SAID), SESSION, said=SAID)


def test_hint_words_are_the_names_title_and_organisations():
    assert {"eulalie", "creusé", "escoffier", "cerema", "urbanisme", "lyon", "puca", "ronde"} <= HINTS
    assert not {"de", "la", "d", "1"} & HINTS


def test_a_sentence_of_hints_over_other_speech_is_an_echo():
    hypothesis = Hypothesis([], segments=[(10.2, 12.0, "Oui, Escoffier, Escoffier, Creusé, Agence d'urbanisme."),
                                          (12.1, 13.9, "Alors, pour répondre rapidement.")])
    echoes, inserted = hint_echoes(ITEM, hypothesis, HINTS)
    assert echoes == ["10.2-12.0 s: Oui, Escoffier, Escoffier, Creusé, Agence d'urbanisme."]
    assert sorted(inserted) == ["agence", "creusé", "escoffier", "escoffier", "urbanisme"]


def test_names_said_there_are_no_echo_and_one_stray_name_is_an_insertion_only():
    said_there = Hypothesis([], segments=[(0.1, 3.9, "Je donne la parole à Eulalie Creusé, de l'Agence d'urbanisme de Lyon.")])
    assert hint_echoes(ITEM, said_there, HINTS) == ([], [])
    # The same words twelve seconds later were not said there.
    elsewhere = Hypothesis([], segments=[(20.0, 22.0, "Eulalie Creusé, Lyon.")])
    assert len(hint_echoes(ITEM, elsewhere, HINTS)[0]) == 1
    stray = Hypothesis([], segments=[(10.2, 13.9, "Oui, bonjour Eulalie, merci pour l'invitation, pour répondre.")])
    assert hint_echoes(ITEM, stray, HINTS) == ([], ["eulalie"])
