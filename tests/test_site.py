"""The readers' site beyond its pages: the search index, the player and the replay copied into the
site, the Atom feed, the downloads (ODT among them), and what links a session's page to the cycle.

The fixture workspace is the publish tests' one, with `publish.media: copy`: seance-2 has a
replay file (silence, made here with PyAV) and is approved; seance-3 has a media_url, a word no
other session says, and is a draft. The browser tests (test_site_browser.py) use it too.
"""

from __future__ import annotations

import datetime as dt
import html.parser
import json
import logging
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from synthese.core.artefacts import Approval, SiteManifest, Transcript
from synthese.publish import publishing
from synthese.stages import publish_workspace

DATA = Path(__file__).resolve().parent / "data"
UNIQUE_WORD = "hydrolienne"  # said in seance-3 only
UNIQUE_SENTENCE = "Nous avons aussi étudié une hydrolienne installée dans le port, reliée au réseau de la ville."
MEDIA_URL = "https://medias.urbanisme-puca.gouv.fr/apres-la-smart-city/seance-3.mp3"
APPROVED = Approval(state="approved", by="Marie Dupont", at="2026-12-07T10:15+01:00", fingerprint="f" * 20)
ATOM = "{http://www.w3.org/2005/Atom}"


def silent_ogg(path: Path, seconds: float) -> Path:
    """An Ogg Opus file of silence (a few kilobytes a minute), made with PyAV."""
    import av
    import numpy as np

    rate, block = 48_000, 48_000
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate)
        stream.layout = "mono"
        stream.bit_rate = 6000
        total = int(seconds * rate)
        for start in range(0, total, block):
            samples = min(block, total - start)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype=np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def make_site_workspace(root: Path, *, publish: dict | None = None):
    """The publish tests' workspace with a replay for seance-2 (copied into the site), a media_url
    and a word of its own for seance-3; seance-2 approved."""
    from test_publish import _write_rendered_session, make_workspace

    # As long as the sample session (6 min 12 s), so that every time of its pages can be played.
    silent_ogg(root / "seance-2.ogg", 380)
    ws = make_workspace(root, rendered=(), publish={"media": "copy", **(publish or {})},
                        sessions={"seance-2": {"media": "seance-2.ogg"}, "seance-3": {"media_url": MEDIA_URL}})
    _write_rendered_session(ws, "seance-2", approval=APPROVED)
    transcript = Transcript.load(DATA / "render_sample.transcript.json")
    transcript.segments[20].text += " " + UNIQUE_SENTENCE
    _write_rendered_session(ws, "seance-3", transcript=transcript)
    return ws


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    ws = make_site_workspace(tmp_path_factory.mktemp("site"))
    publish_workspace(ws)
    return ws, ws.outputs_dir


