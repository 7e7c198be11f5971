"""What a reader sees: key points, quotes by sub-theme, the publication details, and the details
of French typography and layout that a reader notices (agreement of counts, titles, tables,
fonts, hyphenation, charts), in every format.

The fixture session of test_render.py is rendered once with publication details (a logo, a
licence, a citation, a contact), and the cycle once from two sessions.
"""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from synthese.core.artefacts import Approval, Passage, Quote, Sentence, ThemeTag
from synthese.core.config import load_config
from synthese.core.errors import ConfigError
from synthese.render import rendering as render
from synthese.render.charts import INK, _luminance, heat_colormap, text_colour_on
from synthese.render.compose import SessionInputs, build_cycle_document, build_document, timeline_step

DATA = Path(__file__).resolve().parent / "data"
TAGS = DATA / "render_sample.tags.json"
TRANSCRIPT = DATA / "render_sample.transcript.json"
CONFIG = DATA / "render_config.yaml"
PUBLICATION = {"logo": "logo.png", "logo_alt": "Puca", "date": "2022-04-02", "licence": "CC BY 4.0",
               "licence_url": "https://creativecommons.org/licenses/by/4.0/deed.fr",
               "citation": "{organiser}, « {title} », {kind}, {cycle}, {session}, {year}.",
               "contact": "synthese@example.org"}


