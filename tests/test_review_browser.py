"""The review page in a real browser (headless Chromium driven by Playwright, as
tests/test_browser.py): listening, correcting, naming, judging, publishing, and what the
documents and the site then say; two tabs and an outside edit; axe-core on the page."""

from __future__ import annotations

import contextlib
import re
import time

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, _missing, axe_violations, running
from test_review_page import SESSION, prepared_app, review_of, review_workspace, wait_for_jobs

from synthese.review.app import MAX_BODY_BYTES, ReviewApp
from synthese.serve import PreviewServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(bool(_missing), reason="; ".join(_missing) or "ready"),
]


@contextlib.contextmanager
def served(app: ReviewApp):
    """The page's application on a free port of 127.0.0.1, as `synthese review` serves it."""
    server = PreviewServer(None, "127.0.0.1", 0, app=app, max_request_body_bytes=MAX_BODY_BYTES)
    app.allow(server.host, server.port)
    try:
        with running(server) as url:
            yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        yield launched
        launched.close()


@pytest.fixture
def browser(chromium):
    """A browser context for one test; axe-core is injected as an inline script, which the
    page's Content-Security-Policy would block: the policy is bypassed here, and kept in
    `strict_browser`."""
    context = chromium.new_context(bypass_csp=True, locale="fr-FR", viewport={"width": 1280, "height": 900})
    yield context
    context.close()


@pytest.fixture
def strict_browser(chromium):
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    yield context
    context.close()


def current_time(page) -> float:
    return page.evaluate("document.getElementById('audio').currentTime")


def wait_saved(page) -> None:
    try:
        page.wait_for_function("document.getElementById('etat').textContent === 'Enregistré.'")
    except Exception:
        raise AssertionError(f"not saved: status {page.locator('#etat').inner_text()!r}, alert "
                             f"{page.locator('#alerte-texte').inner_text()!r}") from None