class Page(html.parser.HTMLParser):
    """The elements of a page the checks need: (tag, attributes) in order, and its text."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data

    def all(self, tag: str, **attributes: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag
                and all(attrs.get(key.replace("_", "-")) == value for key, value in attributes.items())]


# --- search ---------------------------------------------------------------------------------------

def test_the_search_index_is_built_into_the_site_and_listed(site):
    ws, outputs = site
    bundle = outputs / "pagefind"
    assert (bundle / "pagefind.js").is_file() and (bundle / "pagefind-entry.json").is_file()
    entry = json.loads((bundle / "pagefind-entry.json").read_text())
    # The session pages, indexed in French (their lang="fr": French stemming).
    assert list(entry["languages"]) == ["fr"] and entry["languages"]["fr"]["page_count"] == 2
    assert list(bundle.glob("wasm.fr.pagefind")) and list(bundle.glob("index/*")) and list(bundle.glob("fragment/*"))
    assert not list(bundle.glob("pagefind-ui*")) and not list(bundle.glob("pagefind-component-ui*"))
    # Every file of the index is the site's, with its hash, so the next publish replaces it.
    manifest = SiteManifest.load(outputs / "site.json")
    written = {p.relative_to(outputs).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert written <= set(manifest.files)


def test_every_page_has_a_labelled_search_form_that_works_without_script(site):
    _, outputs = site
    pages = [p for p in outputs.rglob("*.html") if p.parent.parent.name != "seances" and p.parent.name != "cycle"]
    assert len(pages) == 11
    for path in pages:
        page = Page(path)
        forms = page.all("form", role="search")
        assert len(forms) == 1, path.name
        action = forms[0]["action"]
        assert action.endswith("recherche.html") and forms[0]["method"] == "get"
        assert (path.parent / action).resolve() == (outputs / "recherche.html").resolve()
        field = [a for a in page.all("input") if a.get("name") == "q"]
        assert field and page.all("label", **{"for": field[0]["id"]}), path.name
        assert page.all("link", rel="alternate", type="application/atom+xml")[0]["href"].endswith("feed.xml")
    search = Page(outputs / "recherche.html")
    assert [a["src"] for a in search.all("script")] == ["search.js"]
    # Without JavaScript, the page says so and leads to every session and theme.
    assert "La recherche a besoin de JavaScript" in (outputs / "recherche.html").read_text(encoding="utf-8")
    links = {a["href"] for a in search.all("a")}
    assert {"seances/seance-2.html", "seances/seance-3.html", "themes/sobriete.html"} <= links


def test_passages_and_quotes_are_anchors_for_the_search_results(site):
    """A result opens the turn of the transcript (#t-<second>) or the quote that matched: each
    is an element with an id on the session's page, inside the region Pagefind indexes."""
    _, outputs = site
    text = (outputs / "seances" / "seance-3.html").read_text(encoding="utf-8")
    body = text[text.index("data-pagefind-body"):]
    turns = re.findall(r'<div class="turn" id="(t-\d+(?:-\d+)?)">', body)
    assert len(turns) > 10 and len(set(turns)) == len(turns)
    assert re.search(r'<figure class="excerpt" id="sobriete-p\d+">', body)
    # The turn that says the word: its anchor is the second it starts, its time is on it.
    turn = re.search(r'<div class="turn" id="(t-(\d+))">\s*<p class="turn-meta">.*?data-start="([\d.]+)"'
                     rf'[^<]*</(?:a|span)>.*?{UNIQUE_WORD}', body, re.S)
    assert turn and int(float(turn.group(3))) == int(turn.group(2))
    assert UNIQUE_WORD not in (outputs / "seances" / "seance-2.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_without_search_there_is_no_index_nor_form(tmp_path):
    ws = make_site_workspace(tmp_path, publish={"search": False})
    publish_workspace(ws)
    outputs = ws.outputs_dir
    assert not (outputs / "pagefind").exists() and not (outputs / "recherche.html").exists()
    assert not Page(outputs / "index.html").all("form")


# --- the player and the replay ---------------------------------------------------------------------

def test_a_copied_replay_plays_on_its_page_with_the_reviewed_captions(site):
    ws, outputs = site
    page = Page(outputs / "seances" / "seance-2.html")
    videos = page.all("video")
    assert len(videos) == 1
    video = videos[0]
    assert "controls" in video and "autoplay" not in video and video["preload"] == "metadata"
    sources = page.all("source", type="audio/ogg")
    assert [s["src"] for s in sources] == ["../seances/seance-2/seance-2.ogg"]
    assert (outputs / "seances" / "seance-2" / "seance-2.ogg").read_bytes() == (ws.root / "seance-2.ogg").read_bytes()
    tracks = page.all("track")
    assert len(tracks) == 1 and tracks[0]["kind"] == "captions" and tracks[0]["srclang"] == "fr"
    assert "default" in tracks[0] and tracks[0]["label"]
    # The captions as reviewed: the render stage's VTT, not the machine's.
    vtt = (outputs / "seances" / tracks[0]["src"]).resolve()
    assert vtt == (outputs / "seances" / "seance-2" / "seance-2.vtt").resolve()
    assert vtt.read_bytes() == (ws.paths(ws.config.session("seance-2")).render_dir / "seance-2.vtt").read_bytes()
    assert [s["src"] for s in page.all("script")] == ["../player.js"]
    # Every time on the page carries its moment for the player; without JavaScript they are
    # links to the replay's page at that time.
    times = [a for a in page.all("a") if a.get("data-start")]
    assert len(times) > 20
    assert all(a["href"].startswith("https://www.urbanisme-puca.gouv.fr/") and "#t=" in a["href"] for a in times)
    for a in times:
        assert a["href"].endswith(f"#t={int(float(a['data-start']))}")
    # The region is named, the replay downloadable, with its format and size.
    region = page.all("div", role="region")[0]
    assert region["aria-labelledby"] and "data-player" in region
    assert "Enregistrement de la séance (OGG, " in page.text


def test_a_media_url_plays_from_its_server_only_when_asked(site):
    _, outputs = site
    page = Page(outputs / "seances" / "seance-3.html")
    assert page.all("video")[0]["preload"] == "none"  # nothing is asked of that server before play
    sources = [s for s in page.all("source") if s.get("src")]  # (a chart's <source> has a srcset)
    assert [s["src"] for s in sources] == [MEDIA_URL] and sources[0]["type"] == "audio/mpeg"
    assert not (outputs / "seances" / "seance-3" / "seance-3.mp3").exists()


@pytest.mark.slow
def test_a_replay_the_browser_cannot_play_is_not_copied(tmp_path, caplog):
    from test_publish import _write_rendered_session, make_workspace

    (tmp_path / "seance-2.avi").write_bytes(b"RIFF" + bytes(100))
    ws = make_workspace(tmp_path, rendered=(), publish={"media": "copy"},
                        sessions={"seance-2": {"media": "seance-2.avi"}})
    _write_rendered_session(ws, "seance-2")
    with caplog.at_level(logging.WARNING):
        publish_workspace(ws)
    assert "seance-2.avi is not a file browsers play" in caplog.text and "Convert it to MP3, MP4, OGG or WebM" in caplog.text
    assert not Page(ws.outputs_dir / "seances" / "seance-2.html").all("video")
    assert not list(ws.outputs_dir.rglob("*.avi"))


@pytest.mark.slow
def test_a_missing_replay_is_an_error_naming_the_setting(tmp_path):
    from test_publish import _write_rendered_session, make_workspace

    from synthese.core.errors import SyntheseError

    ws = make_workspace(tmp_path, rendered=(), publish={"media": "copy"},
                        sessions={"seance-2": {"media": "absent.mp3"}})
    _write_rendered_session(ws, "seance-2")
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert "sessions[0].media: file not found: absent.mp3" in str(error.value)
    assert "publish.media: none" in str(error.value)


def test_an_unchanged_replay_is_taken_over_not_copied_nor_hashed_again(site, monkeypatch):
    """A second publish reads the copy of the replay once (the check that the site is unchanged)
    and links it into the new site; a changed replay is copied again."""
    ws, outputs = site
    copy = outputs / "seances" / "seance-2" / "seance-2.ogg"
    before = copy.stat().st_ino
    hashed: list[str] = []
    real_hash = publishing.file_hash
    monkeypatch.setattr(publishing, "file_hash", lambda path: hashed.append(Path(path).name) or real_hash(path))
    from synthese.stages import CycleRun

    manifest = CycleRun(ws).publish_site()
    assert hashed.count("seance-2.ogg") == 1
    assert copy.stat().st_ino == before
    record = manifest.media["seances/seance-2/seance-2.ogg"]
    assert record.size == (ws.root / "seance-2.ogg").stat().st_size
    # Changed since: copied again, hashed as it is copied (not read once more for site.json).
    silent_ogg(ws.root / "seance-2.ogg", 5)
    hashed.clear()
    manifest = CycleRun(ws).publish_site()
    assert copy.read_bytes() == (ws.root / "seance-2.ogg").read_bytes()
    assert hashed.count("seance-2.ogg") == 1  # the previous copy, checked before it is replaced
    import hashlib

    assert manifest.files["seances/seance-2/seance-2.ogg"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    silent_ogg(ws.root / "seance-2.ogg", 380)  # as the other tests expect it
    CycleRun(ws).publish_site()


# --- downloads and links -------------------------------------------------------------------------

def test_each_download_says_its_format_and_size(site):
    _, outputs = site
    page = (outputs / "seances" / "seance-2.html").read_text(encoding="utf-8")
    for label, fmt in (("Synthèse", "PDF"), ("Synthèse modifiable (Word)", "DOCX"),
                       ("Synthèse modifiable, format ouvert", "ODT"), ("Synthèse, page autonome", "HTML"),
                       ("Sous-titres de la séance", "VTT")):
        assert re.search(rf'>{re.escape(label)}<span class="download-details"> \({fmt}, \d+(,\d)?\xa0(Ko|Mo|octets)\)',
                         page), label
    odt = outputs / "seances" / "seance-2" / "seance-2.odt"
    assert odt.read_bytes()[30:38] == b"mimetype"
    assert 'type="application/vnd.oasis.opendocument.text"' in page


def test_a_session_page_shows_the_session_and_links_the_cycle_and_its_themes(site):
    ws, outputs = site
    page = Page(outputs / "seances" / "seance-2.html")
    text = " ".join(page.text.split())
    for shown in ("17 mars 2022", "6 min 12 s", "Claire Dubreuil", "Thèmes abordés"):
        assert shown in text
    links = {a["href"] for a in page.all("a")}
    assert {"../index.html#seances", "../synthese-du-cycle.html", "../themes/sobriete.html"} <= links
    cycle = {a["href"] for a in Page(outputs / "synthese-du-cycle.html").all("a")}
    assert {"seances/seance-2.html", "seances/seance-3.html"} <= cycle
    assert {f"themes/{t.id}.html" for t in ws.config.themes} <= cycle


# --- the feed ----------------------------------------------------------------------------------------

def test_the_feed_is_valid_atom_listing_the_approved_syntheses(site):
    """RFC 4287: the feed and each entry have an id (an absolute IRI), a title and an updated date
    (RFC 3339), the feed an author and a link to itself; an entry links its page. Only the
    session approved is an entry, dated by its approval, summarised by its key points."""
    _, outputs = site
    root = ElementTree.parse(outputs / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fr"

    def one(parent, name):
        found = parent.findall(f"{ATOM}{name}")
        assert len(found) == 1, name
        return found[0]

    def date(text):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text), text
        return dt.datetime.fromisoformat(text)

    def iri(text):
        assert re.fullmatch(r"[a-z][a-z0-9+.-]*:\S+", text), text

    iri(one(root, "id").text)
    assert one(root, "title").text == "Après la smart city"
    updated = date(one(root, "updated").text)
    assert one(one(root, "author"), "name").text
    links = {(link.get("rel"), link.get("href")) for link in root.findall(f"{ATOM}link")}
    assert ("self", "feed.xml") in links and (outputs / "feed.xml").is_file()
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1  # seance-2 is approved, seance-3 a draft
    entry = entries[0]
    iri(one(entry, "id").text)
    assert one(entry, "title").text == "Séance 2 · Sobriété, matérialité et infrastructures"
    assert date(one(entry, "updated").text) == date(one(entry, "published").text) == \
        dt.datetime.fromisoformat("2026-12-07T10:15:00+01:00") == updated
    alternate = [link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
    assert alternate[0].get("href") == "seances/seance-2.html" and (outputs / "seances" / "seance-2.html").is_file()
    enclosure = [link for link in entry.findall(f"{ATOM}link") if link.get("rel") == "enclosure"][0]
    assert int(enclosure.get("length")) == (outputs / enclosure.get("href")).stat().st_size
    summary = one(entry, "summary")
    assert summary.get("type") == "html" and summary.text.startswith("<ul><li>«\xa0")
    assert "(François Ménard, 00:00:12)" in summary.text
    # Ids are permanent: the same at the next publish.
    before = one(entry, "id").text
    from synthese.stages import CycleRun

    CycleRun(site[0]).publish_site()
    again = ElementTree.parse(outputs / "feed.xml").getroot()
    assert again.find(f"{ATOM}entry/{ATOM}id").text == before


def test_the_feed_uses_the_sites_address_when_given(tmp_path):
    from synthese.publish.feed import FeedEntry, atom_feed

    text = atom_feed(title="T", subtitle="", author="A", identity="https://cycle.gouv.fr/",
                     site_url="https://cycle.gouv.fr/", entries=[
                         FeedEntry(key="s1", title="S1", approved_at="2026-01-05T09:00", page="seances/s1.html",
                                   summary_points=["« <b>un</b> & deux »"])])
    root = ElementTree.fromstring(text)
    assert root.get("{http://www.w3.org/XML/1998/namespace}base") == "https://cycle.gouv.fr/"
    summary = root.find(f"{ATOM}entry/{ATOM}summary").text
    assert summary == "<ul><li>« &lt;b&gt;un&lt;/b&gt; &amp; deux »</li></ul>"  # text, never markup
    assert re.fullmatch(r"2026-01-05T09:00:00[+-]\d\d:\d\d", root.find(f"{ATOM}entry/{ATOM}updated").text)


@pytest.mark.slow
def test_without_pagefind_publishing_says_what_to_install(tmp_path, monkeypatch):
    import pagefind.service
    from test_publish import make_workspace

    from synthese.core.errors import SyntheseError

    ws = make_workspace(tmp_path)
    monkeypatch.setattr(pagefind.service, "get_executable", lambda: None)
    with pytest.raises(SyntheseError) as error:
        publish_workspace(ws)
    assert "pip install 'pagefind[bin]'" in str(error.value) and "publish.search: false" in str(error.value)
    assert [p.name for p in ws.outputs_dir.iterdir()] == [".gitkeep"]  # nothing half-published