def write_logo(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (240, 80), (43, 93, 138)).save(path)
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cycle")
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["sessions"][0]["transcript"] = str(TRANSCRIPT)
    data["publication"] = PUBLICATION
    write_logo(folder / "logo.png")
    (folder / "config.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(folder / "config.yaml")


@pytest.fixture(scope="module")
def session_out(tmp_path_factory, config, tags, transcript):
    out = tmp_path_factory.mktemp("session")
    approved = tags.model_copy(deep=True)  # published once approved: its date, its citation
    approved.review.approval = Approval(state="approved", by="Marie Dupont", at="2022-03-30T10:00+02:00")
    manifest = render.render_session(SessionInputs(config.session("seance-2"), approved, transcript), config,
                                     out_dir=out, stem="seance-2")
    return out, manifest


@pytest.fixture(scope="module")
def cycle_out(tmp_path_factory, config, tags, transcript):
    out = tmp_path_factory.mktemp("cycle")
    second = config.session("seance-2").model_copy(update={"id": "seance-3", "number": 3, "title": "Instrumentation"})
    manifest = render.render_cycle([SessionInputs(config.session("seance-2"), tags, transcript),
                                    SessionInputs(second, tags.model_copy(update={"session_id": "seance-3"}), None)],
                                   config, out_dir=out)
    return out, manifest


def pdf_lines(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [line for page in PdfReader(path).pages for line in (page.extract_text() or "").splitlines()]


def docx_text(path: Path) -> str:
    import docx

    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


def visible_text(page: str) -> str:
    """The text of an HTML page, without its tags, attributes, style and scripts."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# --- key points, sub-themes, chapters without quotes ------------------------------------------

def test_key_points_are_said_and_link_to_their_moment(config, tags, transcript, session_out):
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    said = {s.text for p in tags.passages for s in p.sentences}
    # The session's key sentences are the proposals of « À retenir » until staff write theirs.
    proposals = [m.excerpt for m in doc.key_messages.messages]
    assert doc.key_messages.proposed and 3 <= len(proposals) <= config.tag.key_messages
    for point in proposals + [p for c in doc.chapters for p in c.key_points]:
        inner = point.text.strip("«»\u00a0 ")
        assert any(inner == _french(s) for s in said), inner  # a sentence as said, in guillemets
        assert point.link and point.link.endswith(f"#t={int(point.start_s)}")
    out, _ = session_out
    page = html.unescape((out / "seance-2.html").read_text(encoding="utf-8"))
    words = docx_text(out / "seance-2.docx")
    pdf = _squeeze(" ".join(pdf_lines(out / "seance-2.pdf")))
    for point in proposals:
        assert point.text in page and point.text in words and _squeeze(point.text) in pdf
    assert doc.key_messages.subtitle == "Propositions (non relues)"
    # The session rendered is approved as it is: its proposals are what the reviewer approved.
    for text in ("À retenir", "Phrases choisies automatiquement"):
        assert text in page and text in words and _squeeze(text) in pdf
    assert "Propositions (non relues)" not in page


def _french(text: str) -> str:
    from synthese.core.typography import french_text

    return french_text(text)


def _squeeze(text: str) -> str:
    return re.sub(r"[\s\u00ad\-‐]+", "", text)


def test_quotes_are_grouped_by_sub_theme_with_others_last(config, tags, transcript):
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    for chapter in doc.chapters:
        theme = next(t for t in config.themes if t.id == chapter.id)
        grouped = [e for group in chapter.groups for e in group.excerpts]
        assert sorted(e.anchor for e in grouped) == sorted(e.anchor for e in chapter.excerpts)
        titles = [g.title for g in chapter.groups]
        labels = [_french(s.label) for s in theme.subthemes]
        if len(titles) > 1 or titles[0]:
            expected = [t for t in labels if t in titles] + (["Autres"] if "Autres" in titles else [])
            assert titles == expected
        for group in chapter.groups:
            assert [e.start_s for e in group.excerpts] == sorted(e.start_s for e in group.excerpts)
    vulnerabilities = next(c for c in doc.chapters if c.id == "vulnerabilites")
    assert vulnerabilities.groups[0].title.startswith("Sécurité")


def test_a_chapter_without_a_quote_says_why(config, tags, transcript):
    bare = tags.model_copy(update={"excerpts": {**tags.excerpts, "societes": []}})
    doc = build_document(SessionInputs(config.session("seance-2"), bare, transcript), config)
    chapter = next(c for c in doc.chapters if c.id == "societes")
    assert chapter.excerpts == [] and "15 à 70 mots" in chapter.no_excerpt
    from synthese.render.html import render_html

    assert html.unescape(render_html(doc, config.templates)).count(chapter.no_excerpt) == 1


# --- publication details ----------------------------------------------------------------------

def test_publication_details_on_the_title_page_and_colophon(config, session_out):
    out, manifest = session_out
    assert (out / "logo.png").is_file() and "logo.png" in manifest.charts
    page = (out / "seance-2.html").read_text(encoding="utf-8")
    # The HTML download carries its logo inside it (a data: URI), as its charts.
    import base64

    logo = base64.b64encode((out / "logo.png").read_bytes()).decode("ascii")
    assert f'<img src="data:image/png;base64,{logo}" alt="Puca">' in page
    text = visible_text(page)
    citation = ("Plan Urbanisme Construction Architecture (Puca), «\u00a0Sobriété, matérialité et infrastructures\u00a0», "
                "Synthèse, Après la smart city, Séance 2, 2022.")
    for expected in ("Publié le 2 avril 2022", "CC BY 4.0", citation, "synthese@example.org"):
        assert expected in text, expected
    assert 'href="mailto:synthese@example.org"' in page and 'href="https://creativecommons.org' in page
    words = docx_text(out / "seance-2.docx")
    assert citation in words and "Publié le 2 avril 2022" in words
    import docx

    assert len(docx.Document(str(out / "seance-2.docx")).inline_shapes) == 3  # the logo and two charts
    pdf = " ".join(pdf_lines(out / "seance-2.pdf"))
    assert "CC BY 4.0" in pdf and "Publié le 2 avril 2022" in pdf
    from pypdf import PdfReader

    first_page = PdfReader(out / "seance-2.pdf").pages[0]
    assert any(name for name in first_page.images), "the logo is on the title page"


def test_publication_details_are_validated(tmp_path):
    data = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    data["sessions"][0]["transcript"] = str(TRANSCRIPT)
    for publication, message in (({"logo": "absent.png"}, r"publication.logo: file not found: absent.png"),
                                 ({"logo": "logo.svg"}, r"must be a PNG or JPEG file"),
                                 ({"citation": "{auteur}"}, r"unknown placeholder \{auteur\}"),
                                 ({"licence_url": "ftp://x"}, r"must be an http\(s\) address"),
                                 ({"licence": "x", "colour": "blue"}, r"unknown key 'colour'")):
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump({**data, "publication": publication}, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_config(path)


# --- counts, titles, typography ---------------------------------------------------------------

def test_counts_agree_with_their_number(config, tags, transcript):
    one = Passage(id="p001", key="k", start=0.0, end=20.0, speaker="Claire Dubreuil",
                  text="Les centres de données consomment beaucoup d'électricité chaque année en France.",
                  sentences=[Sentence(start=0.0, end=20.0, text="Les centres de données consomment beaucoup "
                                                                 "d'électricité chaque année en France.")],
                  themes=[ThemeTag(id="sobriete", score=0.9)])
    single = tags.model_copy(update={"passages": [one], "excerpts": {"sobriete": [
        Quote(passage="p001", start=0.0, end=20.0, text=one.text, sentences=[0])]}, "duration_s": 20.0})
    doc = build_document(SessionInputs(config.session("seance-2"), single, None), config)
    text = " ".join(doc.overview + [c.summary for c in doc.chapters])
    assert "1\u00a0passage," in text or "1 passage," in text
    assert "dont 1 se rattache à au moins l’un des 6 thèmes" in text
    assert not re.search(r"\b1\s(passages|séances|extraits|thèmes)\b", text)
    cycle = build_cycle_document(config, [SessionInputs(config.session("seance-2"), single, None)])
    cycle_text = " ".join(cycle.overview + cycle.colophon)
    assert "1 séance" in cycle_text and not re.search(r"\b1\sséances\b", cycle_text)
    share = doc.charts[0].table.rows[-1]
    assert share[0] == "Sans thème" and share[1] == "0"
    untagged = next(r for r in cycle.charts[0].table.rows if r[0] == "Sans thème")
    assert untagged[1] == "0"


def test_session_share_table_counts_untagged_passages(config, tags, transcript):
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    row = doc.charts[0].table.rows[-1]
    assert row[0] == "Sans thème" and row[1] == str(sum(1 for p in tags.passages if not p.themes)) != ""


def test_the_cycle_title_is_not_repeated_in_the_metadata(cycle_out):
    from pypdf import PdfReader

    out, _ = cycle_out
    metadata = PdfReader(out / "cycle.pdf").metadata
    assert metadata.title == "Synthèse du cycle · Après la smart city"
    assert metadata.title.count("Après la smart city") == 1
    assert metadata.subject.count("Après la smart city") == 1
    import docx

    assert docx.Document(str(out / "cycle.docx")).core_properties.title == "Synthèse du cycle · Après la smart city"


def test_no_percent_sign_without_its_space_and_no_straight_apostrophe(session_out, config, tags, transcript):
    out, _ = session_out
    texts = {"html": visible_text((out / "seance-2.html").read_text(encoding="utf-8")),
             "docx": docx_text(out / "seance-2.docx"), "pdf": " ".join(pdf_lines(out / "seance-2.pdf"))}
    for fmt, text in texts.items():
        assert not re.search(r"\d%", text), fmt
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    for chapter in doc.chapters:
        for term in chapter.key_terms + chapter.subthemes + [chapter.label]:
            assert "'" not in term, term


def test_hyphenated_line_ends_never_run_long(session_out):
    out, _ = session_out
    longest = run = 0
    for line in pdf_lines(out / "seance-2.pdf"):
        run = run + 1 if re.search(r"\w[‐-]$", line.rstrip()) else 0
        longest = max(longest, run)
    assert longest <= 2


# --- Word --------------------------------------------------------------------------------------

def test_docx_contents_list_each_entry_once_and_not_itself(session_out):
    import docx

    word = docx.Document(str(session_out[0] / "seance-2.docx"))
    in_contents = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    assert len(in_contents) == len(set(in_contents)), "repeated entries in the table of contents"
    assert "Sommaire" not in in_contents
    assert [p for p in word.paragraphs if p.text == "Sommaire"][0].style.name == "TOC Heading"
    # The contents list the sections; what every chapter repeats is one level down, never two.
    assert 'TOC \\o "1-1"' in word.element.body.xml
    assert sum(p.style.name == "Heading 2" and p.text == "Extraits" for p in word.paragraphs) >= 6
    levels = [int(p.style.name.split()[-1]) for p in word.paragraphs if p.style.name.startswith("Heading")]
    assert all(after <= before + 1 for before, after in zip(levels, levels[1:]))


def test_docx_properties_are_the_documents_own(session_out):
    import datetime as dt

    import docx

    path = session_out[0] / "seance-2.docx"
    properties = docx.Document(str(path)).core_properties
    assert properties.created.year == properties.modified.year == dt.datetime.now(dt.UTC).year
    assert properties.author == properties.last_modified_by == "Plan Urbanisme Construction Architecture (Puca)"
    assert properties.title.startswith("Synthèse · Sobriété") and properties.language == "fr-FR"
    assert "python-docx" not in (properties.comments + properties.author)
    with zipfile.ZipFile(path) as archive:
        app = archive.read("docProps/app.xml").decode("utf-8")
        styles = archive.read("word/styles.xml").decode("utf-8")
    assert "Microsoft Macintosh Word" not in app and "<Application>Synthèse" in app
    assert "DejaVu" not in styles and 'w:ascii="Georgia"' in styles and 'w:ascii="Arial"' in styles


def test_docx_tables_repeat_their_header_and_size_their_columns(session_out):
    import docx
    from docx.oxml.ns import qn

    word = docx.Document(str(session_out[0] / "seance-2.docx"))
    for table in word.tables:
        header = table.rows[0]._tr.trPr
        assert header is not None and header.find(qn("w:tblHeader")) is not None
        widths = [cell.width for cell in table.rows[1].cells]
        assert widths[0] > widths[1] and len(set(widths[1:])) == 1
        assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)


# --- charts ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("total_s", "step_s"), [(372, 60), (1830, 300), (45, 10), (7300, 1200), (3600, 600),
                                                 (440, 120)])
def test_timeline_ticks_fall_on_round_times(total_s, step_s):
    assert timeline_step(total_s) == step_s


def test_timeline_table_and_ticks_at_round_minutes(config, tags, transcript):
    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    timeline = next(c for c in doc.charts if c.kind == "timeline")
    assert [t for t, _ in timeline.data["ticks"]] == [0, 60, 120, 180, 240, 300, 360]
    assert timeline.table.header[1:3] == ["00:00–01:00", "01:00–02:00"]
    assert timeline.table.header[-1] == "05:00–06:12"  # the last 12 s join the slice before


def test_the_timeline_costs_the_same_whatever_the_duration(config, tags):
    """A hand-edited tags file that says a passage was at 99999:00:00 (sessions themselves are
    refused beyond limits.MAX_SESSION_SECONDS): still six slices and seven ticks, drawn at once."""
    from synthese.render.charts import chart_png

    last = tags.passages[-1]
    far = last.model_copy(update={"start": 99_999 * 3600.0, "end": 99_999 * 3600.0 + 30})
    tags = tags.model_copy(update={"passages": [*tags.passages[:-1], far], "duration_s": 99_999 * 3600.0 + 30})
    doc = build_document(SessionInputs(config.session("seance-2"), tags, None), config)
    timeline = next(c for c in doc.charts if c.kind == "timeline")
    assert len(timeline.table.header) <= 7 and len(timeline.data["ticks"]) <= 7
    assert timeline.table.header[1] == "00:00:00–16667:00:00"  # whole hours
    assert timeline_step(99_999 * 3600) == 16_667 * 3600
    assert chart_png(timeline).startswith(b"\x89PNG")


def test_heatmap_has_a_legend_and_readable_cell_text(cycle_out, config, tags):
    out, manifest = cycle_out
    assert {"cycle-sessions.png", "cycle-sessions-narrow.png"} <= set(manifest.charts)
    doc = build_cycle_document(config, [SessionInputs(config.session("seance-2"), tags, None)])
    heatmap = next(c for c in doc.charts if c.kind == "heatmap")
    assert heatmap.data["legend"] == "Part de la durée de la séance (%)"
    cmap = heat_colormap()
    for level in [i / 20 for i in range(21)]:
        background = cmap(level)
        colour = text_colour_on(background)
        fg = (1.0, 1.0, 1.0) if colour == "white" else tuple(int(INK[i:i + 2], 16) / 255 for i in (1, 3, 5))
        light, dark = sorted((_luminance(background), _luminance(fg)), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, level


def test_every_chart_has_a_narrow_drawing_for_phones(session_out):
    from PIL import Image

    out, _ = session_out
    for name in ("seance-2-themes", "seance-2-timeline"):
        wide, narrow = Image.open(out / f"{name}.png"), Image.open(out / f"{name}-narrow.png")
        assert narrow.width < 0.6 * wide.width
    page = (out / "seance-2.site.html").read_text(encoding="utf-8")  # the site's page; the download embeds it
    assert '<source media="(max-width: 40rem)" srcset="seance-2/seance-2-themes-narrow.png">' in page


def test_data_tables_scroll_in_a_labelled_box_with_a_hint(session_out):
    page = (session_out[0] / "seance-2.html").read_text(encoding="utf-8")
    boxes = re.findall(r'<div class="table-scroll" role="region" tabindex="0" aria-label="([^"]+)">', page)
    assert len(boxes) == page.count("<table") == 2
    assert all(label.startswith("Tableau défilant horizontalement") for label in boxes)
    assert page.count('class="scroll-hint"') == 2


def test_the_charts_show_the_time_without_a_theme_on_the_scale_of_the_whole_session(config, tags, transcript):
    from synthese.render import charts

    doc = build_document(SessionInputs(config.session("seance-2"), tags, transcript), config)
    share = next(c for c in doc.charts if c.kind == "share")
    total = tags.duration_s
    untagged = sum(p.end - p.start for p in tags.passages if not p.themes)
    assert share.data["labels"][-1] == "Sans thème" and share.data["values"][-1] == pytest.approx(untagged / total)
    assert "Sans thème" in share.alt
    timeline = next(c for c in doc.charts if c.kind == "timeline")
    assert timeline.data["labels"][-1] == "Sans thème" and timeline.table.rows[-1][0] == "Sans thème"
    # Drawn on a 0–100 % axis: a theme covering a sixth of the session takes a sixth of the bars' room.
    figure = charts.DRAWERS["share"](charts._pyplot(), share)
    try:
        left, right = figure.axes[0].get_xlim()
        assert left == 0 and right >= 1.0
        widths = [bar.get_width() for bar in figure.axes[0].patches]
        assert max(widths) <= 1.0 and sorted(widths) == sorted(share.data["values"])
    finally:
        charts._pyplot().close(figure)
    cycle = build_cycle_document(config, [SessionInputs(config.session("seance-2"), tags, None)])
    heatmap = next(c for c in cycle.charts if c.kind == "heatmap")
    assert heatmap.data["columns"][-1] == "Sans thème" and heatmap.table.header[-1] == "Sans thème"


def test_the_cycle_names_each_session_once_above_its_quotes(config, tags, transcript):
    session_2 = config.session("seance-2")
    session_3 = session_2.model_copy(update={"id": "seance-3", "number": 3, "title": "Instrumentation et données"})
    cycle = build_cycle_document(config, [SessionInputs(session_2, tags, transcript),
                                          SessionInputs(session_3, tags.model_copy(update={"session_id": "seance-3"}),
                                                        None)])
    for chapter in cycle.chapters:
        titles = [group.title for group in chapter.groups]
        assert titles == ["Séance 2 — Sobriété, matérialité et infrastructures", "Séance 3 — Instrumentation et données"]
        assert [e for g in chapter.groups for e in g.excerpts] == chapter.excerpts
        assert {e.session_id for e in chapter.groups[0].excerpts} == {"seance-2"}


def test_a_chapter_whose_quotes_await_checking_says_so(config, tags, transcript):
    from synthese.core.artefacts import HeldQuote

    theme = next(t for t, quotes in tags.excerpts.items() if quotes)
    quote = tags.excerpts[theme][0]
    held = tags.model_copy(update={
        "excerpts": {**tags.excerpts, theme: []},
        "held": [HeldQuote(theme=theme, passage=quote.passage, start=quote.start, end=quote.end, text=quote.text,
                           sentences=quote.sentences, doubtful=quote.sentences[:1], reasons=["unsure"])]})
    doc = build_document(SessionInputs(config.session("seance-2"), held, transcript), config)
    chapter = next(c for c in doc.chapters if c.id == theme)
    assert not chapter.excerpts and "attendent que leur transcription soit vérifiée" in chapter.no_excerpt


def test_the_annex_mends_the_recognisers_case_where_segments_meet(config, tags, transcript):
    segments = [s.model_copy(deep=True) for s in transcript.segments[:2]]
    segments[0].text, segments[1].text = "Il faut mesurer les climats,", "Et même les usages."
    segments[1].speaker = segments[0].speaker
    mended = transcript.model_copy(update={"segments": segments, "gaps": []})
    doc = build_document(SessionInputs(config.session("seance-2"), tags, mended), config)
    assert doc.annex[0].text.startswith("Il faut mesurer les climats, et même les usages.")
