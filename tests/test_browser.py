"""The published site in a real browser: headless Chromium opens it from file://, follows its
links, and axe-core (tests/browser/node_modules) checks every kind of page for accessibility.

Needs Debian's /usr/bin/chromium and `npm install` in tests/browser (.ci/install-browser does
both); the PyPI package `playwright` drives that Chromium (its own browsers are never installed).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest

from synthese.serve import PreviewServer
from synthese.stages import publish_workspace

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# WCAG 2.1 A and AA rules, as RGAA 4.1 asks, plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

_missing = [
    reason for reason, absent in (
        (f"{CHROMIUM} not found (run .ci/install-browser)", not CHROMIUM.exists()),
        (f"{AXE} not found (run .ci/install-browser)", not AXE.exists()),
        ("the PyPI package 'playwright' is not installed", importlib.util.find_spec("playwright") is None),
    ) if absent
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bool(_missing), reason="; ".join(_missing) or "ready"),
]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    from test_publish import make_workspace  # the fixture workspace of the publish tests

    ws = make_workspace(tmp_path_factory.mktemp("browser-site"))
    publish_workspace(ws)
    return ws.outputs_dir


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="fr-FR",
        )
        yield context
        context.close()


@contextlib.contextmanager
def running(server: PreviewServer):
    """Run a preview server in a thread until the block ends; yield its base URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        thread.join(timeout=10)


def served(outputs: Path):
    """The preview server (`synthese serve`) of `outputs` on a free port, running: yields its base URL."""
    return running(PreviewServer(outputs, port=0))


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations on the page, one line each."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def test_site_is_navigable_and_accessible(outputs, browser):
    page = browser.new_page()
    external: list[str] = []
    # The site must load nothing from the network: record any request that is not a local file.
    page.on("request", lambda request: None if request.url.startswith("file://") else external.append(request.url))

    page.goto((outputs / "index.html").as_uri())
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == []

    # The first Tab reaches the skip link, which becomes visible and leads to <main>.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    box = page.locator(".skip-link").bounding_box()
    assert box and box["y"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"

    # From the home page to a session's synthesis.
    page.locator(".session-card h3 a").first.click()
    page.wait_for_load_state()
    assert page.url.endswith("/seances/seance-2.html")
    assert page.locator("h1").count() == 1
    assert page.locator("h1").inner_text() == "Sobriété, matérialité et infrastructures"
    images = page.locator("main img")
    assert images.count() > 0
    for index in range(images.count()):
        image = images.nth(index)
        assert image.get_attribute("alt"), "chart without alt text"
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), image.get_attribute("src")
    assert axe_violations(page) == []

    # The PDF download: the link says format and size, its target is the rendered PDF, and a
    # static server (`synthese serve`) answers it as a PDF.
    pdf_link = page.locator("a[href$='.pdf']").first
    # Its accessible name is exactly what a screen reader says: no decorative arrow in it.
    assert page.get_by_role("link", name=re.compile(r"^Synthèse \(PDF, \d+\s(Ko|octets)\)$")).count() == 1
    target = Path(url2pathname(urlsplit(pdf_link.evaluate("a => a.href")).path))
    assert target == outputs / "seances" / "seance-2" / "seance-2.pdf"
    assert target.read_bytes().startswith(b"%PDF")
    with served(outputs) as base_url:
        relative = target.relative_to(outputs).as_posix()
        response = page.request.get(base_url + relative)
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.body() == target.read_bytes()

    # A theme page and the cycle's synthesis, reached through the menu and the home page.
    page.goto((outputs / "index.html").as_uri())
    page.locator(".theme-list a").first.click()
    page.wait_for_load_state()
    assert page.url.endswith("/themes/sobriete.html")
    assert page.locator("h1").inner_text() == "Sobriété"
    assert page.locator("figure.site-excerpt").count() == 6
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Synthèse du cycle").click()
    page.wait_for_load_state()
    assert page.url.endswith("/synthese-du-cycle.html")
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == []

    # On a phone-sized screen no page scrolls sideways (WCAG 1.4.10, reflow); wide tables
    # scroll inside their own box.
    page.set_viewport_size({"width": 390, "height": 800})
    for name in ("index.html", "themes/sobriete.html", "seances/seance-2.html", "synthese-du-cycle.html",
                 "seances/seance-2/seance-2.html"):  # the last: the standalone HTML download
        page.goto((outputs / name).as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        if "seance-2" in name:
            # Charts drawn for a phone's width, so their labels stay readable; data tables in
            # labelled boxes that scroll, with a visible hint.
            sources = page.evaluate("Array.from(document.querySelectorAll('figure.chart img'))"
                                    ".map(img => img.currentSrc)")
            narrow = page.evaluate("Array.from(document.querySelectorAll('figure.chart source'))"
                                   ".map(source => source.srcset)")
            assert sources and len(sources) == len(narrow), sources
            # The page's narrow drawings (the download carries them inside it, as data: URIs).
            assert all(src.endswith("-narrow.png") or src == srcset for src, srcset in zip(sources, narrow)), sources
            assert all(srcset.endswith("-narrow.png") or srcset.startswith("data:image/png") for srcset in narrow)
            assert page.locator(".table-scroll[role=region][aria-label]").count() == 2
            assert page.locator(".scroll-hint").first.is_visible()
    # The table of contents numbers its chapters once: the list adds no number of its own.
    page.goto((outputs / "seances" / "seance-2.html").as_uri())
    assert page.evaluate("getComputedStyle(document.querySelector('.toc li')).listStyleType") == "none"
    assert page.locator(".toc li:has(a[href^='#theme-'])").first.inner_text().startswith("1. ")

    assert external == []
    page.close()


def test_pages_render_under_the_preview_servers_security_policy(outputs, browser, tmp_path):
    """`synthese serve` sends a Content-Security-Policy (no script, only the site's own styles and
    images): every kind of page, and the standalone HTML download with its inlined stylesheet,
    must still load every stylesheet and image under it."""
    from synthese.core.artefacts import Tags, Transcript
    from synthese.core.config import load_config
    from synthese.render import rendering
    from synthese.render.compose import SessionInputs, build_document

    data = Path(__file__).resolve().parent / "data"
    config = load_config(data / "render_config.yaml")
    tags = Tags.load(data / "render_sample.tags.json")
    transcript = Transcript.load(data / "render_sample.transcript.json")
    document = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config, stem="seance-2")
    standalone = tmp_path / "standalone"
    # The real download: CSS inlined, charts beside.
    rendering.write_documents(document, standalone, ["html"], config.templates)
    pages = [(outputs, name) for name in (
        "index.html", "seances/seance-2.html", "themes/sobriete.html", "synthese-du-cycle.html")]
    pages.append((standalone, f"{document.stem}.html"))
    page = browser.new_page()
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    for site, name in pages:
        with served(site) as base_url:
            response = page.goto(base_url + name)
            assert response.status == 200
            assert "default-src 'none'" in response.headers["content-security-policy"]
            page.wait_for_load_state("load")
            # Every stylesheet (linked or inline) applied, every image decoded.
            sheets = page.evaluate("document.styleSheets.length")
            styles = page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length")
            assert sheets == styles and sheets > 0, name
            assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)"), name
            assert page.evaluate("getComputedStyle(document.body).fontFamily") != "\"Times New Roman\"", name
    assert violations == []
    page.close()
