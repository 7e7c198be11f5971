"""The render stage: same content in PDF, DOCX and HTML; tagged PDF; Word structure; hostile text;
atomic output with the manifest last."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from synthese.core.artefacts import IndexedEntity, Tags
from synthese.core.config import load_config
from synthese.core.errors import SyntheseError
from synthese.core.resources import TemplateSet
from synthese.files import render_file
from synthese.render import docx as render_docx
from synthese.render import pdf as render_pdf
from synthese.render import rendering as render
from synthese.render.compose import SessionInputs, build_document
from synthese.render.document import replay_link
from synthese.render.html import render_html, render_html_body
from synthese.stages import transcript_beside

DATA = Path(__file__).resolve().parent / "data"
TAGS = DATA / "render_sample.tags.json"
TRANSCRIPT = DATA / "render_sample.transcript.json"
CONFIG = DATA / "render_config.yaml"

HOSTILE_SCRIPT = "<script>alert('x')</script>"
HOSTILE_IMG = '<img src="file:///etc/passwd">'
HOSTILE_BRACES = "{{ 7*7 }}"
HOSTILE = f"Calcul : {HOSTILE_BRACES} puis {HOSTILE_SCRIPT} et {HOSTILE_IMG} fin du test."


def squeeze(text: str) -> str:
    """Text compared across formats: without spaces or hyphens, which line breaking and
    hyphenation add or move in the PDF."""
    return re.sub(r"[\s\u00ad\-‐]+", "", text)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def docx_paragraphs(path: Path) -> list:
    import docx

    return docx.Document(str(path)).paragraphs


def odt_paragraphs(path: Path) -> list[tuple[str, str]]:
    """(style name, text) of every paragraph and heading of an OpenDocument text, as odfpy reads it."""
    from odf import teletype
    from odf.opendocument import load
    from odf.text import H, P

    document = load(str(path))
    return [(str(element.getAttribute("stylename")), teletype.extractText(element))
            for element in document.text.getElementsByType(P) + document.text.getElementsByType(H)]


def html_text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, config):
    """The fixture session rendered once in every format through `synthese render`'s function."""
    out = tmp_path_factory.mktemp("render")
    manifest = render_file(TAGS, config, output_dir=out, formats=None)
    return manifest


def inputs(config, tags, transcript, session_id="seance-2"):
    return SessionInputs(config.session(session_id), tags, transcript)


@pytest.fixture(scope="module")
def document(config, tags, transcript):
    return build_document(inputs(config, tags, transcript), config, stem="render_sample")


def save_tags(tags: Tags, path: Path) -> Path:
    return Tags.model_validate(tags.model_dump(by_alias=True)).save(path)


def test_manifest_lists_the_documents(rendered):
    data = json.loads(rendered.read_text(encoding="utf-8"))
    assert rendered.name == "render_sample.render.json"
    assert data["schema"] == "synthese.render/2"
    assert data["session_id"] == "seance-2"
    assert data["fragment"] == "render_sample.site.html"
    assert data["page"]["title"] == "Sobriété, matérialité et infrastructures"
    assert data["page"]["excerpts"]["sobriete"][0]["anchor"] == "sobriete-p002"
    # The documents, and the readers' subtitles from the transcript they were made from.
    assert data["files"] == {"pdf": "render_sample.pdf", "docx": "render_sample.docx", "odt": "render_sample.odt",
                             "html": "render_sample.html", "vtt": "render_sample.vtt"}
    assert data["charts"] == ["render_sample-themes.png", "render_sample-themes-narrow.png",
                              "render_sample-timeline.png", "render_sample-timeline-narrow.png"]
    for fmt, name in data["files"].items():
        path = rendered.parent / name
        assert path.stat().st_size == data["sizes"][fmt]
        assert path.stat().st_mtime_ns <= rendered.stat().st_mtime_ns  # the manifest comes last
    assert not list(rendered.parent.glob("*.part")) and not list(rendered.parent.glob(".*.part"))


def test_every_format_carries_the_same_excerpts(rendered, document):
    out = rendered.parent
    pdf = squeeze(pdf_text(out / "render_sample.pdf"))
    quotes = [p.text for p in docx_paragraphs(out / "render_sample.docx") if p.style.name == "Quote"]
    odt_quotes = [text for style, text in odt_paragraphs(out / "render_sample.odt") if style == "Quotations"]
    page = html_text(out / "render_sample.html")
    excerpts = [e for chapter in document.chapters for e in chapter.excerpts]
    assert len(excerpts) >= 12
    for excerpt in excerpts:
        assert squeeze(excerpt.text) in pdf, excerpt.passage_id
        assert excerpt.text in quotes, excerpt.passage_id
        assert excerpt.text in odt_quotes, excerpt.passage_id
        assert excerpt.text in page, excerpt.passage_id
    assert len(quotes) == len(excerpts) == len(odt_quotes)


