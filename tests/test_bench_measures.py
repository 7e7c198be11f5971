"""The transcription benchmark's own measures: a wrong count there would hide what the stage invents."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_transcribe import codebook_insertions, codebook_phrases  # noqa: E402
from synthese.core.config import load_config  # noqa: E402

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
