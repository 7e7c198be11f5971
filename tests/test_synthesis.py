"""A synthesis, not a compilation: « À retenir », the speakers, the questions, the themes described
once, and the cycle's own sections (introduction, theme × session table, recurring ideas,
tensions, transversal axes), in every format.

The fixture session of test_render.py is tagged once by the tag stage (spaCy and the sentence
encoder), then again with review files that say what staff write.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from synthese.core.artefacts import Transcript
from synthese.core.config import load_config
from synthese.core.errors import ReviewError
from synthese.core.ideas import SAME_IDEA_COSINE, recurring_groups
from synthese.core.review_file import parse_cycle_review, parse_review
from synthese.core.typography import timestamp
from synthese.render import rendering as render
from synthese.render.compose import SessionInputs, build_cycle_document, build_document
from synthese.render.document import replay_link

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
CONFIG = DATA / "render_config.yaml"
TRANSCRIPT = DATA / "render_sample.transcript.json"
LONG_SESSION = REPO / "bench" / "data" / "long-session"


def squeeze(text: str) -> str:
    return re.sub(r"[\s\u00ad\-‐]+", "", text)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def pdf_links(path: Path) -> set[str]:
    from pypdf import PdfReader

    links = set()
    for page in PdfReader(path).pages:
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and "/URI" in action:
                links.add(str(action["/URI"]))
    return links


def docx_document(path: Path):
    import docx

    return docx.Document(str(path))


def docx_links(word) -> set[str]:
    return {rel.target_ref for rel in word.part.rels.values() if rel.is_external}


def odt_content(path: Path) -> list[str]:
    """The headings ('H2:title') and paragraphs ('P:text') of an OpenDocument text, in order."""
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load

    found = []

    def walk(element) -> None:
        for child in element.childNodes:
            if child.nodeType != child.ELEMENT_NODE:
                continue
            if child.qname == (TEXTNS, "h"):
                found.append(f"H{child.getAttribute('outlinelevel')}:{teletype.extractText(child)}")
            elif child.qname == (TEXTNS, "p"):
                found.append(f"P:{teletype.extractText(child)}")
            else:
                walk(child)

    walk(load(str(path)).text)
    return found


def odt_links(path: Path) -> set[str]:
    from odf.opendocument import load
    from odf.text import A

    return {str(a.getAttribute("href")) for a in load(str(path)).text.getElementsByType(A)}


def heading_levels_are_regular(levels: list[int]) -> bool:
    return bool(levels) and all(after <= before + 1 for before, after in zip(levels, levels[1:]))


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def session(config):
    return config.session("seance-2")


@pytest.fixture(scope="module")
def sample(config):
    """The fixture session's transcript and the tagger's work on it (spaCy, the encoder), once."""
    from synthese.tag.tagging import machine_tags

    transcript = Transcript.load(TRANSCRIPT)
    return transcript, machine_tags(transcript, config)


def tagged(config, session, sample, review_text: str = ""):
    from synthese.tag import tag

    transcript, machine = sample
    review = parse_review(review_text, "seance-2.review.yaml")
    return tag(transcript, config, review=review, machine=machine, session=session)


@pytest.fixture(scope="module")
def plain(config, session, sample):
    return tagged(config, session, sample)


# --- the review file -----------------------------------------------------------------------------

def test_the_review_file_says_key_messages_presentations_and_questions():
    review = parse_review(
        'key_messages:\n'
        '  - "Mesurer avant d\'agir."\n'
        '  - {text: "La commande publique est un levier.", passages: ["00:01:02 Les capteurs"]}\n'
        'presentations:\n'
        '  Claire Dubreuil: "Sociologue, elle étudie les villes moyennes."\n'
        'questions:\n'
        '  - "00:05:34 Pour conclure quelle question"\n'
        '  - {passage: "00:04:00 Et du côté", sentences: [1], answer: "00:04:10 Alors"}\n', "s.review.yaml")
    assert [(m.text, m.passages) for m in review.key_messages] == [
        ("Mesurer avant d'agir.", ()), ("La commande publique est un levier.", ("00:01:02 Les capteurs",))]
    assert review.presentations == {"Claire Dubreuil": "Sociologue, elle étudie les villes moyennes."}
    assert [(q.passage, q.sentences, q.answer) for q in review.questions] == [
        ("00:05:34 Pour conclure quelle question", (), ""), ("00:04:00 Et du côté", (1,), "00:04:10 Alors")]
    assert not review.empty


@pytest.mark.parametrize("text, line, words", [
    ("key_messages:\n  - {txt: \"a\"}\n", 2, "unknown key 'txt'"),
    ("key_messages:\n  - [a, b]\n", 2, "key_messages"),
    ("key_messages:\n  - {passages: [\"00:01:02 a\"]}\n", 2, "'text' is required"),
    ("key_messages: \"a\"\n", 1, "must be a list"),
    ("presentations: [a]\n", 1, "presentations"),
    ("questions:\n  - {passage: \"00:01:02 a\", sentences: [x]}\n", 2, "sentences"),
    ("questions:\n  - {answer: \"00:01:02 a\"}\n", 2, "'passage' is required"),
])
def test_what_staff_write_is_checked_with_its_line(text, line, words):
    with pytest.raises(ReviewError) as error:
        parse_review(text, "s.review.yaml")
    assert f"s.review.yaml, line {line}:" in str(error.value) and words in str(error.value)


def test_the_cycle_review_file_says_an_introduction_and_tensions(repo):
    template = (repo / "templates" / "cycle.review.fr.yaml").read_text(encoding="utf-8")
    assert parse_cycle_review(template, "cycle.review.yaml").introduction == []
    review = parse_cycle_review(
        "introduction: |\n  Premier paragraphe,\n  sur deux lignes.\n\n  Second paragraphe.\n"
        "tensions:\n  - {text: \"Capteurs ou sobriété\", passages: [\"seance-2 00:01:02 Les capteurs\"]}\n",
        "cycle.review.yaml")
    assert review.introduction == ["Premier paragraphe, sur deux lignes.", "Second paragraphe."]
    assert [(t.text, t.passages) for t in review.tensions] == [
        ("Capteurs ou sobriété", (("seance-2", "00:01:02 Les capteurs"),))]
    with pytest.raises(ReviewError, match=r"cycle.review.yaml, line 2: unknown section 'tension'"):
        parse_cycle_review("introduction: a\ntension: []\n", "cycle.review.yaml")
    with pytest.raises(ReviewError, match=r"line 2: passage 'seance-2' names no session"):
        parse_cycle_review("tensions:\n  - {text: a, passages: [\"seance-2\"]}\n", "cycle.review.yaml")


# --- « À retenir » -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def written(config, session, sample, plain, tmp_path_factory):
    """The session with two messages written in its review file (one linked to two passages), a
    presentation and a question marked; rendered in every format."""
    first, second = plain.passages[2], plain.passages[7]
    text = ('key_messages:\n'
            '  - "Mesurer l\'empreinte des services numériques avant de décider."\n'
            f'  - {{text: "Les capteurs coûtent plus qu\'ils ne rapportent.", passages: ["{first.key}", '
            f'"{second.key}", "00:59:00 Passage disparu"]}}\n'
            'presentations:\n'
            '  Sophie Garnier: "Consultante, elle accompagne les collectivités sur la cybersécurité."\n')
    tags = tagged(config, session, sample, text)
    out = tmp_path_factory.mktemp("written")
    render.render_session(SessionInputs(session, tags, sample[0]), config, out_dir=out, stem="seance-2")
    return tags, out, (first, second)


def test_key_messages_from_the_review_file_open_every_format_with_their_links(written, session):
    tags, out, (first, second) = written
    assert [m.text for m in tags.key_messages.written] == [
        "Mesurer l'empreinte des services numériques avant de décider.",
        "Les capteurs coûtent plus qu'ils ne rapportent."]
    assert tags.key_messages.written[1].passages == [first.id, second.id]
    assert any("Passage disparu" in o for o in tags.review.orphaned)  # reported, the message kept
    links = [replay_link(session.replay_url, p.start) for p in (first, second)]
    messages = ["Mesurer l’empreinte des services numériques avant de décider.",
                "Les capteurs coûtent plus qu’ils ne rapportent."]

    page = html.unescape((out / "seance-2.html").read_text(encoding="utf-8"))
    section = page[page.index('<section class="key-messages"'):page.index('<section class="overview"')]
    assert "<h2 id=\"key-messages-title\">À retenir</h2>" in section and "Propositions" not in section
    assert all(message in section for message in messages)
    assert all(f'href="{link}"' in section for link in links)
    assert page.index('id="key-messages"') < page.index('id="overview"') < page.index('id="theme-')

    pdf = pdf_text(out / "seance-2.pdf")
    assert squeeze("À retenir") in squeeze(pdf) and all(squeeze(m) in squeeze(pdf) for m in messages)
    assert set(links) <= pdf_links(out / "seance-2.pdf")

    odt = odt_content(out / "seance-2.odt")
    opened = odt.index("H1:À retenir")
    assert odt[opened + 1].startswith(f"P:1. {messages[0]}") and odt[opened + 2].startswith(f"P:2. {messages[1]}")
    assert set(links) <= odt_links(out / "seance-2.odt")
    assert heading_levels_are_regular([int(e[1]) for e in odt if e.startswith("H")])

    word = docx_document(out / "seance-2.docx")
    texts = [p.text for p in word.paragraphs]
    heading = next(i for i, p in enumerate(word.paragraphs) if p.text == "À retenir" and p.style.name == "Heading 1")
    assert texts[heading + 1].startswith(messages[0]) and texts[heading + 2].startswith(messages[1])
    assert set(links) <= docx_links(word)
    assert heading_levels_are_regular([int(p.style.name.split()[-1]) for p in word.paragraphs
                                       if p.style.name.startswith("Heading")])


def test_until_staff_write_some_the_proposals_show_as_not_reviewed(config, session, sample, plain):
    doc = build_document(SessionInputs(session, plain, sample[0]), config)
    assert doc.key_messages.proposed and doc.key_messages.subtitle == "Propositions (non relues)"
    assert len(doc.key_messages.messages) == len(plain.key_messages.proposals) >= 3
    assert all(m.excerpt is not None and m.excerpt.link for m in doc.key_messages.messages)


def test_proposals_never_say_the_same_thing_twice_nor_anything_held_or_housekeeping(config, plain, sample):
    from synthese.tag.meaning import embed

    machine = sample[1]
    proposals = plain.key_messages.proposals
    assert 3 <= len(proposals) <= config.tag.key_messages
    vectors = embed([p.quote.text for p in proposals])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    assert similarity.max() < SAME_IDEA_COSINE
    held = {(h.passage, i) for h in plain.held for i in h.doubtful}
    for proposal in proposals:
        (index,) = proposal.quote.sentences
        assert (proposal.quote.passage, index) not in held
        assert not machine.sentences[proposal.quote.passage][index].meta
        passage = plain.passage(proposal.quote.passage)
        assert not passage.sentences[index].unsure
        for similar in proposal.similar:
            assert float(embed([similar.text])[0] @ embed([proposal.quote.text])[0]) >= SAME_IDEA_COSINE - 0.01


def test_two_sentences_that_say_the_same_thing_make_one_proposal():
    from synthese.core.artefacts import Passage, Sentence
    from synthese.core.config import TagOptions
    from synthese.tag.excerpts import SessionEvidence
    from synthese.tag.meaning import embed
    from synthese.tag.synthesis import propose_key_messages
    from synthese.tag.themes import SentenceEvidence

    said = ["La sobriété numérique commence par mesurer ce que consomment nos services.",
            "Pour être sobre, il faut d'abord mesurer ce que consomment nos services numériques.",
            "Les habitants doivent pouvoir participer aux décisions sur les capteurs installés.",
            "Les collectivités manquent de compétences pour négocier avec les opérateurs."]
    vectors = embed(said)
    assert float(vectors[0] @ vectors[1]) >= SAME_IDEA_COSINE > float(vectors[0] @ vectors[2])
    passages = [Passage(id=f"p{i}", key=f"00:00:0{i} x", start=i * 10.0, end=i * 10.0 + 9, speaker=f"S{i}",
                        text=text, sentences=[Sentence(start=i * 10.0, end=i * 10.0 + 9, text=text)])
                for i, text in enumerate(said)]
    evidence = SessionEvidence(
        {p.id: [SentenceEvidence(words=len(p.text.split()), points={"a": 2.0}, keywords={}, meaning=[],
                                 subthemes={}, verb=True)] for p in passages},
        {p.id: vectors[i:i + 1] for i, p in enumerate(passages)}, ["a"], TagOptions(meaning="none"))
    proposals = propose_key_messages(passages, evidence, set(), set(), 4)
    texts = [p.quote.text for p in proposals]
    assert len(proposals) == 3 and not (said[0] in texts and said[1] in texts)
    grouped = next(p for p in proposals if p.quote.text in said[:2])
    assert [s.text for s in grouped.similar] == [t for t in said[:2] if t != grouped.quote.text]


# --- the speakers, the questions, the themes once ------------------------------------------------

def test_every_named_speaker_has_a_paragraph_with_their_own_checked_sentences(written, sample, config):
    tags, out, _ = written
    voices = {s.speaker for s in sample[0].segments if s.speaker}
    assert {s.name for s in tags.speakers} == voices and len(voices) == 4
    declared = {s.name: s for s in config.session("seance-2").speakers}
    held = {(h.passage, i) for h in tags.held for i in h.doubtful}
    printed = {(q.passage, i) for quotes in tags.excerpts.values() for q in quotes for i in q.sentences}
    for speaker in tags.speakers:
        assert speaker.seconds > 0 and speaker.themes
        assert len(speaker.quotes) <= 3
        for quote in speaker.quotes:
            assert tags.passage(quote.passage).speaker == speaker.name
            assert not any((quote.passage, i) in held | printed for i in quote.sentences)
    page = html.unescape((out / "seance-2.html").read_text(encoding="utf-8"))
    section = page[page.index('<section class="speakers"'):page.index('<section class="chapter')]
    word = [p.text for p in docx_document(out / "seance-2.docx").paragraphs]
    for name in voices:
        assert f">{name}</h3>" in section and name in word
        assert declared[name].organisation in section
    assert "Consultante, elle accompagne les collectivités sur la cybersécurité." in section
    for speaker in tags.speakers:
        for quote in speaker.quotes:
            assert replay_link(config.session("seance-2").replay_url, quote.start) in section


@pytest.mark.parametrize("role, after_name", [
    ("Fondateur d'une start-up", "fondateur d’une start-up"),
    ("Médiatrice numérique", "médiatrice numérique"),
    ("Sociologue", "sociologue"),
    ("DINUM", "DINUM"),  # an acronym stays as is
])
def test_a_role_reads_in_lower_case_after_a_name(config, session, role, after_name):
    from synthese.core.config import Speaker
    from synthese.render.compose import _SpeakerDirectory

    declared = session.model_copy(update={"speakers": [Speaker(name="Thomas Berthier", role=role)]})
    directory = _SpeakerDirectory(declared, None, config.templates.wording())
    assert directory.affiliation("Thomas Berthier") == after_name


def test_nine_declared_speakers_keep_to_the_title_page(config, session, plain, sample, tmp_path):
    from pypdf import PdfReader

    from synthese.core.config import Speaker

    nine = [Speaker(name=f"Intervenante {n}", role="Chercheuse en urbanisme", organisation="Université de Lyon")
            for n in range(1, 10)]
    crowded = session.model_copy(update={"speakers": nine})
    config = config.model_copy(update={"render": config.render.model_copy(update={"formats": ["pdf"]})})
    manifest = render.render_session(SessionInputs(crowded, plain, sample[0]), config, out_dir=tmp_path, stem="s")
    pages = PdfReader(tmp_path / manifest.files["pdf"]).pages
    assert "Intervenante 9" in pages[0].extract_text()
    assert squeeze("Sommaire") in squeeze(pages[1].extract_text())  # the contents follow the title page


def test_a_question_staff_mark_is_grouped_with_the_answer_that_follows(config, session, sample, plain):
    asked = next(p for p in plain.passages if any(s.text.rstrip().endswith("?") for s in p.sentences)
                 and p.start < (plain.duration_s or 0) * 2 / 3)
    tags = tagged(config, session, sample, f'questions:\n  - "{asked.key}"\n')
    (exchange,) = tags.exchanges
    assert exchange.source == "review" and exchange.question.passage == asked.id
    assert exchange.question.text.rstrip().endswith("?")
    answer = tags.passage(exchange.answer.passage)
    assert answer.start >= asked.end and answer.speaker != asked.speaker
    doc = build_document(SessionInputs(session, tags, sample[0]), config)
    assert not doc.exchanges.proposed and doc.exchanges.items[0].answer.speaker == answer.speaker


def test_the_answer_staff_name_is_printed_once_its_speaker_quoted_elsewhere(config, session, sample, plain):
    # A sentence the speakers' section quotes when no question is marked, opening its passage...
    quote = next(q for speaker in plain.speakers for q in speaker.quotes if q.sentences == [0])
    answer = plain.passage(quote.passage)
    asked = plain.passages[plain.passages.index(answer) - 1]
    # ...is the answer staff name to a question: printed there, and nowhere else.
    tags = tagged(config, session, sample, f'questions:\n  - {{passage: "{asked.key}", answer: "{answer.key}"}}\n')
    (exchange,) = tags.exchanges
    assert exchange.answer is not None and exchange.answer.passage == answer.id and 0 in exchange.answer.sentences
    printed = [(q.passage, i) for quotes in tags.excerpts.values() for q in quotes for i in q.sentences]
    printed += [(q.passage, i) for speaker in tags.speakers for q in speaker.quotes for i in q.sentences]
    printed += [(q.passage, i) for points in tags.key_points.themes.values() for q in points for i in q.sentences]
    printed += [(q.passage, i) for e in tags.exchanges for q in (e.question, e.answer) for i in q.sentences]
    assert len(printed) == len(set(printed))


def test_until_staff_mark_some_the_questions_of_the_last_part_are_proposed(plain):
    assert plain.exchanges and all(e.source == "proposed" for e in plain.exchanges)
    for exchange in plain.exchanges:
        assert exchange.question.start >= (plain.duration_s or 0) * 2 / 3
        assert exchange.question.text.rstrip().endswith("?") and exchange.answer is not None
        assert exchange.answer.start > exchange.question.start


def test_a_themes_description_is_printed_once_in_the_annex(config, session, sample, plain):
    doc = build_document(SessionInputs(session, plain, sample[0]), config)
    page = render.render_html(doc, config.templates)
    for theme in config.themes:
        description = html.escape(theme.description.split(" :")[0], quote=False)
        assert page.count(description) <= 1
    assert 'id="codebook"' in page and all(f'id="codebook-{t.id}"' in page for t in config.themes)
    assert all(f'id="codebook-axis-{a.id}"' in page for a in config.cycle.axes)


# --- the cycle ---------------------------------------------------------------------------------

def test_recurring_groups_join_what_different_sessions_say_alike():
    vectors = np.array([[1, 0, 0], [0.95, 0.3, 0], [0, 1, 0], [0, 0.9, 0.4], [0, 0, 1], [0.9, 0, 0.3]],
                       dtype="float32")
    owners = ["s1", "s2", "s1", "s1", "s2", "s3"]
    groups = recurring_groups(vectors, owners, limit=5)
    # Rows 0, 1 and 5 say the same thing in three sessions; 2 and 3 in one session only.
    assert groups == [[0, 1, 5]] or sorted(groups[0]) == [0, 1, 5]
    assert all(len({owners[k] for k in g}) == len(g) for g in groups)


def test_a_cycle_of_one_session_has_no_recurring_ideas_section(config, session, sample, plain, tmp_path):
    # With one session nothing can recur: the section would only say so, in every format.
    manifest = render.render_cycle([SessionInputs(session, plain, sample[0])], config, out_dir=tmp_path)
    page = html.unescape((tmp_path / manifest.files["html"]).read_text(encoding="utf-8"))
    word = [p.text for p in docx_document(tmp_path / manifest.files["docx"]).paragraphs]
    odt = odt_content(tmp_path / manifest.files["odt"])
    assert "Idées qui reviennent" not in page and "Idées qui reviennent" not in word
    assert not any("Idées qui reviennent" in entry for entry in odt)
    assert "Les thèmes, séance par séance" in word  # the cycle's other sections are there


def test_the_cycle_synthesis_of_two_sessions(config, session, sample, plain, tmp_path):
    second = session.model_copy(update={"id": "seance-3", "number": 3, "title": "Suite"})
    key = plain.passages[4].key
    review = parse_cycle_review(
        "introduction: |\n  Deux séances pour confronter chercheurs et villes.\n\n  Elles convergent.\n"
        f"tensions:\n  - {{text: \"Mesurer ou agir d'abord\", passages: [\"seance-3 {key}\", \"seance-9 00:00:01 x\"]}}\n",
        "cycle.review.yaml")
    sessions = [SessionInputs(session, plain, sample[0]),
                SessionInputs(second, plain.model_copy(update={"session_id": "seance-3"}), sample[0])]
    doc = build_cycle_document(config, sessions, review=review)
    assert doc.introduction == ["Deux séances pour confronter chercheurs et villes.", "Elles convergent."]
    assert doc.theme_table.header[1:] == ["Séance 2", "Séance 3"] and doc.theme_table.rows
    assert all(chapter.table and len(chapter.table.rows) == 2 for chapter in doc.chapters)
    assert [a.id for a in doc.axes] == [a.id for a in config.cycle.axes]
    assert doc.recurring  # the same session twice: its ideas recur, and are not quoted again in a chapter
    assert [t.text for t in doc.tensions] == ["Mesurer ou agir d’abord"] and len(doc.tensions[0].refs) == 1
    # Each side of a tension is attributed as a recurring idea is: who, which session, when.
    passage = plain.passages[4]
    (ref,) = doc.tensions[0].refs
    assert ref.label == f"{passage.speaker} · Séance 3 · {timestamp(passage.start)}"
    assert ref.link == replay_link(second.replay_url, passage.start)
    # The sessions not reviewed are named on the cover without brackets inside brackets.
    assert doc.review.draft and "Séance 2 (" in doc.review.note and "))" not in doc.review.note
    manifest = render.render_cycle(sessions, config, out_dir=tmp_path, review=review)
    page = html.unescape((tmp_path / manifest.files["html"]).read_text(encoding="utf-8"))
    pdf = squeeze(pdf_text(tmp_path / manifest.files["pdf"]))
    word = docx_document(tmp_path / manifest.files["docx"])
    texts = [p.text for p in word.paragraphs]
    odt = odt_content(tmp_path / manifest.files["odt"])
    for title in ("Introduction", "Les thèmes, séance par séance", "Idées qui reviennent", "Points de débat",
                  "Axes transversaux"):
        assert f">{title}</h2>" in page and squeeze(title) in pdf and title in texts and f"H1:{title}" in odt
    for axis in config.cycle.axes:
        assert f'id="axis-{axis.id}"' in page and axis.label in texts and f"H2:{axis.label}" in odt
    assert heading_levels_are_regular([int(e[1]) for e in odt if e.startswith("H")])
    assert heading_levels_are_regular([int(p.style.name.split()[-1]) for p in word.paragraphs
                                       if p.style.name.startswith("Heading")])
    # Word's navigation pane tells the axes' section from their entry in the annex.
    headings = [p.text for p in word.paragraphs if p.style.name.startswith("Heading")]
    assert headings.count("Axes transversaux") == 1 and "Les axes transversaux du programme" in headings


def test_a_chapter_table_names_four_speakers_and_counts_the_others(config, session, sample, plain):
    # Every passage said by a voice of its own: the chapters' themes have more than four speakers.
    voices = plain.model_copy(update={"passages": [p.model_copy(update={"speaker": f"Voix {n}"})
                                                   for n, p in enumerate(plain.passages)]})
    doc = build_cycle_document(config, [SessionInputs(session, voices, sample[0])])
    crowded = [row for chapter in doc.chapters for row in chapter.table.rows if int(row[2]) > 4]
    assert crowded
    for row in crowded:
        others = int(row[2]) - 4
        assert row[1].count("Voix") == 4, row[1]
        assert row[1].endswith(f"et {others} autre" + ("s" if others > 1 else "")) and "…" not in row[1]


@pytest.mark.slow
def test_the_cycle_of_the_long_generated_session_in_two_finds_a_recurring_idea(tmp_path):
    """The long generated session (bench/make_long_session.py) cut in two sessions: the cycle's
    synthesis has the theme × session table, an idea said in both halves, and a section per axis."""
    source = LONG_SESSION / "transcripts" / "long-session" / "long-session.transcript.json"
    if not source.is_file():
        pytest.skip(f"generate the long session first (bench/make_long_session.py, then synthese run): {source}")
    from synthese.core.config import Session
    from synthese.tag import tag

    config = load_config(REPO / "config.yaml")
    transcript = Transcript.load(source)
    middle = transcript.duration_s / 2
    sessions = []
    for number, (low, high) in enumerate(((0.0, middle), (middle, float("inf"))), start=1):
        part = transcript.model_copy(deep=True)
        part.segments = [s for s in part.segments if low <= s.start < high]
        part.gaps = [g for g in part.gaps if low <= g.start < high]
        session = Session(id=f"partie-{number}", number=number, title=f"Partie {number}", transcript=source,
                          replay_url="https://www.youtube.com/watch?v=synthese")
        sessions.append(SessionInputs(session, tag(part, config, session=session), part))
    doc = build_cycle_document(config, sessions)
    assert doc.theme_table.header[1:] == ["Séance 1", "Séance 2"] and len(doc.theme_table.rows) >= 3
    assert doc.recurring
    for idea in doc.recurring:
        assert len({e.session_id for e in idea.excerpts}) >= 2 and any(not e.held for e in idea.excerpts)
    assert [a.id for a in doc.axes] == [a.id for a in config.cycle.axes]
    assert sum(1 for a in doc.axes if a.summary) >= 3  # passages tagged with most axes
    manifest = render.render_cycle(sessions, config, out_dir=tmp_path)
    page = html.unescape((tmp_path / manifest.files["html"]).read_text(encoding="utf-8"))
    assert page.count('<li><ul>') == len(doc.recurring)


# --- what staff write re-renders, and is approved ------------------------------------------------

def test_the_cycle_review_file_is_an_input_of_the_cycle_synthesis(tmp_path, config):
    from synthese.core.review_file import ensure_review_file
    from synthese.stages import CYCLE_REVIEW_TEMPLATE, cycle_inputs_hash

    review = tmp_path / "_cycle" / "cycle.review.yaml"
    review.parent.mkdir()
    before = cycle_inputs_hash([], config.sessions, config, review)
    ensure_review_file(review, config.templates.read_text(CYCLE_REVIEW_TEMPLATE))
    assert cycle_inputs_hash([], config.sessions, config, review) == before  # created as it was read
    review.write_text(review.read_text(encoding="utf-8").replace('introduction: ""', "introduction: Un cycle."),
                      encoding="utf-8")
    assert cycle_inputs_hash([], config.sessions, config, review) != before


def test_what_staff_write_is_approved_with_the_rest(sample):
    from synthese.core.approval import content_fingerprint

    transcript = sample[0]
    nothing = content_fingerprint(transcript, parse_review("speakers: {}\n", "r"))
    assert content_fingerprint(transcript, parse_review("key_messages: []\npresentations: {}\n", "r")) == nothing
    message = content_fingerprint(transcript, parse_review('key_messages: ["Mesurer d\'abord."]\n', "r"))
    presented = content_fingerprint(transcript, parse_review('presentations: {A: "Chercheuse."}\n', "r"))
    asked = content_fingerprint(transcript, parse_review('questions: ["00:05:34 Pour conclure"]\n', "r"))
    assert len({nothing, message, presented, asked}) == 4