def test_excerpts_follow_the_tags_order_and_link_to_the_replay(document, tags):
    chapter = next(c for c in document.chapters if c.id == "sobriete")
    assert [e.passage_id for e in chapter.excerpts] == [q.passage for q in tags.excerpts["sobriete"]]
    first = chapter.excerpts[0]
    assert first.speaker == "Claire Dubreuil"
    assert first.affiliation == "sociologue, Université de Villeneuve"
    # The quote starts at its first sentence, inside the passage that starts at 00:00:40.
    quote = tags.excerpts["sobriete"][0]
    sentence = tags.passage(quote.passage).sentences[quote.sentences[0]]
    assert first.start_s == quote.start == sentence.start
    assert first.timestamp == "00:00:50"
    assert first.link == "https://www.urbanisme-puca.gouv.fr/replays/apres-la-smart-city/seance-2#t=50"


def test_replay_links():
    assert replay_link(None, 12) is None
    assert replay_link("https://example.org/v/1", 61.7) == "https://example.org/v/1#t=61"
    assert replay_link("https://example.org/v/1#chapitre", 5) == "https://example.org/v/1#t=5"
    assert replay_link("https://www.youtube.com/watch?v=abc", 90) == "https://www.youtube.com/watch?v=abc&t=90"
    assert replay_link("https://youtu.be/abc?t=3", 90) == "https://youtu.be/abc?t=90"
    # Each host's own syntax where it is known.
    assert replay_link("https://vimeo.com/76979871", 90) == "https://vimeo.com/76979871#t=90s"
    assert replay_link("https://www.dailymotion.com/video/x8abc", 90) == "https://www.dailymotion.com/video/x8abc?start=90"
    assert replay_link("https://tube.numerique.gouv.fr/w/9c9de5e8", 90) == "https://tube.numerique.gouv.fr/w/9c9de5e8?start=90"
    assert replay_link("https://peertube.fr/videos/watch/uuid?start=5", 90) == "https://peertube.fr/videos/watch/uuid?start=90"


def test_no_replay_url_means_no_links(config, tags, transcript):
    session = config.session("seance-2").model_copy(update={"replay_url": None})
    doc = build_document(SessionInputs(session, tags, transcript), config)
    page = render_html(doc, config.templates)
    assert "#t=" not in page and "urbanisme-puca.gouv.fr/replays" not in page
    assert all(e.link is None for c in doc.chapters for e in c.excerpts)


def test_pdf_is_tagged_pdf_ua_with_title_language_and_bookmarks(rendered, document):
    from pypdf import PdfReader

    reader = PdfReader(rendered.parent / "render_sample.pdf")
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"]) is True
    assert root["/Lang"] == "fr"
    assert "Sobriété, matérialité et infrastructures" in reader.metadata.title
    assert b"pdfuaid" in reader.xmp_metadata.stream.get_data()
    bookmarks = [item.title for item in reader.outline if not isinstance(item, list)]
    for chapter in document.chapters:
        assert f"{chapter.number}. {chapter.label}" in bookmarks
    # The table of contents gives each chapter's page number (target-counter).
    toc_page = reader.pages[1].extract_text()
    first = document.chapters[0]
    assert re.search(rf"{first.number}\. {first.label}[ .]*\d+", toc_page)
    # Running header and page numbers on a chapter page.
    assert re.search(r"\d+ / \d+", reader.pages[3].extract_text())
    assert "Après la smart city · Séance 2" in reader.pages[3].extract_text()


def test_pdf_embeds_its_fonts(rendered):
    from pypdf import PdfReader

    reader = PdfReader(rendered.parent / "render_sample.pdf")
    fonts = {}
    for page in reader.pages[:3]:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = (font.get("/DescendantFonts", [font])[0].get_object()).get("/FontDescriptor")
            fonts[font["/BaseFont"]] = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts


