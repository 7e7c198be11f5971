"""What the recogniser heard (core/heard.py): each written word's probability, whatever the
recogniser's own split, and its case and stops mended where segments meet."""

from __future__ import annotations

from synthese.core.artefacts import Segment, Word
from synthese.core.heard import Mending, mend_turn, text_word_owners

# As wording.fr.yaml lists them, in part.
RULES = Mending.from_wording({"function_words": ["et", "c'", "le", "qui"], "cut_words": ["les", "de", "la"],
                              "continuation_words": ["qui", "dont"]})


def test_written_words_are_matched_to_the_recognised_ones_by_their_characters():
    words = [Word(start=0.0, end=0.2, text="C", p=0.9), Word(start=0.2, end=0.5, text="'est", p=0.3),
             Word(start=0.5, end=0.9, text="parlons", p=0.8), Word(start=0.9, end=1.1, text="-nous", p=0.95),
             Word(start=1.2, end=1.5, text="ici.", p=0.7)]
    segment = Segment(start=0.0, end=1.5, text="C'est parlons-nous ici.", words=words)
    assert text_word_owners(segment) == [[0, 1], [2, 3], [4]]
    assert text_word_owners(Segment(start=0, end=1, text="sans mots")) == [[], []]


def test_segments_of_a_turn_are_joined_with_their_case_and_stops_mended():
    text, offsets = mend_turn(["Il faut mieux mesurer les climats,", "Et même les usages.",
                               "C'est la vérification.", "Qui nécessite du temps.",
                               "Pour mutualiser les.", "Serveurs, C'est l'", "enjeu."], RULES)
    assert text == ("Il faut mieux mesurer les climats, et même les usages. C'est la vérification, qui nécessite "
                    "du temps. Pour mutualiser les Serveurs, c'est l'enjeu.")
    # Each segment's start, in the mended text (a stop left out moves the ones after it).
    assert [text[o:o + 6] for o in offsets] == ["Il fau", "et mêm", "C'est ", "qui né", "Pour m", "Servee"[:5] + "u",
                                                "enjeu."]


def test_a_question_a_name_and_an_acronym_keep_their_capitals():
    text, _ = mend_turn(["Et la question. Qui décide ?", "Oui, Paris, Europe, ET aussi RGPD."], RULES)
    assert text == "Et la question. Qui décide ? Oui, Paris, Europe, ET aussi RGPD."
    assert mend_turn(["Climats,", "Et même."], None)[0] == "Climats, Et même."  # no rules: as written
