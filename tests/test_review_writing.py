"""The review page's « À retenir », « Les intervenants » and questions: the proposals to start
from, with their passage and play button; what staff accept, edit or write reaches the review
file line by line (undoable) and the documents after the refresh.

The workspace is test_review_page.py's, with the transcript of the rendering tests' session
(four named voices, a question in its last part, sentences heard with confidence)."""

from __future__ import annotations

import html

import pytest
from test_review_page import DATA, action, call, prepared_app, review_of, review_workspace, wait_for_jobs

from synthese.core.artefacts import Tags, Transcript
from synthese.review.edits import (
    ReviewEditError,
    add_key_message,
    remove_key_message,
    set_key_message,
    set_presentation,
    set_question,
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    transcript = Transcript.load(DATA / "render_sample.transcript.json")
    page = prepared_app(review_workspace(tmp_path_factory.mktemp("writing"), transcript, formats=["html"]))
    yield page
    page.close()


def fragment(app, name: str) -> str:
    status, _, content = call(app, "GET", f"/fragment/{name}")
    assert status == 200
    return html.unescape(content.decode())


def test_the_proposals_are_offered_with_their_passage_and_a_play_button(app):
    tags = Tags.load(app.paths.tags)
    proposals = tags.key_messages.proposals
    assert proposals
    page = fragment(app, "retenir")
    for proposal in proposals:
        passage = tags.passage(proposal.quote.passage)
        assert f'data-t="{proposal.quote.start}"' in page and f'value="{passage.key}"' in page
    assert page.count("Accepter</button>") == len(proposals)
    assert 'href="#retenir"' in call(app, "GET", "/")[2].decode()


def test_accepting_editing_and_writing_key_messages_reach_the_file_and_the_documents(app):
    tags = Tags.load(app.paths.tags)
    proposal = tags.key_messages.proposals[0]
    key = tags.passage(proposal.quote.passage).key
    status, answer = action(app, action="message_add", text=proposal.quote.text, key=key)
    assert status == 200 and answer["undo"]
    status, _ = action(app, action="message_add", text="La sobriété commence par mesurer.", key="")
    assert status == 200
    review = review_of(app)
    assert [(m.text, m.passages) for m in review.key_messages] == [
        (" ".join(proposal.quote.text.split()), (key,)), ("La sobriété commence par mesurer.", ())]
    status, _ = action(app, action="message_edit", number=1, expected="La sobriété commence par mesurer.",
                       text="La sobriété numérique commence par mesurer.", decision="save")
    assert status == 200 and review_of(app).key_messages[1].text == "La sobriété numérique commence par mesurer."
    # A stale message (edited in the file meanwhile) is refused.
    status, _ = action(app, action="message_edit", number=1, expected="autre chose", text="x", decision="save")
    assert status == 409
    wait_for_jobs(app)
    tags = Tags.load(app.paths.tags)
    assert [m.text for m in tags.key_messages.written][1] == "La sobriété numérique commence par mesurer."
    assert tags.key_messages.written[0].passages == [proposal.quote.passage]
    document = html.unescape((app.paths.render_dir / f"{app.session.id}.html").read_text(encoding="utf-8"))
    section = document[document.index('id="key-messages"'):document.index('id="overview"')]
    assert "La sobriété numérique commence par mesurer." in section and "Propositions" not in section
    page = fragment(app, "retenir")
    assert "Acceptée." in page and "Vos messages" in page
    # Removed, then the removal undone: the message comes back.
    status, answer = action(app, action="message_edit", number=1, expected="La sobriété numérique commence par mesurer.",
                            text="", decision="remove")
    assert status == 200 and len(review_of(app).key_messages) == 1
    status, _ = action(app, action="undo", id=answer["id"])
    assert status == 200 and [m.text for m in review_of(app).key_messages][-1] == \
        "La sobriété numérique commence par mesurer."
    wait_for_jobs(app)


def test_a_named_voice_gets_a_presentation_and_a_passage_is_marked_as_a_question(app):
    page = fragment(app, "intervenants")
    assert all(name in page for name in ("François Ménard", "Claire Dubreuil", "Mathieu Lambert", "Sophie Garnier"))
    status, _ = action(app, action="presentation", name="Inconnu", sentence="x")
    assert status == 409
    status, _ = action(app, action="presentation", name="François Ménard",
                       sentence="Animateur du cycle, il en présente le programme.")
    assert status == 200
    assert review_of(app).presentations == {"François Ménard": "Animateur du cycle, il en présente le programme."}
    tags = Tags.load(app.paths.tags)
    asked = next(p for p in tags.passages if any(s.text.rstrip().endswith("?") for s in p.sentences))
    status, answer = action(app, action="question", passage=asked.id, decision="mark")
    assert status == 200 and [q.passage for q in review_of(app).questions] == [asked.key]
    wait_for_jobs(app)
    tags = Tags.load(app.paths.tags)
    assert [e.source for e in tags.exchanges] == ["review"] and tags.exchanges[0].question.passage == asked.id
    page = fragment(app, "questions")
    assert 'value="unmark"' in page and "question du public</button>" in page
    speaker = next(s for s in tags.speakers if s.name == "François Ménard")
    assert speaker.presentation == "Animateur du cycle, il en présente le programme."
    document = html.unescape((app.paths.render_dir / f"{app.session.id}.html").read_text(encoding="utf-8"))
    assert "Animateur du cycle, il en présente le programme." in document and 'id="exchanges"' in document
    status, _ = action(app, action="question", passage=asked.id, decision="unmark")
    assert status == 200 and review_of(app).questions == []


TEMPLATE_END = "exclude: []\nkey_messages: []\npresentations: {}\nquestions: []\n"


def test_the_edits_change_only_their_lines_and_keep_comments():
    text = "# mes notes\nspeakers: {}\n" + TEMPLATE_END + "# fin\n"
    added = add_key_message(text, "r.yaml", "Mesurer d'abord.", ["00:01:02 Les capteurs"])
    assert added.startswith("# mes notes\n") and added.endswith("# fin\n")
    assert '  - {text: "Mesurer d\'abord.", passages: ["00:01:02 Les capteurs"]}\n' in added
    edited = set_key_message(added, "r.yaml", 0, "Mesurer d'abord.", "Mesurer, d'abord.")
    assert "passages: [\"00:01:02 Les capteurs\"]" in edited and "Mesurer, d'abord." in edited
    assert remove_key_message(edited, "r.yaml", 0, "Mesurer, d'abord.") == text
    with pytest.raises(ReviewEditError):
        remove_key_message(edited, "r.yaml", 0, "Mesurer d'abord.")  # not what the file says now
    presented = set_presentation(text, "r.yaml", "Claire Vasseur", "Chercheuse.")
    assert '  Claire Vasseur: "Chercheuse."\n' in presented
    assert set_presentation(presented, "r.yaml", "Claire Vasseur", "") .count("Claire") == 0
    same = lambda key: key.startswith("00:05:34")  # noqa: E731
    marked = set_question(text, "r.yaml", "00:05:34 Pour conclure", True, same)
    assert '  - "00:05:34 Pour conclure"\n' in marked
    assert set_question(marked, "r.yaml", "00:05:34 Pour conclure", False, same).count("Pour conclure") == 0