def test_docx_structure(rendered, document):
    import docx
    from docx.oxml.ns import qn

    path = rendered.parent / "render_sample.docx"
    word = docx.Document(str(path))
    headings = [(p.style.name, p.text) for p in word.paragraphs if p.style.name.startswith("Heading")]
    assert ("Heading 1", "1. Sobriété") in headings
    assert ("Heading 2", document.wording["excerpts"]) in headings
    # A regular hierarchy: no level is skipped, so Word's navigation pane and contents stay clean.
    levels = [int(style.split()[-1]) for style, _ in headings]
    assert levels[0] == 1 and all(after <= before + 1 for before, after in zip(levels, levels[1:])), headings
    # The draft's banner first (the sample is not approved), then the cycle and the kind, then the title.
    assert word.paragraphs[0].text.startswith("DOCUMENT DE TRAVAIL — NON RELU")
    assert word.paragraphs[4].style.name == "Title"
    assert word.paragraphs[4].text == "Sobriété, matérialité et infrastructures"
    body = word.element.body.xml
    assert 'TOC \\o "1-1" \\h \\z \\u' in body
    # The field's cached result lists the sections, for editors that do not update fields on opening.
    texts = [p.text for p in word.paragraphs]
    contents = texts[texts.index(document.wording["toc"]) + 1:][:len(document.toc)]
    assert contents == [entry.title for entry in document.toc]
    assert [body.count(f'w:fldCharType="{kind}"') for kind in ("begin", "separate", "end")] == [1, 1, 1]
    assert word.settings.element.find(qn("w:updateFields")).get(qn("w:val")) == "true"
    assert word.core_properties.language == "fr-FR"
    assert word.core_properties.title == "Synthèse · Sobriété, matérialité et infrastructures · Après la smart city"
    default_lang = word.styles.element.find(qn("w:docDefaults")).find(".//" + qn("w:lang"))
    assert default_lang.get(qn("w:val")) == "fr-FR"
    # Hyperlinks are real w:hyperlink elements pointing at external relationships.
    targets = {rel.target_ref for rel in word.part.rels.values() if rel.is_external}
    assert "https://www.urbanisme-puca.gouv.fr/replays/apres-la-smart-city/seance-2#t=40" in targets
    assert body.count("<w:hyperlink") >= len(targets)
    # Page numbers in the footer, charts with alt text.
    assert "PAGE" in word.sections[0].footer._element.xml
    assert len(word.inline_shapes) == 2
    assert all(shape._inline.docPr.get("descr") for shape in word.inline_shapes)
    assert {"Quote", "Caption"} <= {p.style.name for p in word.paragraphs}


def test_html_is_standalone_and_accessible(rendered, document):
    page = (rendered.parent / "render_sample.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"fr\">")
    assert "<title>Synthèse · Sobriété, matérialité et infrastructures · Après la smart city</title>" in page
    assert "<link" not in page and "http" not in page.split("<body")[0]  # nothing fetched
    for chapter in document.chapters:
        assert f'id="{chapter.anchor}"' in page and f'href="#{chapter.anchor}"' in page
    fragment = render_html_body(document, TemplateSet(), asset_prefix="medias/")
    assert "<html" not in fragment and 'src="medias/render_sample-themes.png"' in fragment


