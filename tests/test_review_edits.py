"""The review page's edits of the review file: only the lines of the change move; comments, hand
edits and the explanations stay byte for byte; an edit that cannot be made cleanly changes nothing."""

from __future__ import annotations

import pytest

from synthese.core.resources import TemplateSet
from synthese.core.review_file import find_passage, parse_review
from synthese.review.edits import (
    EXCERPT_KINDS,
    THEME_KINDS,
    ReviewEditError,
    add_correction,
    set_decision,
    set_speaker,
    version_of,
)

TEMPLATE = TemplateSet().read_text("review.fr.yaml")
NAME = "s.review.yaml"
KEY = "00:01:05 Bonjour à tous et bienvenue"


def same(key: str):
    return lambda written: written.split()[0] == key.split()[0]


def decide(text: str, kind: str | None, theme: str = "sobriete", key: str = KEY, **extra) -> str:
    family = THEME_KINDS if kind in THEME_KINDS or extra.pop("theme_family", False) else EXCERPT_KINDS
    return set_decision(text, NAME, family=family, kind=kind, passage_key=key, theme=theme,
                        same_passage=same(key), **extra)


def test_an_edit_of_the_shipped_file_keeps_every_other_line():
    text = decide(TEMPLATE, "reject")
    assert text.replace('reject:\n  - {passage: "00:01:05 Bonjour à tous et bienvenue", theme: sobriete}\n',
                        "reject: []\n") == TEMPLATE
    review = parse_review(text, NAME)
    assert [(d.kind, d.passage, d.theme) for d in review.decisions] == [("reject", KEY, "sobriete")]


def test_a_hand_written_comment_and_an_unrelated_hand_edit_survive_every_kind_of_save():
    hand = TEMPLATE.replace(
        "accept: []\n",
        "# Relu par Zoé le 3 mars : voir aussi la séance 2.\n"
        "accept:\n"
        "  - passage:   '00:00:10 Les capteurs de la ville'   # écrit à la main\n"
        "    theme: instrumentation\n",
    )
    text = decide(hand, "reject")
    text = decide(text, "pin", theme="gouvernance", sentences=[2, 0])
    text = set_speaker(text, NAME, "Intervenant 1", "Léa Dupont")
    text = add_correction(text, NAME, 201.7, "gars à effet de serre", "gaz à effet de serre")
    # The hand-written lines are there, byte for byte, in their place.
    assert ("# Relu par Zoé le 3 mars : voir aussi la séance 2.\naccept:\n"
            "  - passage:   '00:00:10 Les capteurs de la ville'   # écrit à la main\n"
            "    theme: instrumentation\n") in text
    assert text.startswith(TEMPLATE[:TEMPLATE.index("speakers: {}")])  # the explanations
    review = parse_review(text, NAME)
    assert [(d.kind, d.passage, d.theme, d.sentences) for d in review.decisions] == [
        ("accept", "00:00:10 Les capteurs de la ville", "instrumentation", ()),
        ("reject", KEY, "sobriete", ()),
        ("pin", KEY, "gouvernance", (0, 2)),
    ]
    assert review.speakers == {"Intervenant 1": "Léa Dupont"}
    assert [(c.at_s, c.original, c.corrected) for c in review.corrections] == [
        (201.0, "gars à effet de serre", "gaz à effet de serre")]
    assert '  - {at: "00:03:21", original: "gars à effet de serre", corrected: "gaz à effet de serre"}\n' in text
    # Undoing removes exactly what was added.
    text = decide(text, None, theme_family=True)
    text = decide(text, None, theme="gouvernance")
    text = set_speaker(text, NAME, "Intervenant 1", "")
    assert "reject: []\n" in text and "pin: []\n" in text and "speakers: {}\n" in text
    assert text.replace("corrections:\n  - {at: \"00:03:21\", original: \"gars à effet de serre\", "
                        "corrected: \"gaz à effet de serre\"}\n", "corrections: []\n") == hand


