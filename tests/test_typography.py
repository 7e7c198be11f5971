"""French typography: exact strings for spaces, guillemets, dates, durations and timestamps."""

from __future__ import annotations

import datetime as dt

import pytest

from synthese.core.typography import (
    NBSP,
    NNBSP,
    decimal,
    duration_text,
    french_date,
    french_text,
    guillemets,
    join_list,
    percent,
    timestamp,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Pourquoi ?", f"Pourquoi{NNBSP}?"),
        ("Pourquoi?", f"Pourquoi{NNBSP}?"),
        ("Vraiment !", f"Vraiment{NNBSP}!"),
        ("Quoi ?!", f"Quoi{NNBSP}?!"),
        ("d'abord ; ensuite", f"d’abord{NNBSP}; ensuite"),
        ("trois mots : sobriété", f"trois mots{NBSP}: sobriété"),
        ("trois mots: sobriété", f"trois mots{NBSP}: sobriété"),
        ("le cycle « Après la smart city »", f"le cycle «{NBSP}Après la smart city{NBSP}»"),
        ("le cycle «Après la smart city»", f"le cycle «{NBSP}Après la smart city{NBSP}»"),
        ('il a dit "bonjour" hier', f"il a dit «{NBSP}bonjour{NBSP}» hier"),
        ("il a dit “bonjour”.", f"il a dit «{NBSP}bonjour{NBSP}»."),
        ("l'action publique", "l’action publique"),
        ("trop  d'espaces", "trop d’espaces"),
        ("au numérique . Il s'agit", "au numérique. Il s’agit"),
        ("au numérique, . il s'agit", "au numérique. il s’agit"),
        ("d'abord , ensuite", "d’abord, ensuite"),
        ("un taux de .5 ou ... rien", "un taux de .5 ou ... rien"),
    ],
)
def test_french_text_spacing_and_guillemets(raw, expected):
    assert french_text(raw) == expected


@pytest.mark.parametrize(
    "untouched",
    [
        "la permanence de 10:30 a été supprimée",
        "voir https://www.youtube.com/watch?v=abc&t=42 pour le replay",
        "l'adresse http://example.org:8080/a;b?c=d reste telle quelle",
        "un ratio 3:2",
        "",
    ],
)
def test_french_text_leaves_times_urls_and_ratios_alone(untouched):
    assert french_text(untouched) == untouched.replace("l'adresse", "l’adresse")


def test_french_text_spaces_punctuation_after_a_url():
    assert french_text("voir www.puca.fr : merci") == f"voir www.puca.fr{NBSP}: merci"


def test_guillemets():
    assert guillemets(" small ") == f"«{NBSP}small{NBSP}»"


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        (dt.date(2022, 2, 17), "17 février 2022"),
        (dt.date(2022, 3, 1), "1er mars 2022"),
        (dt.date(2022, 8, 31), "31 août 2022"),
        (dt.date(2022, 12, 2), "2 décembre 2022"),
        (None, ""),
    ],
)
def test_french_date(date, expected):
    assert french_date(date) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (3725, "1 h 02 min 05 s"),
        (3725.4, "1 h 02 min 05 s"),
        (7200, "2 h 00 min 00 s"),
        (219.8, "3 min 40 s"),
        (45, "45 s"),
        (0, "0 s"),
    ],
)
def test_duration_text_uses_non_breaking_spaces(seconds, expected):
    assert duration_text(seconds) == expected.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(3725.9, "01:02:05"), (0, "00:00:00"), (59.99, "00:00:59"), (36000, "10:00:00"), (-3, "00:00:00")],
)
def test_timestamp(seconds, expected):
    assert timestamp(seconds) == expected


def test_numbers():
    assert percent(0.234) == f"23{NNBSP}%"
    assert percent(1) == f"100{NNBSP}%"
    assert decimal(3.26) == "3,3"
    assert decimal(0.5) == "0,5"
    assert decimal(12, 0) == "12"


def test_join_list():
    assert join_list([]) == ""
    assert join_list(["a"]) == "a"
    assert join_list(["a", "b"]) == "a et b"
    assert join_list(["a", "b", "c"]) == "a, b et c"
