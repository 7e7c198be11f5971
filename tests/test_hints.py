"""Hint words checked (transcribe/hints.py, asr.BlockDecoder._check_hints): what Whisper wrote of
its prompt is kept only where it is heard without the prompt too. Crafted words with times; the
decoding without the prompt is replaced by hand-made words, so no Whisper is needed."""

from __future__ import annotations

import numpy as np

from synthese.transcribe import asr
from synthese.transcribe.asr import PAUSE_SPLIT_S, SENTENCE_ENDS, BlockDecoder, BlockResult, DecodeSettings
from synthese.transcribe.hints import (
    checked_words,
    flagged_sentences,
    heard_without_prompt,
    hint_vocabulary,
    reconcile,
)
from synthese.transcribe.segments import Word

PROMPT = ("Table ronde 4, la ville numérique en débat, Plan Urbanisme Construction Architecture (Puca), "
          "Sidonie Lenglet, Puca, Bénédicte Vautrin, Institut Paris Region, Ophélie Charvet, "
          "Agence d'urbanisme de Lyon, Gaspard Oudin-Brémond, Cerema.")
VOCABULARY = hint_vocabulary(PROMPT)


def timed(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    """Words as the recogniser writes them: one per space, `step` apart."""
    return [Word(round(start + step * i, 3), round(start + step * i + step * 0.8, 3), t, 0.9)
            for i, t in enumerate(text.split())]


def texts(words) -> str:
    return " ".join(w.text for w in words)


def test_the_hint_vocabulary_is_the_prompts_words_but_function_words_and_numbers():
    assert {"sidonie", "lenglet", "puca", "urbanisme", "lyon", "oudinbremond", "oudin", "bremond", "ville",
            "table"} <= VOCABULARY
    assert not {"de", "la", "en", "4", "d"} & VOCABULARY
    assert hint_vocabulary(None) == frozenset()


def test_names_and_runs_of_hint_words_are_checked_ordinary_words_are_not():
    def checked(text: str) -> list[str]:
        words = text.split()
        return [words[i] for i in checked_words(words, VOCABULARY)]

    # A name inside a sentence, an organisation in a run over "de".
    assert checked("Je donne la parole à Sidonie, de l'Agence d'urbanisme de Lyon.") == [
        "Sidonie,", "l'Agence", "d'urbanisme", "Lyon."]
    # The prompt written as a sentence: all its hint words.
    assert checked("Oui, Bénédicte Vautrin, Institut Paris Region.") == [
        "Bénédicte", "Vautrin,", "Institut", "Paris", "Region."]
    # The title's ordinary words said alone, and a hint word opening a sentence alone: nothing.
    assert checked("La ville change. Table des matières. Un plan simple.") == []
    assert checked("La ville numérique en débat.") == ["ville", "numérique", "débat."]


def test_a_hint_word_is_heard_without_the_prompt_when_its_sounds_are_there():
    def heard(hint: str, said: str) -> bool:
        return heard_without_prompt(timed(hint, 1.0)[0], timed(said, 0.6))

    assert heard("Thibault", "la parole est attibolée")
    assert heard("Séance", "C'est en se")
    assert heard("Escoffier.", "Thibault Escofier.")
    assert heard("Creusé", "eux la lycrosée")
    assert heard("Puca", "la note du plus cas")
    assert not heard("Vautrin,", "oui bonjour merci")
    assert not heard("Lyon.", "pour répondre rapidement")  # a short key must be found exactly
    # Only what was decoded around the word's time counts.
    assert not heard_without_prompt(timed("Charvet")[0], timed("au Félix Charvet", start=5.0))


ECHO = "Oui, Bénédicte Vautrin, Institut Paris Region, Ophélie Charvet, Agence d'urbanisme de Lyon."
SAID = "Oui, bonjour, merci pour l'invitation."


def crafted() -> tuple[list[Word], list[Word]]:
    """A moderator gives the floor by name (heard without the prompt too, badly spelled), then the
    prompt is written over the guest's greeting, then the guest goes on."""
    prompted = (timed("Je donne la parole à Bénédicte Vautrin.", 0.0)
                + timed(ECHO, 4.0, step=0.36)
                + timed("Alors, pour répondre rapidement, nous avons commencé.", 9.0))
    unprompted = (timed("Je donne la parole à bénédique de votre int.", 0.0, step=0.3)
                  + timed(SAID, 4.0, step=0.8))
    return prompted, unprompted


def test_a_crafted_echo_is_replaced_by_what_was_heard_without_the_prompt():
    prompted, unprompted = crafted()
    flagged = flagged_sentences(prompted, VOCABULARY, SENTENCE_ENDS, PAUSE_SPLIT_S)
    # The two sentences holding names are checked; the guest's last sentence is not.
    assert [texts(prompted[b:e]) for b, e, _ in flagged] == ["Je donne la parole à Bénédicte Vautrin.", ECHO]
    kept, decisions = reconcile(prompted, flagged, unprompted)
    first, echo = decisions
    assert not first.echo  # the names said, heard as "bénédique de votre int" without the prompt
    assert echo.echo and echo.unsupported == ["Bénédicte", "Vautrin,", "Institut", "Paris", "Region,", "Ophélie",
                                              "Charvet,", "Agence", "d'urbanisme", "Lyon."]
    assert texts(echo.unprompted) == "Oui, bonjour, merci pour l'invitation."
    assert texts(kept) == ("Je donne la parole à Bénédicte Vautrin. Oui, bonjour, merci pour l'invitation. "
                           "Alors, pour répondre rapidement, nous avons commencé.")
    # A sentence whose names are all heard keeps its own words (and their times).
    assert kept[:7] == prompted[:7]


def test_a_name_alone_not_heard_without_the_prompt_is_no_echo():
    # A first name heard as other words without the prompt ("Sidonie" said by a synthetic voice):
    # one hint word is no run of names, and the prompt wrote it right.
    prompted = timed("Oui, merci Sidonie.")
    unprompted = timed("Oui, même si c'est mon lit.", step=0.3)
    flagged = flagged_sentences(prompted, VOCABULARY, SENTENCE_ENDS, PAUSE_SPLIT_S)
    kept, [decision] = reconcile(prompted, flagged, unprompted)
    assert decision.unsupported == ["Sidonie."] and not decision.echo
    assert kept == prompted
    # A full name written over a greeting is two hint words not heard: an echo.
    prompted = timed("Oui, Bénédicte Vautrin.")
    kept, [decision] = reconcile(prompted, flagged_sentences(prompted, VOCABULARY, SENTENCE_ENDS, PAUSE_SPLIT_S),
                                 timed("Oui, bonjour.", step=0.5))
    assert decision.echo and texts(kept) == "Oui, bonjour."


def test_the_title_heard_as_other_words_keeps_the_prompted_text():
    prompted = timed("Séance introductive, enjeux, attendus et méthode du webinaire.")
    unprompted = timed("C'est enceinte productive, en jeu, attendu et méthode du veux-binaire.", step=0.3)
    flagged = flagged_sentences(prompted, hint_vocabulary("Séance introductive, enjeux, attendus et méthode du "
                                                          "webinaire, Puca."), SENTENCE_ENDS, PAUSE_SPLIT_S)
    kept, [decision] = reconcile(prompted, flagged, unprompted)
    assert not decision.echo and kept == prompted


class _Model:
    """Enough of a model for the decoder's plumbing: one worker."""

    class model:
        num_workers = 1


def test_the_decoder_decodes_again_only_the_speech_under_checked_sentences_and_records_each(monkeypatch):
    prompted, unprompted = crafted()
    # Speech: three stretches, one per sentence, and a fourth without hint words.
    second = 16_000
    stretches = [(0, int(3.5 * second)), (int(4.0 * second), int(8.5 * second)), (int(9.0 * second), int(12 * second)),
                 (int(13.0 * second), int(15 * second))]
    later = timed("Une autre phrase sans nom.", 13.0)
    sent: list[list[tuple[int, int]]] = []

    def unprompted_decoding(self, block, batch, language):
        sent.append([s for window in batch for s in window.stretches])
        return [w for w in unprompted if any(s[0] / second <= (w.start + w.end) / 2 < s[1] / second
                                            for window in batch for s in window.stretches)]

    monkeypatch.setattr(BlockDecoder, "_unprompted", unprompted_decoding)
    decoder = BlockDecoder(_Model(), DecodeSettings(language="fr", prompt=PROMPT))
    result = BlockResult([])
    words = decoder._check_hints(np.zeros(15 * second, np.float32), stretches,
                                 [(w, "fr") for w in prompted + later], result)
    # Only the two stretches under the checked sentences are decoded again.
    assert [s for batch in sent for s in batch] == stretches[:2]
    assert texts(w for w, _ in words) == ("Je donne la parole à Bénédicte Vautrin. Oui, bonjour, merci pour "
                                          "l'invitation. Alors, pour répondre rapidement, nous avons commencé. "
                                          "Une autre phrase sans nom.")
    assert (result.stats.hint_checked, result.stats.hint_echoes) == (2, 1)
    kept, replaced = result.hint_checks
    assert (kept.kept, kept.unsupported, kept.prompted) == ("prompted", [], "Je donne la parole à Bénédicte Vautrin.")
    assert kept.unprompted == "Je donne la parole à bénédique de votre int."
    assert replaced.kept == "unprompted" and replaced.prompted == ECHO
    assert replaced.unprompted == "Oui, bonjour, merci pour l'invitation."
    assert "Lyon." in replaced.unsupported and replaced.start == 4.0


def test_no_prompt_or_no_check_decodes_nothing_again(monkeypatch):
    prompted, _ = crafted()
    monkeypatch.setattr(BlockDecoder, "_unprompted", lambda *args: (_ for _ in ()).throw(AssertionError("decoded")))
    for settings in (DecodeSettings(language="fr"), DecodeSettings(language="fr", prompt=PROMPT, check_hints=False)):
        decoder = BlockDecoder(_Model(), settings)
        assert not decoder._checks_hints
    # With the prompt, words without any hint word are not decoded again either.
    decoder = BlockDecoder(_Model(), DecodeSettings(language="fr", prompt=PROMPT))
    plain = [(w, "fr") for w in timed("Une phrase ordinaire sur la ville.")]
    assert decoder._check_hints(np.zeros(16_000, np.float32), [(0, 16_000)], plain, BlockResult([])) == plain
    assert asr.DecodeSettings(language="fr", prompt=PROMPT).as_dict()["check_hints"] is True