def test_one_decision_per_passage_and_theme_replaces_the_others_of_its_family():
    text = decide(TEMPLATE, "accept")
    text = decide(text, "pin")
    text = decide(text, "reject")  # replaces the accept, keeps the pin (another family)
    review = parse_review(text, NAME)
    assert [(d.kind, d.theme) for d in review.decisions] == [("reject", "sobriete"), ("pin", "sobriete")]
    text = decide(text, "exclude")
    assert [(d.kind, d.theme) for d in parse_review(text, NAME).decisions] == [("reject", "sobriete"),
                                                                             ("exclude", "sobriete")]
    # A key written another way that names the same passage is replaced too.
    other = TEMPLATE.replace("accept: []", 'accept:\n  - {passage: "00:01:05 bonjour a tous", theme: sobriete}')
    text = set_decision(other, NAME, family=THEME_KINDS, kind="reject", passage_key=KEY, theme="sobriete",
                        same_passage=lambda written: find_passage(written, []) is None)
    assert [(d.kind, d.passage) for d in parse_review(text, NAME).decisions] == [("reject", KEY)]


def test_lists_written_in_any_yaml_style_are_edited():
    text = ("# à moi\nreject: [{passage: \"00:00:01 un\", theme: a}, {passage: \"00:00:02 deux\", theme: b}]  # fin\n"
            "speakers: {Intervenant 2: Zoé}\npin:\n")
    new = decide(text, "reject", theme="c")
    assert new.startswith("# à moi\nreject:\n  - {passage: \"00:00:01 un\", theme: a}\n"
                          "  - {passage: \"00:00:02 deux\", theme: b}\n  - {passage: \"00:01:05 Bonjour à tous et "
                          "bienvenue\", theme: c}  # fin\n")
    new = decide(new, "pin", theme="c")
    assert new.endswith('pin:\n  - {passage: "00:01:05 Bonjour à tous et bienvenue", theme: c}\n')
    new = set_speaker(new, NAME, "Intervenant 1", "Léo")
    assert parse_review(new, NAME).speakers == {"Intervenant 2": "Zoé", "Intervenant 1": "Léo"}
    assert "speakers:\n  Intervenant 2: Zoé\n  Intervenant 1: \"Léo\"\n" in new
    new = set_speaker(new, NAME, "Intervenant 2", "Zoé Martin")
    assert parse_review(new, NAME).speakers == {"Intervenant 2": "Zoé Martin", "Intervenant 1": "Léo"}
    # A file with none of the sections gets them at its end.
    assert parse_review(add_correction("# vide\n", NAME, 3, "x", "y"), NAME).corrections[0].corrected == "y"


def test_text_that_looks_like_yaml_or_markup_is_written_as_plain_text():
    hostile = 'x: "1" ]} # <script>alert(1)</script> \\ \u2028 ça'
    text = set_speaker(TEMPLATE, NAME, "Intervenant: 1 #", hostile)
    text = add_correction(text, NAME, 5, "a: [b]", hostile)
    review = parse_review(text, NAME)
    assert review.speakers == {"Intervenant: 1 #": " ".join(hostile.split())}
    assert review.corrections[0].original == "a: [b]" and review.corrections[0].corrected == " ".join(hostile.split())


def test_an_edit_that_cannot_be_made_cleanly_is_refused():
    # A speaker's name written as a list: the page will not guess.
    text = "speakers:\n  Intervenant 1: [Léa]\n"
    with pytest.raises(ReviewEditError, match="by hand"):
        set_speaker(text, NAME, "Intervenant 1", "Zoé")
    with pytest.raises(ReviewEditError, match="not a list"):
        decide("reject: oui\n", "reject")


def test_versions_differ_with_the_bytes():
    assert version_of(b"a") != version_of(b"a ") and len(version_of(b"")) == 32