def test_the_html_download_stands_alone(rendered):
    """Saved anywhere on its own, the HTML download shows its charts and its style: it references
    no file, every image is inside it (data: URIs, the same PNGs as the other formats')."""
    import base64
    import html.parser

    class Resources(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.found: list[tuple[str, str]] = []  # (tag, address)
            self.styles = 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            self.styles += tag == "style"
            for name in ("src", "srcset", "poster", "data"):
                if attrs.get(name):
                    self.found.append((tag, attrs[name]))
            if tag == "link" and attrs.get("href"):
                self.found.append((tag, attrs["href"]))

    out = rendered.parent
    parser = Resources()
    parser.feed((out / "render_sample.html").read_text(encoding="utf-8"))
    assert parser.styles == 1  # the stylesheet, inline
    assert [tag for tag, _ in parser.found if tag == "link"] == []
    images = [address for tag, address in parser.found if tag in ("img", "source")]
    assert len(images) == 4  # two charts, each drawn wide and narrow
    assert all(address.startswith("data:image/png;base64,") for address in images), \
        [address[:60] for address in images]
    embedded = {base64.b64decode(address.split(",", 1)[1]) for address in images}
    assert embedded == {(out / name).read_bytes() for name in json.loads(rendered.read_text())["charts"]}
    # The PDF, made from the same page, still reads the charts from their files.
    assert 'src="render_sample-themes.png"' in render_html(
        build_document(inputs(load_config(CONFIG), Tags.load(TAGS), None), load_config(CONFIG), stem="render_sample"),
        TemplateSet())


def test_the_odt_is_an_opendocument_package_with_the_documents_content(rendered, document):
    """The ODT opens as an OpenDocument text: the package's first entry is its media type,
    stored; the manifest lists every part; each XML part parses; odfpy reads it back with the
    same headings, quotes, links, language and draft mark as the other formats."""
    import zipfile
    from xml.etree import ElementTree

    from odf.opendocument import load

    path = rendered.parent / "render_sample.odt"
    ns = {"manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
          "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
          "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
          "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
          "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
          "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
          "dc": "http://purl.org/dc/elements/1.1/",
          "xlink": "http://www.w3.org/1999/xlink",
          "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
          "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"}
    with zipfile.ZipFile(path) as package:
        first = package.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert package.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        manifest = ElementTree.fromstring(package.read("META-INF/manifest.xml"))
        listed = {e.get(f"{{{ns['manifest']}}}full-path"): e.get(f"{{{ns['manifest']}}}media-type")
                  for e in manifest.findall("manifest:file-entry", ns)}
        assert listed["/"] == "application/vnd.oasis.opendocument.text"
        parts = {name for name in package.namelist() if name not in ("mimetype", "META-INF/manifest.xml")}
        assert parts == set(listed) - {"/"}
        xml = {name: ElementTree.fromstring(package.read(name)) for name in parts if name.endswith(".xml")}
        assert {"content.xml", "styles.xml", "meta.xml"} <= set(xml)
        assert sum(name.startswith("Pictures/") for name in parts) == 2  # the charts, embedded
    content, styles, meta = xml["content.xml"], xml["styles.xml"], xml["meta.xml"]
    # The same headings, with their outline levels (the navigator and the contents use them).
    headings = [(h.get(f"{{{ns['text']}}}outline-level"), "".join(h.itertext()))
                for h in content.iter(f"{{{ns['text']}}}h")]
    assert ("1", "1. Sobriété") in headings and ("2", document.wording["excerpts"]) in headings
    levels = [int(level) for level, _ in headings]
    assert levels[0] == 1 and all(after <= before + 1 for before, after in zip(levels, levels[1:])), headings
    assert [title for level, title in headings if level == "1"][:len(document.toc) - 1] == \
        [entry.title for entry in document.toc][:len(document.toc) - 1]
    # Links to the replay, at the moment of each quote; charts with their alt text.
    links = {a.get(f"{{{ns['xlink']}}}href") for a in content.iter(f"{{{ns['text']}}}a")}
    assert "https://www.urbanisme-puca.gouv.fr/replays/apres-la-smart-city/seance-2#t=50" in links
    assert all(frame.find("svg:desc", ns) is not None and frame.find("svg:desc", ns).text
               for frame in content.iter(f"{{{ns['draw']}}}frame"))
    # French as the language of every paragraph; the draft's mark in every page's header and
    # in the file's properties.
    default = styles.find("office:styles/style:default-style[@style:family='paragraph']/style:text-properties", ns)
    assert (default.get(f"{{{ns['fo']}}}language"), default.get(f"{{{ns['fo']}}}country")) == ("fr", "FR")
    assert meta.find("office:meta/dc:language", ns).text == "fr-FR"
    assert meta.find("office:meta/dc:title", ns).text == document.document_title
    header = "".join(styles.find("office:master-styles/style:master-page/style:header", ns).itertext())
    assert "DOCUMENT DE TRAVAIL — NON RELU" in header
    properties = {p.get(f"{{{ns['meta']}}}name"): p.text for p in meta.iter(f"{{{ns['meta']}}}user-defined")}
    assert properties["Status"] == "Document de travail — non relu"
    texts = [text for _, text in odt_paragraphs(path)]
    assert texts[0].startswith("DOCUMENT DE TRAVAIL — NON RELU")
    assert load(str(path)).mimetype == "application/vnd.oasis.opendocument.text"


def test_hostile_text_is_printed_never_run(tmp_path, config, tags, transcript, monkeypatch):
    tags = tags.model_copy(deep=True)
    transcript = transcript.model_copy(deep=True)
    quote = tags.excerpts["sobriete"][0]
    tags.excerpts["sobriete"][0] = quote.model_copy(update={"text": HOSTILE})
    tags.passage(quote.passage).text = HOSTILE
    transcript.segments[0].text = HOSTILE
    tags.entities.append(IndexedEntity(text=HOSTILE_IMG, label="ORG", count=1, passages=[quote.passage]))
    transcript.save(tmp_path / "render_sample.transcript.json")
    save_tags(tags, tmp_path / "render_sample.tags.json")

    fetchers = []
    real_fetcher = render_pdf.restricted_fetcher

    def spy(allowed):
        fetcher = real_fetcher(allowed)
        fetchers.append(fetcher)
        return fetcher

    monkeypatch.setattr(render_pdf, "restricted_fetcher", spy)
    out = tmp_path / "render"
    render.render_session(inputs(config, Tags.load(tmp_path / "render_sample.tags.json"), transcript), config,
                          out_dir=out, stem="hostile", formats=["pdf", "docx", "html"])

    raw_html = (out / "hostile.html").read_text(encoding="utf-8")
    assert "<script" not in raw_html and '<img src="file:' not in raw_html
    assert "&lt;script&gt;" in raw_html
    texts = {
        "html": html.unescape(raw_html),
        "docx": "\n".join(p.text for p in docx_paragraphs(out / "hostile.docx")),
        "pdf": pdf_text(out / "hostile.pdf"),
    }
    for fmt, text in texts.items():
        flat = squeeze(text)
        for literal in (HOSTILE_SCRIPT, HOSTILE_IMG, HOSTILE_BRACES):
            assert squeeze(literal) in flat, (fmt, literal)
        assert squeeze("Calcul : 49") not in flat, fmt  # the braces were not evaluated
    assert len(fetchers) == 1
    requested = fetchers[0].requested
    assert requested and all(url.startswith(out.resolve().as_uri()) for url in requested)
    assert not any("passwd" in url for url in requested)
    assert fetchers[0].refused == []


def test_fetcher_refuses_everything_outside_its_folders(tmp_path):
    from weasyprint.urls import URLFetchingError, fetch

    allowed = tmp_path / "out"
    allowed.mkdir()
    (allowed / "chart.png").write_bytes(b"\x89PNG")
    (tmp_path / "secret.txt").write_text("secret")
    fetcher = render_pdf.restricted_fetcher([allowed])
    with fetch(fetcher, (allowed / "chart.png").as_uri()) as response:
        assert response.read() == b"\x89PNG"
    for url in ("file:///etc/passwd", (tmp_path / "secret.txt").as_uri(),
                (allowed / ".." / "secret.txt").as_uri(), "http://example.org/x.png",
                "data:text/plain,abc"):
        with pytest.raises(URLFetchingError):
            with fetch(fetcher, url):
                pass
    assert len(fetcher.refused) == 5


def test_failure_leaves_no_part_file_and_no_manifest(tmp_path, config, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(render_docx, "write_docx", broken)
    out = tmp_path / "render"
    with pytest.raises(RuntimeError, match="disk full"):
        render_file(TAGS, config, output_dir=out, formats=["html", "docx", "pdf"])
    left = sorted(p.name for p in out.iterdir())
    assert not [name for name in left if name.endswith(".part")]
    assert "render_sample.render.json" not in left
    assert not [name for name in left if name.endswith((".html", ".docx", ".pdf"))]


def test_render_file_rejects_an_unknown_format(config):
    with pytest.raises(SyntheseError) as error:
        render_file(TAGS, config, output_dir=None, formats=["pdf", "rtf"])
    assert str(error.value) == "unknown format 'rtf': choose among pdf, docx, odt, html (e.g. --formats pdf,html)."


def test_cli_render_unknown_format_message(cli):
    result = cli("--config", str(CONFIG), "render", str(TAGS), "--formats", "pdf,rtf")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: unknown format 'rtf': choose among pdf, docx, odt, html (e.g. --formats pdf,html)."
    )


def test_render_file_defaults_for_an_unknown_session(tmp_path, config, tags):
    shutil.copy(TRANSCRIPT, tmp_path / TRANSCRIPT.name)
    path = save_tags(tags.model_copy(update={"session_id": "Séance hors programme"}), tmp_path / "autre.tags.json")
    manifest = render_file(path, config, output_dir=None, formats=["html"])
    assert manifest == tmp_path / "render" / "autre.render.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["session_id"] == "seance-hors-programme"
    assert data["files"] == {"html": "autre.html", "vtt": "autre.vtt"}  # the subtitles come with any format
    assert "<h1 class=\"cover-title\">Séance hors programme</h1>" in (tmp_path / "render" / "autre.html").read_text()


def test_render_cycle_gathers_sessions_by_theme(tmp_path, config, tags, transcript):
    session_2 = config.session("seance-2")
    session_3 = session_2.model_copy(update={"id": "seance-3", "number": 3, "title": "Instrumentation et données"})
    second = tags.model_copy(update={"session_id": "seance-3"})
    manifest = render.render_cycle([SessionInputs(session_2, tags, transcript), SessionInputs(session_3, second, None)],
                                   config, out_dir=tmp_path / "cycle", formats=["html", "docx"])
    assert manifest.kind == "cycle" and set(manifest.files) == {"html", "docx"}
    assert manifest.files["html"] == "cycle.html"
    page = html_text(tmp_path / "cycle" / "cycle.html")
    assert "Séance 2 — Sobriété, matérialité et infrastructures" in page
    assert "Séance 3 — Instrumentation et données" in page
    assert (tmp_path / "cycle" / "cycle-sessions.png").is_file()
    quotes = [p.text for p in docx_paragraphs(tmp_path / "cycle" / "cycle.docx") if p.style.name == "Quote"]
    assert len(quotes) == 2 * sum(len(v) for v in tags.excerpts.values())
    assert manifest.fragment == "cycle.site.html" and 'src="cycle/cycle-themes.png"' in (
        tmp_path / "cycle" / "cycle.site.html").read_text(encoding="utf-8")


def test_annex_can_be_left_out(config, tags, transcript):
    no_annex = config.model_copy(update={"render": config.render.model_copy(update={"transcript_annex": False})})
    doc = build_document(inputs(no_annex, tags, transcript), no_annex)
    assert doc.annex == []
    assert "annex" not in [entry.anchor for entry in doc.toc]
    with_annex = build_document(inputs(config, tags, transcript), config)
    assert with_annex.annex[0].speaker == "François Ménard"
    assert with_annex.annex[0].text.startswith("Bonjour à toutes et à tous")


def test_chapters_with_nothing_to_quote_share_a_page(tmp_path, config, tags):
    # An unreviewed short session may have nothing to quote yet: its chapters are a few lines
    # each and follow one another, instead of a page each.
    bare = tags.model_copy(update={"excerpts": {}, "key_points": tags.key_points.model_copy(update={"themes": {}})})
    manifest = render_file(save_tags(bare, tmp_path / "nu.tags.json"), config, output_dir=tmp_path / "out",
                           formats=["html", "pdf", "docx"])
    assert json.loads(manifest.read_text(encoding="utf-8"))["files"]["pdf"]
    from pypdf import PdfReader

    pages = [squeeze(page.extract_text()) for page in PdfReader(tmp_path / "out" / "nu.pdf").pages]
    labels = [theme.label.replace("'", "’") for theme in config.themes]  # as French typography prints them
    where = [next(i for i, text in enumerate(pages) if squeeze(f"{n}. {label}") in text)
             for n, label in enumerate(labels, start=1)]
    assert where[-1] - where[0] < len(labels) - 1, where
    assert html_text(tmp_path / "out" / "nu.html").count('class="chapter brief"') == len(labels)
    chapters = [p for p in docx_paragraphs(tmp_path / "out" / "nu.docx")
                if p.style.name == "Heading 1" and p.text.startswith(("1. ", "2. ", "3. ", "4. ", "5. ", "6. "))]
    assert len(chapters) == len(labels) and all(p.paragraph_format.page_break_before is False for p in chapters)


def test_a_session_with_no_passage_still_renders(tmp_path, config, tags):
    empty = tags.model_copy(update={"passages": [], "excerpts": {}, "entities": [], "duration_s": 0})
    path = save_tags(empty, tmp_path / "vide.tags.json")
    manifest = render_file(path, config, output_dir=tmp_path / "out", formats=["html", "docx", "pdf"])
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert set(data["files"]) == {"html", "docx", "pdf"}
    page = html_text(tmp_path / "out" / "vide.html")
    assert "en 0\xa0passage," in page or "en 0 passage," in page
    assert '<section class="chapter' not in page


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON file"),
        ('{"schema": "synthese.transcript/2"}', r"expected a tag artefact \(synthese.tags/2\), found schema"),
        ('{"schema": "synthese.tags/1"}', r"written by an older version of Synthèse \(synthese.tags/1"),
        ('{"schema": "synthese.tags/9"}', r"written by a newer version of Synthèse"),
    ],
)
def test_broken_tags_file_is_an_error_naming_it(tmp_path, config, content, message):
    path = tmp_path / "casse.tags.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SyntheseError, match=message) as error:
        render_file(path, config, output_dir=tmp_path / "out", formats=["html"])
    assert str(path) in str(error.value)
    assert not (tmp_path / "out").exists()