def squeeze(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").replace("\u00a0", " ").replace("\u202f", " ").split())


def test_review_a_session_from_listening_to_publishing(tmp_path, browser):
    from docx import Document
    from pypdf import PdfReader

    ws = review_workspace(tmp_path / "cycle")
    app = prepared_app(ws)
    paths = ws.paths(ws.config.session(SESSION))
    with served(app) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert not page.locator("#effet").is_visible()  # no empty effect box before any edit
        assert axe_violations(page) == []
        page.wait_for_function("document.getElementById('audio').readyState >= 1")

        # Listen: a passage's time button, then a word, move the player there.
        passage = app.state().passage_view("p004").passage
        page.locator("#passage-p004 h3 button.temps").click()
        page.wait_for_function(f"Math.abs(document.getElementById('audio').currentTime - {passage.start}) < 2")
        word = page.locator("#passage-p006 .texte .m").nth(5)
        start = float(word.get_attribute("data-t"))
        word.click()
        page.wait_for_function(f"Math.abs(document.getElementById('audio').currentTime - {start}) < 2")
        assert page.locator(".m.courant").count() == 1
        # Keyboard: pause (which goes back 2 s, to hear again what made one stop), then 5 s forward.
        page.wait_for_function(f"document.getElementById('audio').currentTime > {start + 2.5}")
        page.locator("body").press("Escape")
        page.wait_for_function("document.getElementById('audio').paused")
        page.wait_for_timeout(300)
        before = current_time(page)
        assert before < start + 2.5
        page.keyboard.press("Alt+l")
        page.wait_for_function(f"document.getElementById('audio').currentTime > {before + 4.5}")

        # Correct a misheard word where it is shown.
        editor = page.locator("#texte-p001")
        editor.click()
        editor.fill(squeeze(editor.inner_text()).replace("du veux-binaire.", "du webinaire."))
        assert axe_violations(page) == []
        page.get_by_role("button", name="Enregistrer le texte du passage de 00:00:00").click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#passage-p001 .texte').textContent.includes('du webinaire.')")
        assert page.locator("#passage-p001 .m.corrige").inner_text() == "webinaire."

        # Name a voice with a name not declared in config.yaml.
        page.get_by_label("Nom de « Intervenant 2 »").fill("Léa Dupont-Martin")
        page.locator("form[data-cle='voix-2'] button[type=submit]").click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#passage-p005 .orateur').textContent === 'Léa Dupont-Martin'")

        # Reject a theme on a passage, pin a quote.
        page.get_by_role("button", name="Rejeter le thème Écosystème d’entreprises").click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#passage-p005 .etiquette.rejete') !== null")
        # The chapter quotes none of that passage (it holds words the recogniser was unsure of):
        # pinned from the theme's other passages, it is quoted.
        others = page.locator("section.chapitre:has(#chapitre-gouvernance) details.autres")
        others.locator("summary").click()
        others.locator("form[data-cle='extrait-gouvernance-p005'] button[value=pin]").click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#extrait-gouvernance-p005.pin') !== null", timeout=120_000)
        # The chapters were drawn again after the pin: what the reviewer opened is still open.
        assert others.evaluate("details => details.open")

        # Publish; the page shows the steps, then the outcome.
        page.get_by_role("button", name="Publier la séance").click()
        page.wait_for_function("document.getElementById('issue').textContent.startsWith('Publié')", timeout=300_000)
        assert page.locator("#etapes li").count() >= 1
        assert page.frame_locator("#apercu-cadre").locator("h1").count() == 1
        assert errors == []
        page.close()

    review = review_of(app)
    assert [(c.original, c.corrected) for c in review.corrections] == [("veux-binaire.", "webinaire.")]
    assert review.speakers == {"Intervenant 2": "Léa Dupont-Martin"}
    assert [(d.kind, d.passage.split()[0], d.theme) for d in review.decisions] == [
        ("reject", "00:01:55", "entreprises"), ("pin", "00:01:55", "gouvernance")]

    outputs = ws.outputs_dir / "seances"
    pdf = squeeze(" ".join(p.extract_text() for p in PdfReader(outputs / SESSION / f"{SESSION}.pdf").pages))
    docx = squeeze(" ".join(p.text for p in Document(str(outputs / SESSION / f"{SESSION}.docx")).paragraphs))
    site = squeeze(re.sub(r"<[^>]+>", " ", (outputs / f"{SESSION}.html").read_text(encoding="utf-8")))
    subtitles = (outputs / SESSION / f"{SESSION}.vtt").read_text(encoding="utf-8")
    for name, text in (("PDF", pdf), ("DOCX", docx), ("site", site), ("VTT", subtitles)):
        assert "du webinaire" in text, name
        assert "veux-binaire" not in text, name
        assert "Léa Dupont-Martin" in text, name
        assert "Intervenant 2" not in text, name
    assert paths.render.is_file()


def test_an_outside_edit_and_a_second_tab_never_overwrite(tmp_path, browser):
    ws = review_workspace(tmp_path / "cycle")
    app = prepared_app(ws)
    path = app.paths.review
    with served(app) as url:
        first, second = browser.new_page(), browser.new_page()
        first.goto(url)
        second.goto(url)
        # Tab one saves; tab two, still on the version both opened, is refused.
        first.get_by_label("Nom de « Intervenant 1 »").fill("Claire Dubreuil")
        first.locator("form[data-cle='voix-1'] button[type=submit]").click()
        wait_saved(first)
        saved = path.read_bytes()
        second.get_by_role("button", name="Rejeter le thème Sobriété").first.click()
        second.wait_for_function("!document.getElementById('alerte').hidden")
        assert "a changé depuis l’affichage de cette page" in second.locator("#alerte-texte").inner_text() or \
            "modifié hors de cette page" in second.locator("#alerte-texte").inner_text()
        assert path.read_bytes() == saved

        # A hand edit while the page is open: the page says so, and its next change is refused.
        wait_for_jobs(app)
        hand = path.read_text(encoding="utf-8") + "# relu à la main\n"
        path.write_text(hand, encoding="utf-8")
        first.wait_for_function("document.getElementById('alerte-texte').textContent.includes('modifié hors de cette page')",
                                timeout=15_000)
        first.get_by_role("button", name="Rejeter le thème Sobriété").first.click()
        first.wait_for_function("document.getElementById('alerte-texte').textContent.includes('rien n’a été enregistré')")
        assert path.read_text(encoding="utf-8") == hand
        # Reloaded, it saves again, keeping the hand edit.
        first.get_by_role("button", name="Recharger la page").click()
        first.wait_for_load_state()
        first.get_by_role("button", name="Rejeter le thème Sobriété").first.click()
        wait_saved(first)
        assert path.read_text(encoding="utf-8").endswith("# relu à la main\n") and "sobriete" in path.read_text(
            encoding="utf-8").split("reject:")[1]
        first.close()
        second.close()


def test_hostile_transcript_text_runs_no_script_in_the_page(tmp_path, strict_browser):
    browser = strict_browser
    from test_review_page import DATA

    from synthese.core.artefacts import Segment, Transcript

    transcript = Transcript.load(DATA / "review_sample.transcript.json")
    first = transcript.segments[0]
    hostile = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>'
    transcript.segments[0] = Segment(id=0, start=first.start, end=first.end, speaker="Intervenant 1",
                                     text=f"{hostile} {first.text}")
    ws = review_workspace(tmp_path / "cycle", transcript)
    app = prepared_app(ws)
    with served(app) as url:
        page = browser.new_page()
        page.goto(url)
        page.locator("#texte-p001").click()
        time.sleep(0.5)
        assert page.evaluate("window.pwned") is None
        assert hostile.split()[0] in page.locator("#passage-p001 .texte").inner_text()
        assert page.locator("#passage-p001 img").count() == 0
        page.close()


def add_second_session(ws, text: str):
    """A second session of the cycle, from a plain-text transcript, in config.yaml."""
    import yaml

    from synthese.core.config import load_config
    from synthese.workspace import Workspace

    data = yaml.safe_load(ws.config.path.read_text(encoding="utf-8"))
    data["sessions"].append({"id": "seance-2", "number": 2, "date": "2022-03-17", "title": "Sobriété et matérialité",
                             "transcript": "seance-2.txt", "speakers": []})
    ws.config.path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (ws.config.root / "seance-2.txt").write_text(text, encoding="utf-8")
    return Workspace(load_config(ws.config.path))


def words_of(page, selector: str) -> str:
    return squeeze(page.locator(selector).inner_text())


def select_words(page, passage: str, first: str, last: str) -> None:
    """Select, in a passage's text, the words from `first` to `last` (whole words), as a mouse would."""
    page.evaluate("""([passage, first, last]) => {
        const spans = Array.from(document.querySelectorAll(`#texte-${passage} .m`));
        const a = spans.find((s) => s.textContent === first);
        const b = spans.slice(spans.indexOf(a)).find((s) => s.textContent === last);
        const range = document.createRange();
        range.setStart(a.firstChild, 0);
        range.setEnd(b.firstChild, b.textContent.length);
        document.getElementById(`texte-${passage}`).focus();
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }""", [passage, first, last])


def wait_effect(page) -> str:
    page.wait_for_function("!document.getElementById('effet').hidden && "
                           "!document.getElementById('effet-texte').textContent.includes('en cours de calcul')",
                           timeout=120_000)
    return squeeze(page.locator("#effet-texte").inner_text())


def test_correct_a_transcript_as_fast_as_you_can_listen(tmp_path, browser, cli):
    ws = review_workspace(tmp_path / "cycle")
    ws = add_second_session(ws, "[00:00:05] Claire Dubreuil : Merci d'être venus à ce veux-binaire sur la sobriété. "
                                "Le veux-binaire précédent parlait de gouvernance.\n")
    app = prepared_app(ws)
    path = app.paths.review
    with served(app) as url:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)

        # Listening aids: a speed, the next uncertain word played in context and selected.
        page.select_option("#vitesse", "1.5")
        assert page.evaluate("document.getElementById('audio').playbackRate") == 1.5
        page.keyboard.press("Alt+n")
        page.wait_for_function("String(window.getSelection()).length > 0")
        selected = page.evaluate("(() => { const n = window.getSelection().anchorNode; "
                                 "return (n.nodeType === 1 ? n : n.parentElement).closest('.m').className; })()")
        assert "incertain" in selected
        page.locator("body").press("Escape")

        # 1. Free text across two segments: words, punctuation and a sentence break.
        box = page.locator("#texte-p004")
        before = words_of(page, "#texte-p004")
        assert "de gare et fait de serre, économie d'informations" in before
        box.click()
        box.fill(before.replace("de gare et fait de serre, économie d'informations",
                                "de gaz à effet de serre. Économie de l'information"))
        assert page.locator("#texte-p004.modifie").count() == 1
        page.keyboard.press("Enter")
        wait_saved(page)
        page.wait_for_function("document.querySelector('#texte-p004').textContent.includes('de gaz à effet de serre. "
                               "Économie')")
        assert wait_effect(page)
        corrected = page.locator("#texte-p004 .m.corrige").first
        assert squeeze(corrected.get_attribute("title")) == "Transcrit : « gare et fait »"

        # 2. An inaudible stretch: words selected, one click.
        select_words(page, "p002", "de", "l'heure,")
        page.locator("#passage-p002 button.marquer[data-marque=inaudible]").click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#texte-p002').textContent.includes('[inaudible],')")

        # 3. Replace three occurrences across the session.
        page.get_by_label("Mots à chercher").fill("en jeu")
        page.get_by_label("Remplacer par").fill("enjeux")
        page.get_by_role("button", name="Chercher", exact=True).click()
        page.wait_for_function("document.querySelectorAll('#occurrences-liste input:checked').length === 3")
        assert page.locator("#occurrences-liste button.temps").count() == 3
        page.get_by_role("button", name="Remplacer les occurrences cochées").click()
        page.wait_for_function("document.getElementById('occurrences-nombre').textContent.startsWith('Aucune')")
        assert "enjeux" in words_of(page, "#texte-p001") and "Enjeux," in words_of(page, "#texte-p002")

        # 4. A glossary entry for the whole cycle.
        page.get_by_label("Entendu (tel que transcrit)").fill("veux-binaire")
        page.get_by_label("Écrit", exact=True).fill("webinaire")
        page.locator("#glossaire button[type=submit]").last.click()
        wait_saved(page)
        page.wait_for_function("document.querySelector('#texte-p001').textContent.includes('du webinaire.')")
        page.wait_for_function("document.querySelector('#glossaire .glossaire') !== null && "
                               "document.querySelector('#glossaire .glossaire').textContent.includes('veux-binaire')")

        # 5. A lost theme: the effect says so, and its undo gives the review file back as it was.
        wait_for_jobs(app)
        page.wait_for_function("document.getElementById('effet-annuler') && !document.getElementById('effet-annuler').hidden",
                               timeout=120_000)
        saved_before = path.read_bytes()
        label = page.locator("#passage-p005 .etiquette .nom").first.inner_text()
        page.get_by_role("button", name=f"Rejeter le thème {label}").first.click()
        wait_saved(page)
        effect = wait_effect(page)
        time_label = squeeze(page.locator("#passage-p005 h3 button.temps").inner_text()).lstrip("▶ ")
        assert f"Thème « {label} » retiré du passage {time_label}" in effect, effect
        page.get_by_role("button", name="Annuler cette modification").click()
        page.wait_for_function("document.getElementById('etat').textContent === 'Modification annulée.'")
        assert path.read_bytes() == saved_before
        assert not page.locator("#non-publie").is_hidden()

        # 6. Text typed and not saved survives a reload.
        box = page.locator("#texte-p003")
        typed = "Ici, un texte retapé. " + words_of(page, "#texte-p003")
        box.click()
        box.fill(typed)
        page.reload()
        page.wait_for_function("document.querySelector('#texte-p003.modifie') !== null")
        assert words_of(page, "#texte-p003") == typed
        assert "non enregistré" in page.locator("#passage-p003 .edition").inner_text()
        page.locator("#passage-p003 button.retablir").click()
        page.wait_for_function("document.querySelector('#texte-p003.modifie') === null")

        # A jump to a section never hides its heading under the player.
        page.get_by_role("link", name="Chapitres").click()
        page.wait_for_timeout(300)
        heading = page.locator("#chapitres-titre").bounding_box()
        player = page.locator("#ecouter").bounding_box()
        assert heading["y"] >= player["y"] + player["height"] - 1

        # Accessible at a desktop's width and a phone's.
        assert axe_violations(page) == []
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        assert axe_violations(page) == []
        assert page.locator("#ecouter").bounding_box()["height"] < 844 / 5
        assert errors == []
        page.close()
        wait_for_jobs(app)  # the lock free for the next run

    # The review file says it all, readably.
    review = review_of(app)
    assert [c.kind for c in review.corrections] == ["replace", "replace", "inaudible", "replace", "replace", "replace"]
    text = path.read_text(encoding="utf-8")
    assert 'original: "serre, économie d\'informations", corrected: "serre. Économie de l\'information"' in text
    assert 'corrected: "[inaudible],"' in text

    # The glossary reaches the second session at the next run.
    result = cli("--config", str(ws.config.path), "--quiet", "run", "seance-2")
    assert result.returncode == 0, result.stderr
    second = ws.paths(ws.config.session("seance-2"))
    tags = (second.tags).read_text(encoding="utf-8")
    assert "webinaire" in tags and "veux-binaire" not in tags
    assert "Le webinaire précédent" in (second.render_dir / "seance-2.html").read_text(encoding="utf-8")