def test_a_confirmation_is_one_line_added():
    from synthese.review.edits import add_confirmation

    text = add_confirmation(TEMPLATE, NAME, KEY, [2, 0, 2])
    assert text.replace('confirm:\n  - {passage: "00:01:05 Bonjour à tous et bienvenue", sentences: [0, 2]}\n',
                        "confirm: []\n") == TEMPLATE
    assert [(c.passage, c.sentences) for c in parse_review(text, NAME).confirmations] == [(KEY, (0, 2))]
    with pytest.raises(ReviewEditError):
        add_confirmation(TEMPLATE, NAME, KEY, [])


def test_undoing_a_confirmation_takes_it_out_and_gives_the_file_back_as_it_was():
    from synthese.review.edits import add_confirmation, remove_confirmation

    once = add_confirmation(TEMPLATE, NAME, KEY, [2, 0])
    twice = add_confirmation(once, NAME, KEY, [1])
    assert remove_confirmation(twice, NAME, KEY, [1]) == once
    assert remove_confirmation(once, NAME, KEY, [0, 2]) == TEMPLATE
    with pytest.raises(ReviewEditError, match="no longer in the file"):
        remove_confirmation(TEMPLATE, NAME, KEY, [0])


def test_undoing_corrections_takes_them_out_and_gives_the_file_back_as_it_was():
    from synthese.review.edits import remove_corrections

    hand = TEMPLATE.replace("corrections: []\n", "corrections:\n  # à la main\n"
                            '  - {at: "0:03:21", original: "gars", corrected: "gaz"}\n')
    once = add_correction(hand, NAME, 12.4, "veux-binaire.", "webinaire")
    twice = add_correction(once, NAME, 201.7, "la ville intelligente c'est", "la ville intelligente. C'est")
    assert remove_corrections(twice, NAME, [(201.7, "la ville intelligente c'est", "la ville intelligente. C'est"),
                                            (12, "veux-binaire.", "webinaire")]) == hand
    # The hand-written one, written its own way, is found by what it says.
    assert parse_review(remove_corrections(hand, NAME, [(201, "gars", "gaz")]), NAME).corrections == []
    assert remove_corrections(add_correction(TEMPLATE, NAME, 5, "a", "b"), NAME, [(5, "a", "b")]) == TEMPLATE
    with pytest.raises(ReviewEditError, match="no longer in the file"):
        remove_corrections(TEMPLATE, NAME, [(5, "a", "b")])


def test_the_glossary_is_written_line_by_line_keeping_its_comments():
    from synthese.core.glossary import parse_glossary
    from synthese.review.edits import remove_glossary_entry, set_glossary_entry

    template = TemplateSet().read_text("review/glossary.fr.yaml")
    assert parse_glossary(template, "glossary.yaml") == []
    one = set_glossary_entry(template, "glossary.yaml", "data  centaires", "data centers")
    assert one == template.replace("[]\n", '- {heard: "data centaires", written: "data centers"}\n')
    two = set_glossary_entry(one + "# fin\n", "glossary.yaml", "smart cité", "smart city")
    assert [(e.heard, e.written) for e in parse_glossary(two, "g")] == [("data centaires", "data centers"),
                                                                        ("smart cité", "smart city")]
    assert two.endswith("# fin\n")
    # The same heard words again: their written form changes, in place.
    three = set_glossary_entry(two, "glossary.yaml", "Data Centaires", "centres de données")
    assert [(e.heard, e.written) for e in parse_glossary(three, "g")][0] == ("data centaires", "centres de données")
    assert remove_glossary_entry(one, "glossary.yaml", "DATA centaires") == template
    assert set_glossary_entry("", "glossary.yaml", "a", "b") == '- {heard: "a", written: "b"}\n'
    assert set_glossary_entry("[{heard: a, written: b}]\n", "g", "c", "d") == \
        '- {heard: a, written: b}\n- {heard: "c", written: "d"}\n'
    with pytest.raises(ReviewEditError):
        remove_glossary_entry(template, "glossary.yaml", "absent")
