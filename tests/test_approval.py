"""Approval: a session is a draft until someone approves it; the review file records who, when
and the fingerprint of what was approved; any later change to that content makes the session
"modifiée depuis l'approbation" until it is approved again."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from test_review_page import action, call, prepared_app, review_workspace, wait_for_jobs

from synthese.core.approval import approval_of, content_fingerprint, left_to_review, voice_pattern
from synthese.core.artefacts import Approval, RenderManifest, SiteManifest, Tags, Transcript
from synthese.core.config import load_config
from synthese.core.errors import ReviewError
from synthese.core.resources import TemplateSet
from synthese.core.review_file import parse_review, revise_transcript
from synthese.render import SessionInputs, render_session
from synthese.render.compose import build_cycle_document, build_document
from synthese.render.html import render_html
from synthese.review.approve import approve_session
from synthese.review.edits import ReviewEditError, add_correction, set_approval, set_decision, set_speaker, version_of
from synthese.run import run_all

DATA = Path(__file__).resolve().parent / "data"
TEMPLATE = TemplateSet().read_text("review.fr.yaml")
NAME = "s.review.yaml"
AT = dt.datetime(2026, 12, 7, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.fixture(scope="module")
def transcript() -> Transcript:
    return Transcript.load(DATA / "review_sample.transcript.json")


def approve(text: str, transcript: Transcript, by: str = "Marie Dupont") -> str:
    review = parse_review(text, NAME)
    fingerprint = content_fingerprint(revise_transcript(transcript, review)[0], review)
    return set_approval(text, NAME, by=by, at=AT, fingerprint=fingerprint)


def state(text: str, transcript: Transcript) -> str:
    review = parse_review(text, NAME)
    return approval_of(review, revise_transcript(transcript, review)[0]).state


def test_a_session_is_a_draft_until_approved_then_approved_with_who_and_when(transcript):
    assert state(TEMPLATE, transcript) == "draft"
    text = approve(TEMPLATE, transcript)
    # One line added at the end; every other byte as it was.
    assert text.startswith(TEMPLATE)
    assert text[len(TEMPLATE):].startswith('approved: {by: "Marie Dupont", at: "2026-12-07T10:15+01:00", fingerprint: "')
    review = parse_review(text, NAME)
    approval = approval_of(review, revise_transcript(transcript, review)[0])
    assert (approval.state, approval.by, approval.at) == ("approved", "Marie Dupont", "2026-12-07T10:15+01:00")
    assert approval.final and approval.date == dt.date(2026, 12, 7)


@pytest.mark.parametrize("change", ["correction", "decision", "voice"])
def test_any_change_to_the_content_after_approval_makes_it_changed_until_approved_again(transcript, change):
    text = approve(TEMPLATE, transcript)
    segment = transcript.segments[3]
    if change == "correction":
        text = add_correction(text, NAME, segment.start, segment.text.split()[1], "autrement")
    elif change == "decision":
        key = "00:00:10 Bonjour"
        text = set_decision(text, NAME, family=("accept", "reject", "add"), kind="add", passage_key=key,
                            theme="sobriete", same_passage=lambda k: k == key)
    else:
        text = set_speaker(text, NAME, "Intervenant 1", "François Ménard")
    assert state(text, transcript) == "changed"
    # Approved again: the new approval replaces the old line, in its place.
    again = approve(text, transcript, by="Paul Martin")
    assert state(again, transcript) == "approved"
    assert again.count("\napproved:") == 1 and parse_review(again, NAME).approved.by == "Paul Martin"


def test_a_new_transcription_that_changes_the_text_changes_the_state_but_new_times_alone_do_not(transcript):
    text = approve(TEMPLATE, transcript)
    shifted = transcript.model_copy(deep=True)
    for segment in shifted.segments:
        segment.start, segment.end = segment.start + 0.4, segment.end + 0.4
    assert state(text, shifted) == "approved"
    reworded = transcript.model_copy(deep=True)
    reworded.segments[0].text += " voilà"
    assert state(text, reworded) == "changed"


def test_an_approval_written_wrong_by_hand_names_its_line():
    with pytest.raises(ReviewError, match=r"s.review.yaml, line 3: 'by', 'at' and 'fingerprint' are required"):
        parse_review("speakers: {}\n\napproved: {by: Marie}\n", NAME)
    with pytest.raises(ReviewError, match=r"line 1: 'at' 'hier' is not a date and time"):
        parse_review('approved: {by: Marie, at: hier, fingerprint: "abc"}\n', NAME)


def test_an_approval_needs_a_name():
    with pytest.raises(ReviewEditError):
        set_approval(TEMPLATE, NAME, by="  ", at=AT, fingerprint="abc")


def test_what_is_left_to_review_counts_unnamed_voices_gaps_and_uncertain_words(transcript):
    review = parse_review(TEMPLATE, NAME)
    voices = voice_pattern("Intervenant {n}")
    todo = {t.kind: t.count for t in left_to_review(transcript, review, None, voices)}
    uncertain = sum(1 for s in transcript.segments for w in s.words if w.p is not None and w.p < 0.5)
    assert todo == {"unnamed_voices": 2, "gaps": len(transcript.gaps), "uncertain_words": uncertain,
                    "unconfirmed_quotes": 0}
    named = parse_review(set_speaker(TEMPLATE, NAME, "Intervenant 2", "Claire Dubreuil"), NAME)
    assert {t.kind: t.count for t in left_to_review(transcript, named, None, voices)}["unnamed_voices"] == 1


def test_cli_approve_and_status_follow_the_review(tmp_path, cli):
    ws = review_workspace(tmp_path / "ws")
    config = str(ws.config.path)
    status = cli("--config", config, "status")
    assert status.returncode == 0, status.stderr
    assert "seance-introductive  non relue (document de travail)" in status.stdout
    assert "reste à relire : 2 voix non nommées" in status.stdout.replace("\u00a0", " ")

    approved = cli("--config", config, "approve", "seance-introductive", "--by", "Marie Dupont")
    assert approved.returncode == 0, approved.stderr
    today = dt.date.today()
    status = cli("--config", config, "status").stdout.replace("\u00a0", " ")
    assert "seance-introductive  approuvée par Marie Dupont le " in status

    review = ws.paths(ws.config.session("seance-introductive")).review
    segment = Transcript.load(ws.paths(ws.config.session("seance-introductive")).transcript).segments[2]
    review.write_text(add_correction(review.read_text(encoding="utf-8"), review.name, segment.start,
                                     segment.text.split()[0], "Alors"), encoding="utf-8")
    status = cli("--config", config, "status").stdout.replace("\u00a0", " ")
    assert "seance-introductive  modifiée depuis l’approbation (approuvée par Marie Dupont le" in status
    assert str(today.year) in status

    missing = cli("--config", config, "approve", "seance-introductive", "--by", "")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: say who approves")



# --- what the documents show ------------------------------------------------------------------------

MARK = "DOCUMENT DE TRAVAIL — NON RELU"
APPROVED = Approval(state="approved", by="Marie Dupont", at="2026-12-07T10:15+01:00", fingerprint="f" * 20)


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(path).pages]


def docx_texts(path: Path) -> tuple[str, list[str]]:
    """The body's text and the headers' texts."""
    import docx

    word = docx.Document(str(path))
    section = word.sections[0]
    body = "\n".join(p.text for p in word.paragraphs)
    return body, [p.text for h in (section.header, section.first_page_header) for p in h.paragraphs]


@pytest.fixture(scope="module")
def sample():
    config = load_config(DATA / "render_config.yaml")
    return config, Tags.load(DATA / "render_sample.tags.json"), Transcript.load(DATA / "render_sample.transcript.json")


def with_approval(tags: Tags, approval: Approval) -> Tags:
    copy = tags.model_copy(deep=True)
    copy.review.approval = approval
    return copy


@pytest.fixture(scope="module")
def rendered(sample, tmp_path_factory):
    """The sample session rendered as a draft, approved, then changed since its approval."""
    config, tags, transcript = sample
    out = {}
    for name, approval in (("draft", Approval()), ("approved", APPROVED),
                           ("changed", APPROVED.model_copy(update={"state": "changed"}))):
        folder = tmp_path_factory.mktemp(name)
        render_session(SessionInputs(config.session("seance-2"), with_approval(tags, approval), transcript), config,
                       out_dir=folder, stem="seance-2").save(folder / "seance-2.render.json")
        out[name] = folder
    return out


def test_a_draft_has_the_mark_on_every_page_of_every_format_and_no_publication_date(rendered):
    folder = rendered["draft"]
    pages = pdf_pages(folder / "seance-2.pdf")
    assert len(pages) > 5 and all(MARK in page for page in pages)
    assert not any("Publié le" in page or "Pour citer" in page for page in pages)
    from pypdf import PdfReader

    assert PdfReader(folder / "seance-2.pdf").metadata["/Status"] == "Document de travail — non relu"
    body, headers = docx_texts(folder / "seance-2.docx")
    assert body.startswith(MARK) and "Publié le" not in body
    assert headers and all(MARK in header for header in headers)
    import docx

    assert docx.Document(str(folder / "seance-2.docx")).core_properties.content_status == "Document de travail — non relu"
    page = (folder / "seance-2.html").read_text(encoding="utf-8")
    assert '<p class="cover-draft" role="note"><strong class="draft-mark">Document de travail — non relu</strong>' in page
    assert '<meta name="Status" content="Document de travail — non relu">' in page and "Publié le" not in page
    manifest = RenderManifest.load(folder / "seance-2.render.json")
    assert manifest.approval.state == "draft" and manifest.page.review_mark and not manifest.page.citation


def test_an_approved_session_loses_the_mark_and_is_published_on_its_approval_date(rendered):
    folder = rendered["approved"]
    pages = pdf_pages(folder / "seance-2.pdf")
    assert not any(MARK in page.upper() for page in pages)
    assert "Publié le 7 décembre 2026" in pages[0]
    assert "Relu et approuvé par Marie Dupont le 7 décembre 2026." in pages[-1]
    from pypdf import PdfReader

    info = PdfReader(folder / "seance-2.pdf").metadata
    assert (info["/Status"], info["/ApprovedBy"], info["/ApprovedAt"]) == (
        "Relu et approuvé", "Marie Dupont", "2026-12-07T10:15+01:00")
    body, headers = docx_texts(folder / "seance-2.docx")
    assert MARK not in body and not any(MARK in h for h in headers) and "Publié le 7 décembre 2026" in body
    page = (folder / "seance-2.html").read_text(encoding="utf-8")
    assert 'class="cover-draft"' not in page and "non relu" not in page.split("<body")[1]
    assert "Publié le 7 décembre 2026" in page


def test_a_session_changed_since_its_approval_is_a_draft_again(rendered):
    pages = pdf_pages(rendered["changed"] / "seance-2.pdf")
    assert all(MARK in page for page in pages) and not any("Publié le" in page for page in pages)
    assert "approuvé par Marie Dupont le 7 décembre 2026, puis modifié" in pages[0]


def test_the_colophon_says_what_was_automated_and_reviewed_without_tool_names(rendered):
    colophon = pdf_pages(rendered["approved"] / "seance-2.pdf")[-1]
    assert "faits automatiquement" in colophon and "Relu et approuvé par Marie Dupont" in colophon
    for tool in ("Whisper", "Synthèse 0", "fr_core_news", "référentiel des thèmes version"):
        assert tool not in colophon
    from pypdf import PdfReader

    info = PdfReader(rendered["approved"] / "seance-2.pdf").metadata
    assert info["/Creator"].startswith("Synthèse ") and info["/Transcription"].startswith("Whisper ")
    assert info["/LanguageModel"].startswith("fr_core_news_md") and info["/Codebook"]
    manifest = RenderManifest.load(rendered["approved"] / "seance-2.render.json")
    assert set(manifest.provenance) == {"generator", "transcription", "language_model", "codebook"}


def unnamed(tags: Tags, transcript: Transcript) -> tuple[Tags, Transcript]:
    """The sample with its voices not named: 'Intervenant 1'… as diarization labels them."""
    labels: dict[str, str] = {}
    tags, transcript = tags.model_copy(deep=True), transcript.model_copy(deep=True)
    for row in [*tags.passages, *transcript.segments]:
        if row.speaker:
            row.speaker = labels.setdefault(row.speaker, f"Intervenant {len(labels) + 1}")
    return tags, transcript


def test_an_unnamed_voice_is_explained_and_never_given_a_declared_name(sample):
    config, tags, transcript = sample
    tags, transcript = unnamed(tags, transcript)
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    speaking = next(i for i, p in enumerate(doc.overview) if p.startswith("Temps de parole"))
    note = doc.overview[speaking + 1]
    assert note.startswith("«\u00a0Intervenant 1\u00a0», «\u00a0Intervenant 2\u00a0»") and "désignent des voix" in note
    declared = {s.name for s in config.session("seance-2").speakers}
    proposals = [m.excerpt for m in doc.key_messages.messages if m.excerpt] if doc.key_messages else []
    excerpts = [e for c in doc.chapters for e in [*c.excerpts, *c.key_points]] + proposals
    assert excerpts and all(e.speaker.startswith("Intervenant ") and not e.affiliation for e in excerpts)
    assert not any(name in e.speaker or name in e.affiliation for e in excerpts for name in declared)
    page = render_html(doc, config.templates)
    assert '<p class="cover-label">Intervenants annoncés</p>' in page
    # Named by the review (the sample as it is): no explanation needed.
    config, tags, transcript = sample
    named = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    assert not any("désigne" in p for p in named.overview)


def test_the_cycle_synthesis_names_its_drafts_and_is_marked_while_any_is(sample):
    config, tags, transcript = sample
    first = config.session("seance-2")
    second = first.model_copy(update={"id": "seance-3", "number": 3, "title": "Instrumentation"})
    later = APPROVED.model_copy(update={"at": "2026-12-09T09:00+01:00"})
    mixed = build_cycle_document(config, [SessionInputs(first, with_approval(tags, APPROVED), transcript),
                                          SessionInputs(second, with_approval(tags, Approval()), None)])
    assert mixed.review.draft and "Séance 3 (Instrumentation)" in mixed.review.note
    assert mixed.review.note in mixed.overview and not mixed.publication.date
    assert [s.draft for s in mixed.sessions] == ["", "document de travail, non relu"]
    colophon = [" ".join(line.replace("\u00a0", " ").replace("\u202f", " ").split()) for line in mixed.colophon]
    assert "Séances relues et approuvées : 1 sur 2 séances." in colophon
    final = build_cycle_document(config, [SessionInputs(first, with_approval(tags, APPROVED), transcript),
                                          SessionInputs(second, with_approval(tags, later), None)])
    assert not final.review.draft and final.publication.date == "9 décembre 2026"


# --- from the review page to the site -----------------------------------------------------------------

@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ws = review_workspace(tmp_path_factory.mktemp("approval"))
    app = prepared_app(ws)
    yield app
    app.close()


@pytest.mark.parametrize("headers, token", [
    ({}, None), ({}, "un-autre-jeton"), ({"Origin": "http://evil.example"}, "jeton-de-test"),
    ({"Sec-Fetch-Site": "cross-site"}, "jeton-de-test"), ({"Host": "evil.example:8765"}, "jeton-de-test"),
])
def test_approval_from_the_page_needs_its_token_and_origin(page, headers, token):
    before = page.paths.review.read_bytes()
    body = {"version": version_of(before), "action": "approve", "by": "Pirate"}
    status, _, _ = call(page, "POST", "/api/action", body, headers=headers, token=token)
    assert status == 403 and page.paths.review.read_bytes() == before


def test_approval_from_the_page_on_a_stale_version_is_refused(page):
    before = page.paths.review.read_bytes()
    status, answer = action(page, version="0" * 32, action="approve", by="Marie Dupont")
    assert status == 409 and page.paths.review.read_bytes() == before


@pytest.mark.slow
def test_approve_from_the_page_then_a_correction_brings_the_mark_back(page, cli):
    status, _, content = call(page, "GET", "/fragment/approbation")
    assert status == 200 and "non relue (document de travail)" in content.decode()
    _, _, content = call(page, "GET", "/fragment/apercu")
    assert "1 séance : 1 non relue publiée comme document de travail." in content.decode().replace("\u00a0", " ")
    manifest = RenderManifest.load(page.paths.render)
    assert manifest.approval.state == "draft"
    assert all(MARK in p for p in pdf_pages(page.paths.render_dir / manifest.files["pdf"]))

    status, answer = action(page, action="approve", by="Marie Dupont")
    assert status == 200, answer
    assert parse_review(page.paths.review.read_text(encoding="utf-8"), NAME).approved.by == "Marie Dupont"
    wait_for_jobs(page)
    manifest = RenderManifest.load(page.paths.render)
    assert manifest.approval.state == "approved" and manifest.approval.by == "Marie Dupont"
    pages = pdf_pages(page.paths.render_dir / manifest.files["pdf"])
    assert not any(MARK in p.upper() for p in pages) and "Publié le" in pages[0]
    _, _, content = call(page, "GET", "/fragment/apercu")
    assert "1 séance : 1 approuvée." in content.decode().replace("\u00a0", " ")

    view = page.state().passages[1]
    words = view.text.split()
    status, answer = action(page, action="correct", passage=view.passage.id, before=view.text,
                            after=" ".join([*words[:2], "Autrement", *words[3:]]))
    assert status == 200, answer
    wait_for_jobs(page)
    manifest = RenderManifest.load(page.paths.render)
    assert manifest.approval.state == "changed"
    pages = pdf_pages(page.paths.render_dir / manifest.files["pdf"])
    assert all(MARK in p for p in pages) and not any("Publié le" in p for p in pages)
    status = cli("--config", str(page.config.path), "status")
    assert "seance-introductive  modifiée depuis l’approbation (approuvée par Marie Dupont" in \
        status.stdout.replace("\u00a0", " ")


@pytest.mark.slow
def test_withhold_keeps_an_unapproved_session_out_of_the_site_until_approved(page, tmp_path):
    wait_for_jobs(page)
    root = tmp_path / "withhold"
    shutil.copytree(page.config.root, root, ignore=shutil.ignore_patterns("outputs", ".synthese.lock"))
    data = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    data["publish"] = {"output_dir": "outputs", "unreviewed": "withhold"}
    (root / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    config = load_config(root / "config.yaml")
    session = config.session("seance-introductive")
    report = run_all(config, quiet=True)  # the copy is "changed since approval": not final
    assert not report.failed
    outputs = root / "outputs"
    site = SiteManifest.load(outputs / "site.json")
    assert site.sessions == [] and site.documents == {}
    assert not any(session.id in f or f.startswith("cycle") for f in site.files)
    assert not (outputs / "seances").exists() and not (outputs / "synthese-du-cycle.html").exists()
    written = "".join(p.read_text(encoding="utf-8") for p in outputs.rglob("*.html"))
    assert "Séance introductive" not in written and session.id not in written

    from synthese.workspace import Workspace

    approve_session(Workspace(config), session, "Marie Dupont")
    assert not run_all(config, quiet=True).failed
    site = SiteManifest.load(outputs / "site.json")
    assert site.sessions == [session.id] and site.documents[session.id].approval.state == "approved"
    assert site.documents[session.id].provenance["generator"].startswith("Synthèse ")
    assert (outputs / "seances" / f"{session.id}.html").is_file() and (outputs / "synthese-du-cycle.html").is_file()
    assert "draft-banner" not in (outputs / "seances" / f"{session.id}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_cycle_glossary_is_part_of_what_is_approved(page, tmp_path):
    """`synthese approve` and the tag stage fingerprint the transcript as the glossary and the
    review file revise it: approved stays approved at the next run; a glossary entry that
    changes the text makes the session changed since its approval."""
    from synthese.stages import SessionRun, review_status
    from synthese.workspace import Workspace

    wait_for_jobs(page)
    root = tmp_path / "glossaire"
    shutil.copytree(page.config.root, root, ignore=shutil.ignore_patterns("outputs", ".synthese.lock"))
    config = load_config(root / "config.yaml")
    ws, session = Workspace(config), config.session("seance-introductive")
    glossary = root / "glossary.yaml"
    glossary.write_text('- {heard: "veux-binaire", written: "webinaire"}\n', encoding="utf-8")
    approve_session(ws, session, "Marie Dupont")
    assert review_status(ws, session).approval.state == "approved"
    SessionRun(ws, session, quiet=True).bring_up_to_date()
    tags = Tags.load(ws.paths(session).tags)
    assert "webinaire" in tags.passages[0].text and tags.review.approval.state == "approved"
    assert RenderManifest.load(ws.paths(session).render).approval.state == "approved"

    glossary.write_text('- {heard: "veux-binaire", written: "web-séminaire"}\n', encoding="utf-8")
    assert review_status(ws, session).approval.state == "changed"
    SessionRun(ws, session, quiet=True).bring_up_to_date()
    assert Tags.load(ws.paths(session).tags).review.approval.state == "changed"
    assert RenderManifest.load(ws.paths(session).render).approval.state == "changed"