def test_without_its_transcript_the_annex_comes_from_the_passages(tmp_path, config, tags):
    path = save_tags(tags, tmp_path / "seul.tags.json")  # no transcript beside it
    loaded = Tags.load(path)
    assert transcript_beside(loaded, config) is None
    doc = build_document(inputs(config, loaded, None), config)
    assert doc.annex[0].text.startswith("Bonjour à toutes et à tous")
    assert sum(len(p.text) for p in doc.annex) > 0.9 * sum(len(p.text) for p in tags.passages)


# --- text a format cannot hold -------------------------------------------------------------------

CONTROLS = "\x00\x01\x07\x0b\x0c\x1b\x7f\x85\ufffe"


def test_control_characters_anywhere_never_break_the_docx(tmp_path, config, tags, transcript):
    """A hand-edited tags file, a caption or a theme label may carry characters XML cannot hold."""
    tags, transcript = tags.model_copy(deep=True), transcript.model_copy(deep=True)
    for passage in tags.passages:
        passage.text = f"Début{CONTROLS} {passage.text}"
    tags.excerpts = {theme: [q.model_copy(update={"text": f"Début{CONTROLS} {q.text}"}) for q in quotes]
                     for theme, quotes in tags.excerpts.items()}
    for segment in transcript.segments:
        segment.text = f"{segment.text} fin{CONTROLS}"
    themes = [t.model_copy(update={"label": f"{t.label}{CONTROLS}"}) for t in config.themes]
    cycle = config.cycle.model_copy(update={"title": f"Cycle{CONTROLS}"})
    edited = config.model_copy(update={"themes": themes, "cycle": cycle})
    doc = build_document(inputs(edited, tags, transcript), edited, stem="s")
    render.write_documents(doc, tmp_path, ["docx"], edited.templates)
    texts = [p.text for p in docx_paragraphs(tmp_path / "s.docx")]
    assert any(text.startswith("Début ") for text in texts)
    assert not any(set(CONTROLS) & set(text) for text in texts)