def test_a_stopped_then_restarted_server_is_said_plainly_and_typed_text_is_kept(tmp_path, browser):
    ws = review_workspace(tmp_path / "cycle")
    app = prepared_app(ws)
    server = PreviewServer(None, "127.0.0.1", 0, app=app, max_request_body_bytes=MAX_BODY_BYTES)
    app.allow(server.host, server.port)
    page = browser.new_page()
    with running(server) as url:
        page.goto(url)
        box = page.locator("#texte-p003")
        typed = "Ici, un texte retapé. " + words_of(page, "#texte-p003")
        box.click()
        box.fill(typed)
    app.close()
    # Stopped: a save says so in plain French, and the page is not left « Enregistrement… ».
    page.locator("#passage-p003 button.enregistrer").click()
    page.wait_for_function("document.getElementById('alerte-texte').textContent.startsWith("
                           "'Le serveur de relecture ne répond plus')")
    assert page.locator("#etat").inner_text() == ""
    # Started again on the same address: the page asks to be reloaded, and nothing typed is lost.
    again = ReviewApp(ws.config, ws.config.session(SESSION), token="un-autre-jeton", start_jobs=False)
    restarted = PreviewServer(None, "127.0.0.1", server.port, app=again, max_request_body_bytes=MAX_BODY_BYTES)
    again.allow(restarted.host, restarted.port)
    with running(restarted):
        page.wait_for_function("document.getElementById('alerte-texte').textContent.startsWith("
                               "'Le serveur de relecture a été relancé')", timeout=15_000)
        page.get_by_role("button", name="Recharger la page").click()
        page.wait_for_function("document.querySelector('#texte-p003.modifie') !== null")
        assert words_of(page, "#texte-p003") == typed
        page.locator("#passage-p003 button.enregistrer").click()
        wait_saved(page)
        assert page.locator("#alerte").is_hidden()
        page.close()
    again.close()
    assert "Ici, un texte retapé." in review_of(app).corrections[-1].corrected
