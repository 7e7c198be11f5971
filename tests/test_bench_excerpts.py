"""The excerpt benchmark's ground truth for multi-voice sessions: a hand-over counted as content
would hide housekeeping printed as a quote, a sentence on the wrong theme a key point off it."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from bench_excerpts import evaluate, multivoice_truth, nearly_the_same, rewritten, targets_table  # noqa: E402

DEV_ROWS = [
    {"id": "dev-a", "themes": ["gouvernance"],
     "text": "L'État doit fixer les règles du jeu aux opérateurs privés. Les élus en débattent « longuement » ici."},
    {"id": "dev-b", "themes": ["sobriete", "instrumentation"],
     "text": "Mesurer l'empreinte des serveurs demande une méthode commune à toutes les villes."},
]


def segment(start: float, end: float, text: str, speaker: str = "pico") -> dict:
    return {"start": start, "end": end, "speaker": speaker, "text": text}


def session(*segments: dict) -> dict:
    return {"session_id": "multivoix-t", "duration_s": 60.0, "segments": list(segments)}


def test_sentences_take_their_rows_themes_and_hand_overs_are_housekeeping():
    truth = multivoice_truth(session(
        segment(1.0, 4.0, "L'État doit fixer les règles du jeu aux opérateurs privés."),
        segment(4.5, 6.0, "Je donne la parole à Eulalie Creusé, de l'Université Gustave Eiffel."),
        segment(7.0, 9.0, "Oui, bonjour, merci pour l'invitation.", "espeak-f3"),
        segment(9.5, 13.0, "Mesurer l'empreinte des serveurs demande une méthode commune à toutes les villes.",
                "espeak-f3"),
        segment(14.0, 15.0, "Merci Sidonie.", "espeak-f3"),
        segment(15.5, 16.0, "Maëlle Kerbrat, à vous."),
        segment(17.0, 20.0, "(fleurs-fr-001.ogg)", "fleurs-a"),
        # Read as the voice reads it: typographic quotes taken out.
        segment(21.0, 23.0, "Les élus en débattent longuement ici."),
    ), DEV_ROWS)
    kinds = [(p["id"], p["kind"], p["themes"]) for p in truth["passages"]]
    assert kinds == [
        ("dev-a", "text", ["gouvernance"]),
        ("transition", "transition", []),
        ("transition", "transition", []),
        ("dev-b", "text", ["instrumentation", "sobriete"]),
        ("transition", "transition", []),
        ("transition", "transition", []),
        ("fleurs:fleurs-fr-001.ogg", "text", []),
        ("dev-a", "text", ["gouvernance"]),
    ]
    assert truth["passages"][0]["start"] == 1.0 and truth["passages"][0]["end"] == 4.0


def test_a_segment_of_unknown_text_stops_the_benchmark():
    with pytest.raises(SystemExit, match="multivoix-t: segment at 1.0 s"):
        multivoice_truth(session(segment(1.0, 4.0, "Une phrase qui n'est dans aucun passage du jeu.")), DEV_ROWS)


def test_a_quoted_hand_over_is_housekeeping_and_a_key_point_off_its_theme_a_miss():
    truth = multivoice_truth(session(
        segment(1.0, 4.0, "L'État doit fixer les règles du jeu aux opérateurs privés."),
        segment(4.5, 8.0, "Je donne la parole à Eulalie Creusé, de l'Université Gustave Eiffel."),
        segment(9.0, 13.0, "Mesurer l'empreinte des serveurs demande une méthode commune à toutes les villes."),
    ), DEV_ROWS)
    sentences = [{"text": "L'État doit fixer les règles du jeu aux opérateurs privés.", "start": 1.0, "end": 4.0},
                 {"text": "Je donne la parole à Eulalie Creusé, de l'Université Gustave Eiffel.",
                  "start": 4.5, "end": 8.0},
                 {"text": "Mesurer l'empreinte des serveurs demande une méthode commune à toutes les villes.",
                  "start": 9.0, "end": 13.0}]

    def quote(index: int) -> dict:
        return {"passage": "p1", "sentences": [index], **sentences[index]}

    tags = {"passages": [{"id": "p1", "sentences": sentences}],
            "excerpts": {"gouvernance": [quote(0), quote(1)]},
            "key_points": {"session": [], "themes": {"sobriete": [quote(2)], "gouvernance": [quote(2)]}}}
    result = evaluate(tags, truth)
    assert [(h["where"], h["kind"]) for h in result["housekeeping_printed"]] == [("quote gouvernance", "transition")]
    assert result["excerpts_strict"] == 1 and result["excerpts"] == 2
    assert (result["key_points_right"], result["key_points"]) == (1, 2)
    assert [m["theme"] for m in result["key_points_missed"]] == ["gouvernance"]
    # The same sentence as two key points: printed twice.
    assert len(result["duplicate_sentences"]) == 1


def test_a_sentence_printed_again_heard_a_little_differently_is_reported():
    said = "Il semblerait que cela était causé par un incendie malveillant."
    heard_again = "Et il semblerait que cela était causé par un 110 malveillant."
    other = "L'accident a eu lieu en terrain montagneux, loin de toute route."
    sentences = [{"text": t, "start": 10.0 * n, "end": 10.0 * n + 5} for n, t in enumerate([said, heard_again, other])]
    tags = {"passages": [{"id": "p1", "sentences": sentences}],
            "excerpts": {"vulnerabilites": [{"passage": "p1", "sentences": [0, 2]}]},
            "key_points": {"session": [{"passage": "p1", "sentences": [1]}], "themes": {}}}
    assert nearly_the_same(tags) == [(said, heard_again)]


def test_the_scripted_reviewer_writes_what_was_said_but_leaves_a_real_voice_as_heard():
    segments = [segment(0.0, 3.0, "Mesurer l'empreinte des serveurs."),
                segment(3.5, 6.0, "(fleurs-fr-000.ogg)", speaker="fleurs-a"),
                segment(6.5, 9.0, "Les élus en débattent.")]
    shown = ["Mesurer", "lampreinte", "des", "serveurs", "L'accident", "a", "eu", "lieu.", "les", "élus", "en",
             "débattent."]
    target, blocks = rewritten(shown, segments)
    # The misheard word and the case are rewritten; the FLEURS piece (no text) stays as heard.
    assert target == ["Mesurer", "l'empreinte", "des", "serveurs.", "L'accident", "a", "eu", "lieu.", "Les", "élus",
                      "en", "débattent."]
    assert blocks == [(1, 2, 1, 2), (3, 4, 3, 4), (8, 9, 8, 9)]
    # A stop typed apart in the text is written with its word.
    target, _ = rewritten(["au", "numérique"], [segment(0.0, 2.0, "au numérique .")])
    assert target == ["au", "numérique."]


def test_a_ratio_over_nothing_printed_is_neither_met_nor_missed(capsys):
    result = {"unsure_printed": [], "duplicate_sentences": [], "housekeeping_printed": [], "nearly_the_same": [],
              "key_points_on_theme": None, "precision_strict": 0.5, "printed": 2, "held": 3}
    targets_table(result, 3, 0.8)
    lines = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "none printed" in lines["key points of themes on their theme (strict)"]
    assert not lines["key points of themes on their theme (strict)"].rstrip().endswith("met")
    assert lines["precision@3 (strict)"].rstrip().endswith("NOT MET")