def test_six_long_theme_labels_fit_the_docx_properties(tmp_path, config, tags, transcript):
    """Word's core properties hold 255 characters; the keywords join every theme's label."""
    labels = ["Sobriété numérique et matérialité des infrastructures urbaines",
              "Instrumentation, capteurs et données de la ville intelligente",
              "Gouvernance, commande publique et régulation des plateformes",
              "Entreprises, start-up et modèles économiques de la ville",
              "Vulnérabilités, cybersécurité et risques des systèmes urbains",
              "Sociétés et inclusion du numérique"]
    assert sum(len(label) for label in labels) == 334
    themes = [t.model_copy(update={"label": label}) for t, label in zip(config.themes, labels)]
    edited = config.model_copy(update={"themes": themes})
    doc = build_document(inputs(edited, tags, transcript), edited, stem="s")
    render.write_documents(doc, tmp_path, ["docx"], edited.templates)
    import docx

    properties = docx.Document(str(tmp_path / "s.docx")).core_properties
    assert len(properties.keywords) == 255 and properties.keywords.endswith("…")
    assert properties.keywords.startswith(", ".join(labels[:3]))


@pytest.mark.parametrize("label", ["entre 5 $ et 10 $", "$\\x$ coût", "$\\frac{a}{b}$", "^_%&{}"])
def test_chart_text_is_plain_text_never_mathtext(config, tags, transcript, label):
    import matplotlib.text

    from synthese.render import charts

    themes = [t.model_copy(update={"label": label if i == 0 else t.label}) for i, t in enumerate(config.themes)]
    edited = config.model_copy(update={"themes": themes})
    doc = build_document(inputs(edited, tags, transcript), edited, stem="s")
    for chart in doc.charts:
        assert charts.chart_png(chart).startswith(b"\x89PNG")  # "$\x$" used to stop the render
        plt = charts._pyplot()
        figure = charts.DRAWERS[chart.kind](plt, chart)
        try:
            figure.canvas.draw()
            drawn = [t for t in figure.findobj(matplotlib.text.Text) if label in t.get_text()]
            assert drawn, chart.kind
            # matplotlib's own test: (text, False) means the text is drawn as written.
            assert all(t._preprocess_math(t.get_text()) == (t.get_text(), False) for t in drawn)
        finally:
            plt.close(figure)


