"""The site's search and player in a real browser (headless Chromium, as test_browser.py), served
by `synthese serve` under its Content-Security-Policy: a word said in one session finds that
session's passage first and opens it at its anchor; a time on a session's page seeks the player
there; axe-core finds no serious or critical violation at 1280 and 390 px; nothing is requested
from elsewhere. Screenshots of each page at both widths are left in the test's folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_browser import CHROMIUM, CHROMIUM_ARGS, _missing, axe_violations, served
from test_site import UNIQUE_WORD, make_site_workspace

from synthese.stages import publish_workspace

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(_missing), reason="; ".join(_missing) or "ready"),
]
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    ws = make_site_workspace(tmp_path_factory.mktemp("site-browser"))
    publish_workspace(ws)
    return ws.outputs_dir


@pytest.fixture(scope="module")
def base_url(outputs):
    with served(outputs) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def until(page, expression: str, timeout_s: float = 20) -> None:
    """Wait until the page's `expression` is true (polled from here: the site's policy refuses
    the eval that Playwright's own waiting uses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.05)


@pytest.fixture
def page(chromium, base_url):
    """A page under the site's policy that records the requests leaving the site, the policy's
    refusals and the scripts' errors."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.outside: list[str] = []
    page.refused: list[str] = []
    page.errors: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(base_url) or request.url.startswith("data:")
            else page.outside.append(request.url))
    page.on("console", lambda message: page.refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def search(page, base_url, words: str) -> None:
    """Search from the home page's form, as a reader does with the keyboard."""
    page.goto(base_url + "index.html")
    page.get_by_role("searchbox", name="Rechercher dans les séances").fill(words)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"recherche\.html\?q="))
    page.wait_for_selector(".search-result, #search-status:has-text('Aucun')")


def test_a_word_said_in_one_session_finds_its_passage_first_and_opens_it(page, base_url):
    search(page, base_url, UNIQUE_WORD)
    status = page.locator("#search-status")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == f"1 séance contient «\xa0{UNIQUE_WORD}\xa0»\xa0:"
    first = page.locator(".search-result").first
    assert first.locator("h2").inner_text().startswith("Séance 3 ·")
    passage = first.locator("a.search-passage").first
    href = passage.get_attribute("href")
    assert re.fullmatch(r"/seances/seance-3\.html#t-\d+", href), href
    assert re.fullmatch(r"\d\d:\d\d:\d\d · transcription", passage.inner_text())
    assert UNIQUE_WORD in first.locator("mark").first.inner_text()
    # From the keyboard: the first passage is reached with Tab and opened with Enter.
    passage.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"seance-3\.html#t-\d+$"))
    anchor = href.split("#")[1]
    target = page.locator(f"#{anchor}")
    assert UNIQUE_WORD in target.inner_text()
    assert page.evaluate("document.querySelector(':target').id") == anchor
    box = target.bounding_box()
    assert box and 0 <= box["y"] < page.viewport_size["height"]
    # The player is set at that moment, not started.
    start = float(target.locator("[data-start]").first.get_attribute("data-start"))
    assert abs(page.evaluate("document.querySelector('video').currentTime") - start) <= 0.5
    assert page.evaluate("document.querySelector('video').paused")
    assert page.outside == [] and page.refused == [] and page.errors == []


def test_a_word_in_every_session_lists_them_all_and_an_absent_one_says_so(page, base_url):
    search(page, base_url, "capteur")  # stemmed: "capteurs" matches too
    assert page.locator(".search-result").count() == 2
    assert page.locator(".search-result mark").filter(has_text=re.compile("^capteurs?[,.]?$")).count() > 2
    search(page, base_url, "zeppelin")
    assert page.locator("#search-status").inner_text() == "Aucun passage ne contient «\xa0zeppelin\xa0»."
    assert page.outside == [] and page.refused == []


def test_a_time_on_the_page_seeks_the_player(page, base_url):
    page.goto(base_url + "seances/seance-2.html")
    video = page.locator("video")
    assert video.get_attribute("autoplay") is None
    assert page.evaluate("document.querySelector('video').paused")
    # The times are buttons now, named for what they do.
    seeks = page.locator(".synthese button.seek")
    assert seeks.count() > 20 and page.locator(".synthese a[data-start]").count() == 0
    assert page.get_by_text("Un clic sur un horodatage").is_visible()
    for index in (3, seeks.count() - 1):  # a quote's time and the last turn of the transcript
        button = seeks.nth(index)
        expected = float(button.get_attribute("data-start"))
        assert button.get_attribute("aria-label") == f"Écouter à {button.inner_text().strip()}"
        button.click()
        until(page, "!document.querySelector('video').seeking && document.querySelector('video').readyState >= 1")
        current = page.evaluate("document.querySelector('video').currentTime")
        assert abs(current - expected) <= 0.5, (current, expected)
        page.evaluate("document.querySelector('video').pause()")
    # The reviewed captions are its default track.
    assert page.evaluate("document.querySelector('video').textTracks[0].mode") == "showing"
    assert page.evaluate("document.querySelector('video').textTracks[0].language") == "fr"
    assert page.outside == [] and page.refused == [] and page.errors == []


def test_without_script_every_time_still_leads_to_the_replay(chromium, base_url):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "seances/seance-2.html")
    link = page.locator(".synthese a.timestamp").first
    assert link.get_attribute("href").startswith("https://www.urbanisme-puca.gouv.fr/")
    page.goto(base_url + "recherche.html?q=capteur")
    assert page.get_by_text("La recherche a besoin de JavaScript").is_visible()
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_accessibility_violation_and_no_sideways_scroll(chromium, base_url, width, tmp_path):
    """axe-core is injected as a script of its own, which the site's policy refuses: these pages
    are checked in a context that leaves the policy aside (the other tests keep it)."""
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    pages = {"recherche": f"recherche.html?q={UNIQUE_WORD}", "index": "index.html",
             "seance-2": "seances/seance-2.html", "seance-3": "seances/seance-3.html",
             "theme": "themes/sobriete.html", "cycle": "synthese-du-cycle.html"}
    for name, address in pages.items():
        page.goto(base_url + address)
        if name == "recherche":
            page.wait_for_selector(".search-result")
        assert axe_violations(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=name != "seance-2")
    context.close()
