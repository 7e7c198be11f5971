"""Quotes and key points (excerpts.py) on passages whose sentence evidence is given: no model needed.

Every sentence below carries keyword points for the themes it is about (`evidence` in each
passage), as the tagger records them; the meaning signal is off, so the choice follows the
evidence alone.
"""

from __future__ import annotations

import numpy as np

from synthese.core.artefacts import Passage, Sentence, ThemeTag
from synthese.core.config import TagOptions
from synthese.tag.excerpts import (
    ELISION,
    ExcerptChoices,
    SentenceEvidence,
    SessionEvidence,
    held_quotes,
    key_points,
    select_quotes,
    sentence_doubts,
)

THEMES = ["a", "b", "c"]
OPTIONS = TagOptions(meaning="none", excerpts_per_theme=3, key_points=3)
FILLER = "Je vous remercie pour cette question et pour votre attention pendant toute cette séance de travail."
ANECDOTE = ("Quand j'étais enfant, ma grand-mère habitait au bord de la mer et nous allions la voir chaque été "
            "en voiture avec mes deux frères et notre chien.")


OPENINGS = ["Dans notre métropole", "Depuis trois ans", "Avec les communes voisines", "Au conseil municipal",
            "Pour les agents", "Selon notre dernière enquête", "Dans les quartiers prioritaires", "À l'échelle régionale",
            "Chez les prestataires", "Pour les associations", "Dans les écoles", "Au niveau national"]
ENDINGS = ["ce qui change nos méthodes de travail", "et les résultats arrivent lentement",
           "mais le budget reste limité", "et chacun apprend en marchant", "sans que personne ne le mesure vraiment",
           "avec des effets que nous suivons de près", "et la question revient à chaque réunion",
           "ce que les élus découvrent à peine", "et les habitants le remarquent", "malgré des moyens modestes",
           "grâce à une équipe motivée", "et nous publions tout en ligne"]


def sentence(topic: str, number: int = 0) -> str:
    """A sentence of about twenty words about `topic`, worded differently for each number (no two
    of the first 144 share both their opening and their ending: they would be one sentence said
    again)."""
    return (f"{OPENINGS[number % len(OPENINGS)]}, nous travaillons sur {topic} depuis le début du projet, "
            f"{ENDINGS[(number * 5 + 3 + number // len(OPENINGS)) % len(ENDINGS)]}.")


def passage(pid: str, start: float, sentences: list[tuple[str, dict[str, float]]], themes: dict[str, float],
            speaker: str | None = None) -> tuple[Passage, list[SentenceEvidence]]:
    said, t = [], start
    for text, _ in sentences:
        length = len(text.split()) / 2.5
        said.append(Sentence(start=round(t, 2), end=round(t + length, 2), text=text))
        t += length + 0.3
    p = Passage(id=pid, key=pid, start=said[0].start, end=said[-1].end, speaker=speaker,
                text=" ".join(s.text for s in said), sentences=said,
                themes=[ThemeTag(id=theme, score=score) for theme, score in themes.items()])
    evidence = [SentenceEvidence(words=len(text.split()), points=points, keywords={}, meaning=[], subthemes={},
                                 verb=True) for text, points in sentences]
    return p, evidence


def build(*made, options=OPTIONS, vectors=None):
    passages = [p for p, _ in made]
    evidence = SessionEvidence({p.id: e for p, e in made}, vectors or {}, THEMES, options)
    return passages, evidence


def boundaries_hold(quote, passage: Passage) -> bool:
    parts = quote.text.split(f" {ELISION} ")
    groups, current = [], [quote.sentences[0]]
    for index in quote.sentences[1:]:
        if index == current[-1] + 1:
            current.append(index)
        else:
            groups.append(current)
            current = [index]
    groups.append(current)
    return parts == [" ".join(passage.sentences[i].text for i in group) for group in groups]