def test_the_overview_gives_each_voice_its_speaking_time(config, tags, transcript):
    transcript = transcript.model_copy(deep=True)
    for segment in transcript.segments:
        segment.speaker = "Intervenant 1" if segment.start < 100 else "Intervenant 2"
    doc = build_document(inputs(config, tags, transcript), config)
    line = next(p for p in doc.overview if p.startswith("Temps de parole"))
    first = sum(s.end - s.start for s in transcript.segments if s.speaker == "Intervenant 1")
    second = sum(s.end - s.start for s in transcript.segments if s.speaker == "Intervenant 2")
    longest, shortest = ("Intervenant 2", "Intervenant 1") if second > first else ("Intervenant 1", "Intervenant 2")
    assert line.index(longest) < line.index(shortest)
    assert "\u202f%" in line and " et " in line


ENGLISH = "What we measured in London: consumption keeps growing, year after year, in every network."


def test_other_languages_and_untranscribed_speech_are_marked_in_every_format(tmp_path, config, tags, transcript):
    from synthese.core.artefacts import Gap

    tags = tags.model_copy(deep=True)
    transcript = transcript.model_copy(deep=True)
    quote = tags.excerpts["sobriete"][0]
    tags.excerpts["sobriete"][0] = quote.model_copy(update={"text": ENGLISH})
    tags.passage(quote.passage).lang = "en"
    said = next(s for s in transcript.segments if s.start == quote.start)
    said.text, said.lang, said.words = ENGLISH, "en", []
    transcript.gaps = [Gap(start=60.0, end=81.5, reason="no_speech_decoded")]
    out = tmp_path / "render"
    doc = build_document(inputs(config, tags, transcript), config, stem="langues")
    render.render_session(inputs(config, tags, transcript), config, out_dir=out, stem="langues",
                          formats=["pdf", "docx", "html"])

    marker = "[passage non transcrit, 00:01:00–00:01:21]"
    gap_at = next(i for i, p in enumerate(doc.annex) if p.gap)
    assert doc.annex[gap_at].text == marker
    assert doc.annex[gap_at - 1].timestamp < "00:01:00" <= doc.annex[gap_at + 1].timestamp  # in time order
    english = [p for p in doc.annex if p.lang == "en"]
    assert [p.text for p in english] == [ENGLISH]  # its own paragraph, French typography left out

    raw = (out / "langues.html").read_text(encoding="utf-8")
    assert f'<p class="turn-text" lang="en">{html.escape(ENGLISH, quote=True)}</p>' in raw
    assert re.search(r'<blockquote lang="en"><p>' + re.escape(html.escape(ENGLISH, quote=True)), raw)
    assert f'<p class="turn-gap">{marker}</p>' in raw
    paragraphs = docx_paragraphs(out / "langues.docx")
    marked = [p for p in paragraphs if p.runs and p.runs[0]._r.rPr is not None
              and p.runs[0]._r.rPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}lang") is not None]
    assert [p.text for p in marked].count(ENGLISH) == 2  # the quote and the annex paragraph
    assert not any(p.text.startswith("Bonjour à toutes") for p in marked)  # French stays unmarked
    assert marker in [p.text for p in paragraphs]
    assert squeeze(marker) in squeeze(pdf_text(out / "langues.pdf"))
    tagged = pdf_languages(out / "langues.pdf")
    # The quote, the annex paragraph (and the key points taken from that passage); nothing else.
    assert {"BlockQuote", "P"} <= {kind for kind, _ in tagged} and {lang for _, lang in tagged} == {"en"}


