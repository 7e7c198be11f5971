"""Declared spellings applied after recognition (transcribe/spellings.py), on crafted segments."""

from __future__ import annotations

from synthese.core.artefacts import Segment, Word
from synthese.transcribe.spellings import apply_spellings, sound

SPELLINGS = ["Eulalie Creusé", "Creusé", "François Ménard", "Ménard", "Puca", "Maëlle Kerbrat", "Kerbrat",
             "Agence d'urbanisme de Lyon", "Séance introductive", "Bénédicte Vautrin", "Rose Blanc",
             "Fabrique des mobilités"]


def segment(text: str, id: int = 0, start: float = 10.0, lang: str | None = None) -> Segment:
    """A segment as the recogniser writes it: one word per space, 0.4 s apart, each with its probability."""
    words = [Word(start=round(start + 0.4 * i, 3), end=round(start + 0.4 * i + 0.3, 3), text=t, p=0.5 + 0.01 * i)
             for i, t in enumerate(text.split())]
    return Segment(id=id, start=words[0].start, end=words[-1].end, text=text, words=words, lang=lang)


def respelled(text: str, spellings=SPELLINGS) -> tuple[str, list]:
    segments, fixes = apply_spellings([segment(text)], spellings)
    return segments[0].text, fixes


def test_a_near_miss_of_a_declared_name_is_written_as_declared_and_recorded():
    original = segment("Je donne la parole à Eulalie Creuset, de Lyon.", id=7)
    [fixed], fixes = apply_spellings([original], SPELLINGS)
    assert fixed.text == "Je donne la parole à Eulalie Creusé, de Lyon."
    assert [w.text for w in fixed.words] == fixed.text.split()
    # Same number of words: each keeps its own time and probability.
    assert [(w.start, w.end, w.p) for w in fixed.words] == [(w.start, w.end, w.p) for w in original.words]
    assert len(fixes) == 1
    fix = fixes[0]
    assert (fix.segment, fix.heard, fix.written) == (7, "Eulalie Creuset,", "Eulalie Creusé,")
    assert (fix.start, fix.end) == (original.words[5].start, original.words[6].end)


def test_names_heard_in_other_ways_sound_alike():
    assert respelled("Merci François Mesnard pour cette introduction.")[0] == (
        "Merci François Ménard pour cette introduction.")
    assert respelled("La note du Pouka, octobre 2021.")[0] == "La note du Puca, octobre 2021."
    assert respelled("Madame Kerbra, vous avez la parole.")[0] == "Madame Kerbrat, vous avez la parole."
    # The fuller spelling wins over the surname alone that it contains.
    assert respelled("Et Maël Kerbrat aussi.")[0] == "Et Maëlle Kerbrat aussi."


def test_ordinary_words_are_never_rewritten():
    for text in ("Une structure creuse, un matin calme.",  # lower case: an ordinary word
                 "Creuse est un département.",  # a capital that only opens the sentence
                 "Oui, bonjour, merci pour l'invitation.",
                 "Le renard et le canard.",
                 "La séance introductive commence.",  # the title's words, said as words
                 "Marc Renard, de Paris."):  # a name, but another one: it does not sound like Ménard
        assert respelled(text) == (text, []), text


def test_a_full_name_heard_as_ordinary_words_in_pieces_is_written_as_declared():
    assert respelled("Je donne la parole à bénédique de votre int, de Lyon.")[0] == (
        "Je donne la parole à Bénédicte Vautrin, de Lyon.")
    # As many ordinary words as the name has, or its own words in lower case: left as they are.
    for text in ("Une rose blanche.", "La fabrique des mobilités ouvre."):
        assert respelled(text) == (text, []), text


def test_a_name_heard_right_is_left_as_it_is_and_not_recorded():
    assert respelled("Merci François Ménard et Eulalie Creusé.") == ("Merci François Ménard et Eulalie Creusé.", [])


def test_punctuation_and_elisions_around_the_name_are_kept():
    text, fixes = respelled("C'est « d'Eulalie Creuzet » que je parle, et de l'agence d'urbanisme de Lyon.")
    assert text == "C'est « d'Eulalie Creusé » que je parle, et de l'Agence d'urbanisme de Lyon."
    assert [(f.heard, f.written) for f in fixes] == [("d'Eulalie Creuzet", "d'Eulalie Creusé"),
                                                     ("l'agence d'urbanisme de Lyon.", "l'Agence d'urbanisme de Lyon.")]


def test_a_name_heard_in_more_words_takes_their_time():
    original = segment("Merci François Mes Nard.")
    [fixed], [fix] = apply_spellings([original], SPELLINGS)
    assert fixed.text == "Merci François Ménard."
    assert [w.text for w in fixed.words] == ["Merci", "François", "Ménard."]
    assert fixed.words[1].start == original.words[1].start and fixed.words[-1].end == original.words[-1].end
    assert fixed.words[1].end <= fixed.words[2].start
    assert fixed.words[2].p == min(w.p for w in original.words[1:])  # the least sure word heard
    assert fix.heard == "François Mes Nard." and fix.written == "François Ménard."


def test_fixes_can_be_undone():
    original = [segment("Bonjour Eulalie Creuset.", id=0), segment("Le Pouka publie, Mesnard signe.", id=1, start=20.0)]
    fixed, fixes = apply_spellings(original, SPELLINGS)
    assert [s.text for s in fixed] == ["Bonjour Eulalie Creusé.", "Le Puca publie, Ménard signe."]
    undone = {s.id: s.text for s in fixed}
    for fix in fixes:
        undone[fix.segment] = undone[fix.segment].replace(fix.written, fix.heard, 1)
    assert list(undone.values()) == [s.text for s in original]


def test_segments_in_another_language_and_without_words_and_no_spellings():
    english = segment("Thanks to Eulalie Creuset.", lang="en")
    assert apply_spellings([english], SPELLINGS) == ([english], [])
    plain = Segment(id=3, start=1.0, end=4.0, text="Merci Eulalie Creuset.")
    [fixed], [fix] = apply_spellings([plain], SPELLINGS)
    assert fixed.text == "Merci Eulalie Creusé." and fixed.words == []
    assert (fix.segment, fix.start, fix.end) == (3, 1.0, 4.0)
    unchanged = segment("Merci Eulalie Creuset.")
    assert apply_spellings([unchanged], []) == ([unchanged], [])


def test_sound_keys():
    assert sound("Ménard") == sound("Mesnard")
    assert sound("Puca") == sound("Pouka") == sound("Puka")
    assert sound("Creusé") == sound("Creuset")
    assert sound("Martin") != sound("Martine")
    # "eu" softens c and g before it, and a final x after eu, ou, au is not heard.
    assert sound("C'est enceux") == sound("c'est en ce") + "2"
    assert sound("enjeux") == sound("en jeu") and sound("Giroux") == sound("Girou")
    assert sound("webinaire") == "vebinEr"