def test_a_quote_is_whole_sentences_that_carry_the_theme():
    made = passage("p1", 10.0, [(ANECDOTE, {}), (sentence("sobriété énergétique", 1), {"a": 1.5}),
                                (sentence("consommation des serveurs", 2), {"a": 1.2}), (FILLER, {})], {"a": 0.9})
    passages, evidence = build(made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    [quote] = quotes["a"]
    assert quote.sentences == [1, 2]  # not the anecdote that opens the passage, nor the thanks
    assert boundaries_hold(quote, passages[0])
    assert quote.start == passages[0].sentences[1].start and quote.end == passages[0].sentences[2].end
    assert OPTIONS.quote_min_words <= len(quote.text.split()) <= OPTIONS.quote_max_words


def test_a_sentence_left_out_inside_a_quote_shows_an_elision():
    short_a = "La sobriété numérique commence par mesurer ce que consomment nos équipements."  # 11 words
    short_b = "Il faut donc allonger la durée de vie des terminaux achetés par la ville."  # 14 words
    made = passage("p1", 0.0, [(short_a, {"a": 1.5}), (ANECDOTE, {}), (short_b, {"a": 1.5})], {"a": 0.9})
    passages, evidence = build(made)
    [quote] = select_quotes(passages, evidence, ExcerptChoices())["a"]
    assert quote.sentences == [0, 2]
    assert quote.text == f"{short_a} {ELISION} {short_b}"
    assert "« […] »" not in quote.text and "[…]" in quote.text
    assert boundaries_hold(quote, passages[0])


def test_quotes_of_a_chapter_are_in_the_order_said():
    made = [passage(f"p{i}", 100.0 * i, [(sentence("sobriété", i), {"a": 1.5 + 0.3 * (3 - i)})], {"a": 0.8})
            for i in range(1, 4)]
    passages, evidence = build(*made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())["a"]
    assert [q.passage for q in quotes] == ["p1", "p2", "p3"]
    assert [q.start for q in quotes] == sorted(q.start for q in quotes)


def test_a_passage_about_two_themes_feeds_both_chapters_with_different_sentences():
    made = passage("p1", 0.0, [(sentence("sobriété", 1), {"a": 1.6}), (sentence("sécurité", 2), {"b": 1.6}),
                               (sentence("sécurité des réseaux", 3), {"b": 1.4})], {"a": 0.9, "b": 0.9})
    passages, evidence = build(made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    [quote_a], [quote_b] = quotes["a"], quotes["b"]
    assert quote_a.passage == quote_b.passage == "p1"
    assert quote_a.sentences == [0] and quote_b.sentences == [1, 2]
    assert not set(quote_a.sentences) & set(quote_b.sentences)


def test_a_passage_only_touching_a_second_theme_does_not_serve_its_chapter():
    # p1 is about a; it says one weak word of b (0.4 point). b has a passage of its own.
    made = [passage("p1", 0.0, [(sentence("sobriété", 1), {"a": 1.6}), (sentence("ateliers", 2), {"b": 0.4})],
                    {"a": 0.9, "b": 0.55}),
            passage("p2", 60.0, [(sentence("sécurité", 3), {"b": 1.5})], {"b": 0.8})]
    passages, evidence = build(*made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert [q.passage for q in quotes["b"]] == ["p2"]


def test_no_sentence_is_quoted_twice():
    made = [passage(f"p{i}", 50.0 * i, [(sentence("sobriété et sécurité", 2 * i), {"a": 1.2, "b": 1.1, "c": 1.0}),
                                        (sentence("données et sécurité", 2 * i + 1), {"a": 1.0, "b": 1.3, "c": 1.0})],
                    {"a": 0.8, "b": 0.8, "c": 0.7}) for i in range(1, 4)]
    passages, evidence = build(*made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    used = [(q.passage, i) for chapter in quotes.values() for q in chapter for i in q.sentences]
    assert len(used) == len(set(used))
    assert all(quotes[t] for t in THEMES)


def test_a_theme_with_tagged_passages_always_has_a_quote():
    # c's only passage is made of short sentences (under quote_min_words): it is still quoted.
    short = "La médiation numérique aide les habitants."
    made = [passage("p1", 0.0, [(sentence("sobriété", 1), {"a": 1.5})], {"a": 0.9}),
            passage("p2", 30.0, [(short, {"c": 1.2})], {"c": 0.6})]
    passages, evidence = build(*made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert [q.text for q in quotes["c"]] == [short]
    assert quotes["b"] == []  # no passage tagged with b


def test_pins_and_exclusions_of_the_review_file_are_kept():
    made = [passage(f"p{i}", 40.0 * i, [(sentence("sobriété", i), {"a": 2.0 - 0.2 * i})], {"a": 0.8})
            for i in range(1, 5)]
    passages, evidence = build(*made, options=OPTIONS.model_copy(update={"excerpts_per_theme": 2}))
    chosen = select_quotes(passages, evidence, ExcerptChoices(pinned={"a": ["p4"]}, excluded={"a": {"p1"}}))
    assert [q.passage for q in chosen["a"]] == ["p2", "p4"]  # p4 pinned, p1 excluded, p2 the best left


def test_a_passage_said_twice_is_quoted_once():
    said = sentence("sobriété numérique", 7)
    made = [passage("p1", 0.0, [(said, {"a": 1.5})], {"a": 0.9}),
            passage("p2", 60.0, [(said, {"a": 1.5})], {"a": 0.9}),
            passage("p3", 120.0, [(sentence("recyclage", 9), {"a": 1.5})], {"a": 0.7})]
    passages, evidence = build(*made)
    quotes = select_quotes(passages, evidence, ExcerptChoices())["a"]
    assert [q.passage for q in quotes] == ["p1", "p3"]


def test_key_points_are_said_sentences_central_and_from_several_speakers():
    rng = np.random.default_rng(3)
    base = rng.normal(size=16)
    made, vectors = [], {}
    for i, speaker in enumerate(["Anne", "Anne", "Paul", "Léa"]):
        texts = [(sentence(f"la sobriété du site {4 * i + k}", 10 * i + k), {"a": 1.2}) for k in range(4)]
        made.append(passage(f"p{i}", 60.0 * i, texts, {"a": 0.9}, speaker=speaker))
        block = base + rng.normal(scale=0.6, size=(4, 16))
        vectors[f"p{i}"] = block / np.linalg.norm(block, axis=1, keepdims=True)
    passages, evidence = build(*made, vectors=vectors)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    points = key_points(passages, evidence, quotes, ExcerptChoices())
    said = {s.text for p in passages for s in p.sentences}
    assert 1 <= len(points.session) <= OPTIONS.key_points
    assert all(point.text in said for point in points.session + points.themes["a"])
    assert len({passages[int(p.passage[1:])].speaker for p in points.session}) == len(points.session)
    # No sentence twice in the document: a key point is neither quoted nor another key point.
    printed = [(q.passage, i) for q in quotes["a"] + points.session + points.themes["a"] for i in q.sentences]
    assert len(printed) == len(set(printed))
    assert [p.start for p in points.themes["a"]] == sorted(p.start for p in points.themes["a"])


def test_a_chapter_prefers_fewer_quotes_to_a_question_left_unanswered():
    question = "Vous parlez de fournisseurs : quelle est la place des entreprises dans ce paysage numérique aujourd'hui ?"
    made = [passage("p1", 0.0, [(sentence("entreprises", 1), {"a": 2.0})], {"a": 0.9}),
            passage("p2", 30.0, [(question, {"a": 2.0})], {"a": 0.9}, speaker="Animateur")]
    passages, evidence = build(*made)
    assert [q.passage for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == ["p1"]
    # Alone, the question is still quoted: a theme with tagged passages always has a quote.
    passages, evidence = build(made[1])
    assert [q.passage for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == ["p2"]


# --- what a quote may be: heard with confidence, not housekeeping, whole sentences ---------------

def test_a_doubtful_sentence_is_held_back_until_confirmed_or_pinned():
    doubtful_text = sentence("la sobriété des serveurs", 1)
    sure_text = sentence("la sobriété des écrans", 2)
    made = [passage("p1", 0.0, [(doubtful_text, {"a": 2.0})], {"a": 0.9}),
            passage("p2", 60.0, [(sure_text, {"a": 1.0})], {"a": 0.6})]
    passages, evidence = build(*made)
    evidence = SessionEvidence(evidence.sentences, {}, THEMES, OPTIONS, doubtful={"p1": {0: ["unsure"]}})
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert [q.passage for q in quotes["a"]] == ["p2"]  # the better quote is doubtful: not printed
    [held] = held_quotes(passages, evidence, ExcerptChoices(), quotes)
    assert (held.theme, held.passage, held.doubtful, held.reasons) == ("a", "p1", [0], ["unsure"])
    # Confirmed (no longer doubtful), or pinned by a reviewer, it is quoted.
    cleared = SessionEvidence(evidence.sentences, {}, THEMES, OPTIONS)
    assert "p1" in [q.passage for q in select_quotes(passages, cleared, ExcerptChoices())["a"]]
    assert held_quotes(passages, cleared, ExcerptChoices(), select_quotes(passages, cleared, ExcerptChoices())) == []
    pinned = select_quotes(passages, evidence, ExcerptChoices(pinned={"a": ["p1"]}))
    assert "p1" in [q.passage for q in pinned["a"]]


def test_a_chapter_prints_no_quote_rather_than_a_doubtful_one():
    made = passage("p1", 0.0, [(sentence("la sobriété des serveurs", 1), {"a": 2.0})], {"a": 0.9})
    passages, evidence = build(made)
    evidence = SessionEvidence(evidence.sentences, {}, THEMES, OPTIONS, doubtful={"p1": {0: ["gap"]}})
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert quotes["a"] == []
    assert [h.reasons for h in held_quotes(passages, evidence, ExcerptChoices(), quotes)] == [["gap"]]


def test_a_passage_tagged_with_the_theme_is_not_quoted_by_sentences_that_do_not_say_it():
    # p1 owes its theme to a doubtful sentence; its other sentence is about nothing of the cycle.
    made = passage("p1", 0.0, [(ANECDOTE, {}), (sentence("la sobriété des serveurs", 1), {"a": 2.0})], {"a": 0.9})
    passages, evidence = build(made)
    evidence = SessionEvidence(evidence.sentences, {}, THEMES, OPTIONS, doubtful={"p1": {1: ["unsure"]}})
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert quotes["a"] == []  # not the anecdote in its place
    assert [h.sentences for h in held_quotes(passages, evidence, ExcerptChoices(), quotes)] == [[1]]
    # A reviewer's pin is quoted all the same.
    pinned = select_quotes(passages, evidence, ExcerptChoices(pinned={"a": ["p1"]}, sentences={"a": {"p1": [0]}}))
    assert [q.sentences for q in pinned["a"]] == [[0]]


def test_a_short_sentence_that_says_the_theme_does_not_bring_a_long_neighbour_that_does_not():
    # Under quote_min_words, it would reach the length with the anecdote beside it: most of that
    # quote would say nothing of the theme. It is quoted alone, as a short quote.
    short = "Nous mesurons la sobriété des serveurs."
    made = passage("p1", 0.0, [(ANECDOTE, {}), (short, {"a": 2.0})], {"a": 0.9})
    passages, evidence = build(made)
    assert [q.sentences for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == [[1]]
    # The same short sentence beside a long one that also says the theme makes a quote.
    made = passage("p1", 0.0, [(sentence("la sobriété des réseaux", 2), {"a": 1.0}), (short, {"a": 2.0})], {"a": 0.9})
    passages, evidence = build(made)
    assert [q.sentences for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == [[0, 1]]


def test_sentence_doubts_name_unsure_words_and_untranscribed_speech_unless_confirmed():
    from synthese.core.artefacts import Gap, UnsureWord

    made = passage("p1", 0.0, [(sentence("la sobriété", 1), {}), (sentence("les serveurs", 2), {}),
                               (sentence("les écrans", 3), {})], {"a": 0.9})
    p = made[0]
    p.sentences[0].unsure = [UnsureWord(text="sobriété", p=0.3, at=1.0)]
    gap = Gap(start=p.sentences[2].end + 0.5, end=p.sentences[2].end + 4.0, reason="no_speech_decoded")
    assert sentence_doubts([p], [gap], {}) == {"p1": {0: ["unsure"], 2: ["gap"]}}
    assert sentence_doubts([p], [gap], {"p1": {0, 2}}) == {}


def test_housekeeping_is_never_quoted_nor_a_key_point_unless_pinned():
    thanks = ("Merci beaucoup pour cette présentation sur la sobriété numérique, nous passons maintenant "
              "à la deuxième partie de la séance.")
    made = passage("p1", 0.0, [(thanks, {"a": 3.0}), (sentence("la sobriété du réseau", 4), {"a": 1.0})], {"a": 0.9})
    evidence_rows = made[1]
    evidence_rows[0].meta = True  # as the tagger marks it from wording.fr.yaml's meta_talk
    vectors = {"p1": np.eye(2, 16, dtype="float32")}
    passages, evidence = build(made, vectors=vectors)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    assert [q.sentences for q in quotes["a"]] == [[1]]
    points = key_points(passages, evidence, quotes, ExcerptChoices())
    assert all(0 not in p.sentences for p in points.session + points.themes.get("a", []))
    pinned = select_quotes(passages, evidence, ExcerptChoices(pinned={"a": ["p1"]}, sentences={"a": {"p1": [0]}}))
    assert [q.sentences for q in pinned["a"]] == [[0]]


def test_a_heading_read_out_is_not_quoted():
    heading = "Défis des instruments, réutilisation, interopérabilité et mutualisation des outils de la ville numérique."
    made = [passage("p1", 0.0, [(heading, {"a": 3.0})], {"a": 0.9}),
            passage("p2", 30.0, [(sentence("les capteurs", 5), {"a": 1.0})], {"a": 0.6})]
    passages, evidence = build(*made)
    evidence.sentences["p1"][0].verb = False
    assert [q.passage for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == ["p2"]


def test_a_quote_opens_and_closes_like_a_sentence():
    from synthese.core.heard import Mending

    mending = Mending(cut_words=frozenset({"les", "de"}), continuation_words=frozenset({"qui", "dont"}))
    cut = "Dans notre métropole, nous avons choisi de mutualiser les."  # a false stop
    follow = "Qui nécessite toujours la vérification des données par les agents de la ville."  # a fragment
    unfinished = "Nous travaillons sur la sobriété des réseaux depuis le début du projet et"
    whole = sentence("la sobriété des réseaux", 6)
    made = [passage("p1", 0.0, [(follow, {"a": 2.0}), (cut, {"a": 2.0}), (unfinished, {"a": 2.0})], {"a": 0.9}),
            passage("p2", 60.0, [(whole, {"a": 0.8})], {"a": 0.6})]
    passages, evidence = build(*made)
    evidence = SessionEvidence(evidence.sentences, {}, THEMES, OPTIONS, mending=mending)
    assert not evidence.closes(cut) and not evidence.opens(follow) and not evidence.closes(unfinished)
    assert evidence.opens(whole) and evidence.closes(whole)
    assert not evidence.closes("Il faut parler de l'.") and not evidence.closes("C'est une start-.")
    assert [q.passage for q in select_quotes(passages, evidence, ExcerptChoices())["a"]] == ["p2"]


def test_a_theme_key_point_comes_from_a_passage_it_leads():
    rng = np.random.default_rng(5)
    made, vectors = [], {}
    # p0 is mostly about b (a second), p1 clearly about a, p2 about a and b alike.
    specs = [("p0", {"a": 0.6, "b": 0.9}, {"a": 0.5, "b": 1.5}), ("p1", {"a": 0.9}, {"a": 1.5}),
             ("p2", {"a": 0.8, "b": 0.78}, {"a": 1.2, "b": 1.2})]
    for number, (pid, themes, points) in enumerate(specs):
        texts = [(sentence(f"le sujet {pid} numéro {k}", 3 * number + k), points) for k in range(3)]
        made.append(passage(pid, 60.0 * number, texts, themes, speaker=f"S{number}"))
        block = rng.normal(size=(3, 16))
        vectors[pid] = block / np.linalg.norm(block, axis=1, keepdims=True)
    passages, evidence = build(*made, vectors=vectors, options=OPTIONS.model_copy(update={"excerpts_per_theme": 0}))
    points = key_points(passages, evidence, {}, ExcerptChoices())
    assert points.themes["a"] and {p.passage for p in points.themes["a"]} == {"p1"}
    assert {p.passage for p in points.themes.get("b", [])} <= {"p0"}


def test_a_theme_key_point_says_the_theme_on_its_own_as_a_tagged_passage_must():
    # p0 leads with a: its first sentences say a weakly (a generic word, or only in meaning),
    # the last clearly. Only the last is a's key point; with no such sentence, a has none.
    bar = OPTIONS.bar_points
    rng = np.random.default_rng(3)
    texts = [(sentence("le sujet faible", 1), {"a": bar * 0.5}), (sentence("le sujet moyen", 2), {"a": bar * 0.9}),
             (sentence("la sobriété des serveurs", 3), {"a": bar + 0.2})]
    block = rng.normal(size=(3, 16))
    vectors = {"p0": block / np.linalg.norm(block, axis=1, keepdims=True)}
    options = OPTIONS.model_copy(update={"excerpts_per_theme": 0})
    passages, evidence = build(passage("p0", 0.0, texts, {"a": 0.95}), vectors=vectors, options=options)
    points = key_points(passages, evidence, {}, ExcerptChoices(), session=[])
    assert [p.sentences for p in points.themes["a"]] == [[2]]
    passages, evidence = build(passage("p0", 0.0, texts[:2], {"a": 0.95}), vectors={"p0": vectors["p0"][:2]},
                               options=options)
    assert "a" not in key_points(passages, evidence, {}, ExcerptChoices(), session=[]).themes


def test_a_sentence_heard_again_a_little_differently_is_printed_once():
    # The recogniser writes a stretch said three times a little differently each time (one word);
    # the document prints it once, whether as a quote, a key point of the session or of a theme
    # (in a session, such a sentence waits for a reviewer first: sentence_doubts, "repeated").
    said = "Depuis trois ans, nous mesurons la sobriété du réseau de chaleur dans chaque quartier de la métropole"
    heard = [f"{said} {ending}." for ending in ("avec les habitants", "avec les habitantes", "avec des habitants")]
    rng = np.random.default_rng(5)
    base = rng.normal(size=16)
    made, vectors = [], {}
    for i, speaker in enumerate(["Anne", "Paul", "Léa", "Marc"]):
        texts = [(sentence(f"la sobriété du site {4 * i + k}", 10 * i + k), {"a": 1.2}) for k in range(3)]
        if i < 3:
            texts.insert(1, (heard[i], {"a": 2.0}))
        made.append(passage(f"p{i}", 60.0 * i, texts, {"a": 0.9}, speaker=speaker))
        block = base + rng.normal(scale=0.6, size=(len(texts), 16))
        if i < 3:
            block[1] = base  # the most central sentence of the session, each time
        vectors[f"p{i}"] = block / np.linalg.norm(block, axis=1, keepdims=True)
    passages, evidence = build(*made, vectors=vectors)
    quotes = select_quotes(passages, evidence, ExcerptChoices())
    points = key_points(passages, evidence, quotes, ExcerptChoices())
    printed = [q.text for q in quotes["a"] + points.session + points.themes.get("a", [])]
    assert sum(any(h in text for h in heard) for text in printed) == 1, printed


def test_a_sentence_heard_three_times_in_nearly_the_same_words_waits_for_a_reviewer():
    # A clip played again, or the recogniser looping: each time heard a little differently.
    clip = ["Il semblerait que cela était causé par un incendie malveillant.",
            "Et il semblerait que cela était causé par un incendie malveillant.",
            "Il semblerait que cela était causé par un 110 malveillant."]
    said = "Nous mesurons la sobriété des serveurs de la ville depuis deux ans."
    made = [passage(f"p{k}", 20.0 * k, [(text, {}), (said if k == 0 else ANECDOTE, {})], {"a": 0.9})[0]
            for k, text in enumerate(clip)]
    doubts = sentence_doubts(made, [], {})
    assert doubts == {"p0": {0: ["repeated"]}, "p1": {0: ["repeated"]}, "p2": {0: ["repeated"]}}
    # A reviewer confirms one: it may be quoted; the others still wait.
    assert sentence_doubts(made, [], {"p1": {0}}) == {"p0": {0: ["repeated"]}, "p2": {0: ["repeated"]}}
    # Said twice (emphasis, a question asked again), a sentence is not doubtful.
    assert sentence_doubts(made[:2], [], {}) == {}
    # Nor are sentences that share a long phrase but say different things.
    other = [passage("q0", 0.0, [("Il semblerait que cela était causé par une panne du réseau électrique de la ville.", {})],
                     {"a": 0.9})[0]]
    assert sentence_doubts([*made[:2], *other], [], {}) == {}


def test_repeated_sentences_finds_every_near_copy_among_many_sentences():
    import random

    from synthese.core.textnorm import edit_distance
    from synthese.tag.excerpts import repeated_sentences

    assert edit_distance("incendie", "incendies") == 1 and edit_distance("", "abc") == 3
    assert edit_distance("un incendie malveillant".split(), "un 110 malveillant".split()) == 1
    rng = random.Random(4)
    vocabulary = [f"mot{k}" for k in range(60)] + ["de", "la", "le"] * 10
    texts = [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 14))) for _ in range(120)]
    texts += [texts[5].replace(texts[5].split()[1], "autre", 1), texts[5] + " fin", texts[9]]  # copies
    made = [passage(f"p{k}", 10.0 * k, [(text, {})], {"a": 0.9})[0] for k, text in enumerate(texts)]
    found = {pid for pid, _ in repeated_sentences(made)}
    # Against every pair compared: the same sentences.
    words = [t.lower().split() for t in texts]
    heard = [sum(1 for b in words if abs(len(a) - len(b)) <= 0.25 * max(len(a), len(b))
                 and edit_distance(a, b) <= 0.25 * max(len(a), len(b))) for a in words]
    assert found == {f"p{k}" for k, n in enumerate(heard) if n >= 3}
    assert {"p5", "p120", "p121"} <= found