def pdf_languages(path: Path) -> dict[tuple[str, str], int]:
    """How many structure elements of each kind of the tagged PDF carry each language of their own."""
    from collections import Counter

    from pypdf import PdfReader

    found: Counter = Counter()

    def walk(node) -> None:
        node = node.get_object()
        if not isinstance(node, dict):
            return
        if "/Lang" in node and node.get("/Type") == "/StructElem":
            found[str(node["/S"]).lstrip("/"), str(node["/Lang"])] += 1
        kids = node.get("/K")
        for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
            walk(kid)

    walk(PdfReader(path).trailer["/Root"]["/StructTreeRoot"])
    return dict(found)


def test_references_and_acronyms_said_are_listed_in_every_format(tmp_path, config, tags, transcript):
    from synthese.core.artefacts import GlossaryEntry, Reference
    from synthese.core.typography import timestamp

    first, second = tags.passages[0], tags.passages[1]
    cited = tags.model_copy(update={
        "references": [Reference(text="Loi AGEC", passages=[first.id, second.id]),
                       Reference(text="RGPD", passages=[second.id])],
        "glossary": [GlossaryEntry(term="RGPD", expansion="Règlement général sur la protection des données",
                                   passages=[second.id])]})
    doc = build_document(inputs(config, cited, transcript), config)
    assert [(e.name, [r.label for r in e.refs]) for e in doc.references] == [
        ("Loi AGEC", [timestamp(first.start), timestamp(second.start)]), ("RGPD", [timestamp(second.start)])]
    assert [(g.term, g.expansion) for g in doc.glossary] == [("RGPD", "Règlement général sur la protection des données")]
    titles = [e.title for e in doc.toc]
    assert titles.index("Références citées") + 1 == titles.index("Sigles") < titles.index("Colophon")
    manifest = render.render_session(inputs(config, cited, transcript), config, out_dir=tmp_path, stem="s")
    for text in (html_text(tmp_path / manifest.files["html"]), pdf_text(tmp_path / manifest.files["pdf"]),
                 "\n".join(p.text for p in docx_paragraphs(tmp_path / manifest.files["docx"]))):
        flat = squeeze(text)
        for said in ("Références citées", "Loi AGEC", "Sigles", "Règlement général sur la protection des données"):
            assert squeeze(said) in flat


def test_a_chart_drawn_from_the_same_data_is_not_drawn_again(tmp_path, config, tags, transcript):
    from synthese.render.charts import write_charts

    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config, stem="s")
    first = write_charts(doc.charts, tmp_path)
    stamps = {path.name: path.stat().st_mtime_ns for path in first}
    assert len(first) == 4 and all(path.is_file() for path in first)
    again = write_charts(doc.charts, tmp_path)
    assert [p.name for p in again] == [p.name for p in first]
    assert {path.name: path.stat().st_mtime_ns for path in again} == stamps
    # Other data (a theme relabelled): that chart is drawn again, the others stay.
    changed = [doc.charts[0].__class__(**{**doc.charts[0].__dict__, "title": "Autre titre"}), *doc.charts[1:]]
    write_charts(changed, tmp_path)
    assert (tmp_path / doc.charts[0].image).stat().st_mtime_ns != stamps[doc.charts[0].image]
    assert (tmp_path / doc.charts[1].image).stat().st_mtime_ns == stamps[doc.charts[1].image]
