"""The synthesis as a Word document (python-docx), laid out from the SynthesisDocument.

Word's built-in styles (Title, Heading 1–3, Quote, Caption) carry the structure, so the
navigation pane and Word's own table of contents work; the TOC field is refreshed by Word when
the file opens (w:updateFields) and lists the sections (level 1). Headings follow a regular
hierarchy (1, 2, 3, never a level skipped), so the navigation pane shows the whole outline.
Language is French (fr-FR) for spelling and hyphenation. Fonts are ones a Word user has
(Georgia, Arial); the PDF embeds its own. The file's properties (title, author, language, dates,
application) are the document's, not those of python-docx's template.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..core import limits
from ..core.typography import NBSP, NNBSP
from .document import Excerpt, IndexEntry, IndexRef, SynthesisDocument, Table

log = logging.getLogger(__name__)

LANGUAGE = "fr-FR"
INK = "1D2B3A"
MUTED = "5A6775"
ACCENT = "2B5D8A"
DRAFT = "8A2B1D"  # the draft mark's dark red
# Installed with Windows and macOS (and Office), so the document looks the same on any desk.
BODY_FONT = "Georgia"
HEADING_FONT = "Arial"
# The contents list the sections (Heading 1); the navigation pane shows every level.
TOC_LEVELS = "1-1"
# Column widths of the data tables: the first (theme or session names) takes this share of the
# text width, the others share the rest.
FIRST_COLUMN_SHARE = 0.34
TEXT_WIDTH_CM = 16.4  # A4 less the margins below
# Word's core properties (title, subject, keywords...) hold at most 255 characters each.
CORE_PROPERTY_CHARS = 255


def _qn(tag: str) -> str:
    from docx.oxml.ns import qn

    return qn(tag)


def _element(tag: str, **attributes: str):
    from docx.oxml import OxmlElement

    element = OxmlElement(tag)
    for key, value in attributes.items():
        element.set(_qn(key), value)
    return element


def _begin_field(paragraph, instruction: str) -> None:
    """Open a Word field (PAGE, TOC...): begin, instruction, separate; its cached result follows,
    then _end_field, in the same paragraph or a later one."""
    paragraph.add_run()._r.append(_element("w:fldChar", **{"w:fldCharType": "begin", "w:dirty": "true"}))
    instr = _element("w:instrText", **{"xml:space": "preserve"})
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    paragraph.add_run()._r.append(_element("w:fldChar", **{"w:fldCharType": "separate"}))


def _end_field(paragraph) -> None:
    paragraph.add_run()._r.append(_element("w:fldChar", **{"w:fldCharType": "end"}))


def _add_field(paragraph, instruction: str, placeholder: str = "") -> None:
    """A Word field within one paragraph, `placeholder` as its cached result."""
    _begin_field(paragraph, instruction)
    paragraph.add_run(placeholder)
    _end_field(paragraph)


def _add_toc(document, instruction: str, entries: list[str], note: str) -> None:
    """The table of contents as a Word TOC field whose cached result already lists the
    document's sections, one paragraph each, then `note`. Word rebuilds it with page numbers
    when the file opens (w:updateFields); LibreOffice and file previews, which do not, show the
    cached list instead of an empty contents page."""
    from docx.shared import Pt

    paragraphs = [document.add_paragraph() for _ in range(len(entries) + 1)]
    _begin_field(paragraphs[0], instruction)
    for paragraph, entry in zip(paragraphs, entries):
        paragraph.add_run(entry)
    _small(paragraphs[-1], note)
    for paragraph in paragraphs:
        paragraph.paragraph_format.space_after = Pt(3)
    _end_field(paragraphs[-1])


def _add_hyperlink(paragraph, url: str, text: str, size_pt: float | None = None) -> None:
    """A real w:hyperlink whose target is an external relationship of the document part."""
    from docx.opc.constants import RELATIONSHIP_TYPE

    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = _element("w:hyperlink", **{"r:id": r_id, "w:history": "1"})
    run = _element("w:r")
    properties = _element("w:rPr")
    properties.append(_element("w:rStyle", **{"w:val": "Hyperlink"}))
    if size_pt:
        properties.append(_element("w:sz", **{"w:val": str(round(size_pt * 2))}))
    run.append(properties)
    text_element = _element("w:t", **{"xml:space": "preserve"})
    text_element.text = text
    run.append(text_element)
    link.append(run)
    paragraph._p.append(link)


def _setup_styles(document) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, RGBColor

    styles = document.styles
    # Document default language: Word's proofing and hyphenation follow it.
    defaults = styles.element.find(_qn("w:docDefaults"))
    run_defaults = defaults.find(_qn("w:rPrDefault")).find(_qn("w:rPr"))
    for old in run_defaults.findall(_qn("w:lang")):
        run_defaults.remove(old)
    run_defaults.append(_element("w:lang", **{"w:val": LANGUAGE, "w:eastAsia": LANGUAGE, "w:bidi": "ar-SA"}))

    _fonts(run_defaults, BODY_FONT)
    normal = styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = Pt(10.5)
    normal.font.color.rgb = RGBColor.from_string(INK)
    normal.paragraph_format.space_after = Pt(6)
    normal.paragraph_format.line_spacing = 1.15
    for name, size in (("Title", 26), ("Subtitle", 12), ("Heading 1", 17), ("Heading 2", 12), ("Heading 3", 11),
                       ("Heading 4", 10), ("TOC Heading", 17)):
        style = styles[name]
        style.font.name = HEADING_FONT
        _fonts(style.element.get_or_add_rPr(), HEADING_FONT)
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor.from_string(ACCENT if name in ("Heading 2", "Heading 3") else INK)
        style.font.bold = name != "Subtitle"
        style.font.italic = False
    styles["Heading 1"].paragraph_format.space_before = Pt(0)
    styles["Heading 1"].paragraph_format.space_after = Pt(12)
    styles["Heading 1"].paragraph_format.page_break_before = True
    quote = styles["Quote"]
    quote.font.italic = False
    quote.font.color.rgb = RGBColor.from_string(INK)
    quote.paragraph_format.left_indent = Pt(14)
    quote.paragraph_format.space_before = Pt(10)
    quote.paragraph_format.space_after = Pt(2)
    quote.paragraph_format.keep_with_next = True
    # The contents' own title is not an entry of the contents.
    toc_heading = styles["TOC Heading"]
    toc_heading.paragraph_format.space_after = Pt(12)
    caption = styles["Caption"]
    caption.font.name = HEADING_FONT
    caption.font.size = Pt(8.5)
    caption.font.bold = False
    caption.font.italic = False
    caption.font.color.rgb = RGBColor.from_string(MUTED)
    if "Hyperlink" not in [s.name for s in styles]:
        link = styles.add_style("Hyperlink", WD_STYLE_TYPE.CHARACTER)
        link.font.color.rgb = RGBColor.from_string(ACCENT)
        link.font.underline = True


def _fonts(run_properties, font: str) -> None:
    """Every script of the run properties in one font (Word falls back per script otherwise)."""
    fonts = run_properties.find(_qn("w:rFonts"))
    if fonts is None:
        fonts = _element("w:rFonts")
        run_properties.insert(0, fonts)
    for attribute in list(fonts.attrib):
        if attribute.endswith("Theme"):
            del fonts.attrib[attribute]  # a theme font would win over the named one
    for script in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(_qn(script), font)


def _properties(document, doc: SynthesisDocument) -> None:
    """The file's properties: the document's own, not python-docx's template's (2013, 'python-docx',
    'Microsoft Macintosh Word')."""
    import datetime as dt

    from .. import __version__

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    properties = document.core_properties
    for name, value in (("title", doc.document_title), ("subject", doc.cycle_title), ("author", doc.author),
                        ("last_modified_by", doc.author), ("keywords", ", ".join(c.label for c in doc.chapters)),
                        ("comments", doc.kicker), ("category", doc.document_kind)):
        setattr(properties, name, limits.truncate(value, CORE_PROPERTY_CHARS))
    properties.language = LANGUAGE
    properties.created = properties.modified = now
    properties.revision = 1
    properties.content_status = doc.review.mark or doc.wording["review_mark"]["approved_status"]
    properties.identifier = doc.stem
    properties.version = __version__
    _custom_properties(document, doc.metadata)
    app = next((part for part in document.part.package.iter_parts()
                if str(part.partname) == "/docProps/app.xml"), None)
    if app is not None:
        from xml.sax.saxutils import escape

        app._blob = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            f"<Application>Synthèse {escape(__version__)}</Application><DocSecurity>0</DocSecurity>"
            f"<ScaleCrop>false</ScaleCrop><Company>{escape(doc.organiser)}</Company>"
            "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
            "<HyperlinksChanged>false</HyperlinksChanged></Properties>").encode()


def _custom_properties(document, values: dict[str, str]) -> None:
    """Word's custom document properties (File > Properties > Custom): docProps/custom.xml."""
    from xml.sax.saxutils import escape

    from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    package = document.part.package
    items = "".join(
        f'<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}" name="{escape(name, {chr(34): "&quot;"})}">'
        f"<vt:lpwstr>{escape(limits.truncate(value, CORE_PROPERTY_CHARS))}</vt:lpwstr></property>"
        for pid, (name, value) in enumerate(values.items(), start=2))
    blob = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            f"{items}</Properties>").encode()
    part = Part(PackURI("/docProps/custom.xml"), CONTENT_TYPE.OFC_CUSTOM_PROPERTIES, blob, package)
    package.relate_to(part, RELATIONSHIP_TYPE.CUSTOM_PROPERTIES)


def _settings(document) -> None:
    """Ask Word to update fields (the TOC, page numbers) when the file opens."""
    settings = document.settings.element
    for old in settings.findall(_qn("w:updateFields")):
        settings.remove(old)
    settings.append(_element("w:updateFields", **{"w:val": "true"}))


def _page_setup(document, doc: SynthesisDocument) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.top_margin = section.bottom_margin = Cm(2.4)
    section.left_margin = section.right_margin = Cm(2.3)
    section.different_first_page_header_footer = True  # no header or number on the title page
    header = section.header.paragraphs[0]
    header.text = doc.running_title
    header.runs[0].font.size = Pt(7.5)
    if doc.review.draft:
        # A draft says so at the top of every page, the title page included.
        for paragraph in (header, section.first_page_header.paragraphs[0]):
            if paragraph.text:
                paragraph.add_run(" · ").font.size = Pt(7.5)
            _small(paragraph, doc.review.mark.upper(), bold=True, colour=DRAFT, size=7.5)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _add_field(footer, "PAGE", "1")


def _small(paragraph, text: str, *, bold: bool = False, colour: str = MUTED, size: float = 9):
    from docx.shared import Pt, RGBColor

    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = RGBColor.from_string(colour)
    return run


def _title_page(document, doc: SynthesisDocument, image_dir: Path) -> None:
    from docx.enum.text import WD_BREAK
    from docx.shared import Cm, Pt

    w = doc.wording
    if doc.review.draft:
        banner = document.add_paragraph()
        _small(banner, doc.review.mark.upper() + "\n", bold=True, colour=DRAFT, size=11)
        _small(banner, doc.review.note, colour=INK, size=9.5)
        _border(banner, DRAFT)
    if doc.publication.logo and (image_dir / doc.publication.logo).is_file():
        document.add_picture(str(image_dir / doc.publication.logo), height=Cm(1.8))
        inline = document.inline_shapes[-1]._inline
        inline.docPr.set("descr", doc.publication.logo_alt)
        inline.docPr.set("title", doc.publication.logo_alt[:120])
    cycle = document.add_paragraph()
    _small(cycle, doc.cycle_title.upper(), bold=True, colour=ACCENT, size=13)
    if doc.cycle_subtitle:
        _small(document.add_paragraph(), doc.cycle_subtitle, size=10.5)
    kind = document.add_paragraph()
    kind.paragraph_format.space_before = Pt(90)
    session_part = doc.kicker.split(" · ")[-1] if doc.kind == "session" and doc.kicker != doc.cycle_title else ""
    _small(kind, (doc.document_kind + (f" · {session_part}" if session_part else "")).upper(), size=11)
    document.add_paragraph(doc.title, style="Title")
    if doc.date:
        date = document.add_paragraph()
        date.add_run(doc.date + (f" · {doc.duration}" if doc.duration else "")).font.size = Pt(12)
    if doc.description:
        description = document.add_paragraph()
        run = description.add_run(doc.description)
        run.italic = True
    if doc.speakers:
        label = document.add_paragraph()
        label.paragraph_format.space_before = Pt(14)
        _small(label, (doc.speakers_label or w["speakers"]).upper(), size=8.5)
        for person in doc.speakers:
            line = document.add_paragraph()
            line.paragraph_format.space_after = Pt(2)
            line.add_run(person.name).bold = True
            if person.affiliation:
                line.add_run("\n")
                _small(line, person.affiliation)
    if doc.replay_url:
        replay = document.add_paragraph()
        replay.paragraph_format.space_before = Pt(14)
        _small(replay, f"{w['replay']}{NBSP}: ")
        _add_hyperlink(replay, doc.replay_url, doc.replay_url)
    organiser = document.add_paragraph()
    organiser.paragraph_format.space_before = Pt(14)
    _small(organiser, w["organiser"].upper() + "\n", size=8.5)
    organiser.add_run(doc.organiser)
    if doc.publication.date:
        _small(organiser, "\n" + w["published"].format(date=doc.publication.date))
    organiser.add_run().add_break(WD_BREAK.PAGE)


def _border(paragraph, colour: str) -> None:
    """A box around the paragraph (the draft's banner), in `colour`."""
    borders = _element("w:pBdr")
    for side in ("top", "left", "bottom", "right"):
        borders.append(_element(f"w:{side}", **{"w:val": "single", "w:sz": "12", "w:space": "6",
                                                "w:color": colour}))
    paragraph._p.get_or_add_pPr().append(borders)


def _table(document, table: Table) -> None:
    """A data table: header row repeated on every page, rows kept whole, columns sized to their
    content (names wide, numbers narrow)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    document.add_paragraph(table.caption, style="Caption").paragraph_format.keep_with_next = True
    columns = len(table.header)
    grid = document.add_table(rows=1, cols=columns)
    grid.style = "Table Grid"
    grid.autofit = False
    first = TEXT_WIDTH_CM * FIRST_COLUMN_SHARE if columns > 1 else TEXT_WIDTH_CM
    widths = [Cm(first)] + [Cm((TEXT_WIDTH_CM - first) / max(1, columns - 1))] * (columns - 1)
    for i, text in enumerate(table.header):
        cell = grid.rows[0].cells[i]
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
        if i >= table.numeric_from:
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for row in table.rows:
        cells = grid.add_row().cells
        for i, text in enumerate(row):
            cells[i].text = text
            if i >= table.numeric_from:
                cells[i].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    header = grid.rows[0]._tr.get_or_add_trPr()
    header.append(_element("w:tblHeader", **{"w:val": "true"}))
    for row in grid.rows:
        row._tr.get_or_add_trPr().append(_element("w:cantSplit", **{"w:val": "true"}))
        for cell, width in zip(row.cells, widths):
            cell.width = width
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.space_after = Pt(0)
                for run in paragraph.runs:
                    run.font.size = Pt(8.5)
                    run.font.name = HEADING_FONT
    for column, width in zip(grid.columns, widths):
        column.width = width
    document.add_paragraph()


def _mark_language(paragraph, lang: str, runs=None) -> None:
    """Runs said in another language than the document's carry it (Word's proofing, screen
    readers' voices); `runs`: only those of the paragraph."""
    if not lang:
        return
    for run in runs if runs is not None else paragraph.runs:
        properties = run._r.get_or_add_rPr()
        properties.append(_element("w:lang", **{"w:val": lang}))


def _excerpt(document, excerpt: Excerpt) -> None:
    from docx.shared import Pt

    _mark_language(document.add_paragraph(excerpt.text, style="Quote"), excerpt.lang)
    source = document.add_paragraph(style="Caption")
    source.paragraph_format.left_indent = document.styles["Quote"].paragraph_format.left_indent
    source.paragraph_format.space_after = Pt(8)
    source.add_run(excerpt.speaker).bold = True
    if excerpt.affiliation:
        source.add_run(f", {excerpt.affiliation}")
    source.add_run(" · ")
    if excerpt.link:
        _add_hyperlink(source, excerpt.link, excerpt.timestamp)
    else:
        source.add_run(excerpt.timestamp)


def _source(paragraph, excerpt: Excerpt, *, speaker: bool = True, session: bool = False) -> None:
    """After a sentence said: who said it (and in which session), and its moment, a link."""
    paragraph.add_run(" ")
    if speaker:
        _small(paragraph, excerpt.speaker, bold=True, colour=INK, size=8.5)
        _small(paragraph, " · ", size=8.5)
    if session and excerpt.session_label:
        _small(paragraph, f"{excerpt.session_label} · ", size=8.5)
    if excerpt.link:
        _add_hyperlink(paragraph, excerpt.link, excerpt.timestamp, size_pt=8.5)
    else:
        _small(paragraph, excerpt.timestamp, size=8.5)


def _said(document, excerpt: Excerpt, style: str = "List Bullet", *, label: str = "", speaker: bool = True,
          session: bool = False):
    """A sentence said as a list item (or a paragraph of `style`), with its source."""
    from docx.shared import Pt

    item = document.add_paragraph(style=style)
    item.paragraph_format.space_after = Pt(4)
    if label:
        item.add_run(f"{label}{NBSP}: ").bold = True
    if excerpt.held:
        _small(item, excerpt.text, size=10).italic = True
    else:
        _mark_language(item, excerpt.lang, [item.add_run(excerpt.text)])
    _source(item, excerpt, speaker=speaker, session=session)
    return item


def _refs(paragraph, refs: list[IndexRef], label: str) -> None:
    """' (Voir : 00:12:34, 00:15:02)': the moments, each a link to the replay."""
    if not refs:
        return
    _small(paragraph, f" ({label}{NBSP}: ", size=8.5)
    for i, ref in enumerate(refs):
        if i:
            _small(paragraph, ", ", size=8.5)
        if ref.link:
            _add_hyperlink(paragraph, ref.link, ref.label, size_pt=8.5)
        else:
            _small(paragraph, ref.label, size=8.5)
    _small(paragraph, ")", size=8.5)


def _key_points(document, points: list[Excerpt], title: str) -> None:
    """The key sentences as a list, each with who said it and a link to the moment."""
    document.add_heading(title, level=2)
    for point in points:
        _said(document, point)


def _key_messages(document, doc: SynthesisDocument) -> None:
    """« À retenir »: the messages staff wrote, with the moments they rest on; else the proposals."""
    messages = doc.key_messages
    if messages is None:
        return
    document.add_heading(messages.title, level=1)
    if messages.subtitle:
        document.add_heading(messages.subtitle, level=2)
    if messages.note:
        _small(document.add_paragraph(), messages.note)
    for message in messages.messages:
        if message.excerpt is not None:
            _said(document, message.excerpt, "List Number")
            continue
        item = document.add_paragraph(style="List Number")
        item.add_run(message.text)
        _refs(item, message.refs, doc.wording["key_message_passages"])


def _speakers(document, doc: SynthesisDocument) -> None:
    """« Les intervenants »: a paragraph for each named voice."""
    from docx.shared import Pt

    if not doc.speaker_paragraphs:
        return
    w = doc.wording
    document.add_heading(w["speakers_section"], level=1)
    _small(document.add_paragraph(), w["speakers_intro"])
    for speaker in doc.speaker_paragraphs:
        document.add_heading(speaker.name, level=2)
        if speaker.affiliation:
            _small(document.add_paragraph(), speaker.affiliation).italic = True
        if speaker.presentation:
            document.add_paragraph(speaker.presentation)
        details = document.add_paragraph()
        details.paragraph_format.space_after = Pt(2)
        _small(details, speaker.details + (f". {speaker.themes}" if speaker.themes else ""))
        for quote in speaker.quotes:
            _said(document, quote, speaker=False)
        if not speaker.quotes:
            _small(document.add_paragraph(), w["speaker_no_quote"])


def _exchanges(document, doc: SynthesisDocument) -> None:
    from docx.shared import Pt

    exchanges = doc.exchanges
    if exchanges is None:
        return
    w = doc.wording
    document.add_heading(w["exchanges_title"], level=1)
    _small(document.add_paragraph(), exchanges.note)
    for item in exchanges.items:
        question = _said(document, item.question, "Normal", label=w["question"])
        question.paragraph_format.keep_with_next = True
        question.paragraph_format.space_before = Pt(8)
        if item.answer is not None:
            _said(document, item.answer, "Normal", label=w["answer"])
        else:
            _small(document.add_paragraph(), w["no_answer"])


def _cycle_sections(document, doc: SynthesisDocument, *, before_chapters: bool) -> None:
    """The cycle's own sections: before the chapters, the theme × session table, the ideas that
    recur and the tensions; after them, one section per transversal axis."""
    w = doc.wording
    if before_chapters:
        if doc.theme_table is not None:
            document.add_heading(w["theme_table_title"], level=1)
            document.add_paragraph(w["theme_table_intro"])
            _table(document, doc.theme_table)
        if doc.shows_recurring:
            document.add_heading(w["recurring_title"], level=1)
            _small(document.add_paragraph(), w["recurring_intro"] if doc.recurring else w["recurring_none"])
            for idea in doc.recurring:
                for position, excerpt in enumerate(idea.excerpts):
                    item = _said(document, excerpt, "List Number" if position == 0 else "List Bullet 2", session=True)
                    if position == 0:
                        item.paragraph_format.keep_with_next = True
        if doc.tensions:
            document.add_heading(w["tensions_title"], level=1)
            _small(document.add_paragraph(), w["tensions_intro"])
            for tension in doc.tensions:
                item = document.add_paragraph(style="List Bullet")
                item.add_run(tension.text)
                _refs(item, tension.refs, w["key_message_passages"])
        return
    if doc.axes:
        document.add_heading(w["axes_title"], level=1)
        _small(document.add_paragraph(), w["axes_intro"])
        for axis in doc.axes:
            document.add_heading(axis.label, level=2)
            if axis.description:
                document.add_paragraph().add_run(axis.description).italic = True
            if axis.summary:
                _small(document.add_paragraph(), axis.summary)
            for group in axis.groups:
                document.add_heading(group.title, level=3)
                for excerpt in group.excerpts:
                    _excerpt(document, excerpt)
            if axis.empty:
                _small(document.add_paragraph(), axis.empty)


def _codebook(document, doc: SynthesisDocument) -> None:
    """The themes (and axes), described once."""
    if not doc.codebook:
        return
    w = doc.wording
    document.add_heading(w["codebook_title"], level=1)
    _small(document.add_paragraph(), w["codebook_intro"])
    for title, entries in (("", doc.codebook), (w["codebook_axes"], doc.codebook_axes)):
        if title and entries:
            document.add_heading(title, level=2)
        for entry in entries:
            label = document.add_paragraph()
            label.paragraph_format.keep_with_next = True
            label.paragraph_format.space_after = 0
            label.add_run(entry.label).bold = True
            if entry.description:
                document.add_paragraph(entry.description)
            if entry.subthemes:
                line = document.add_paragraph()
                _small(line, f"{w['subthemes']}{NBSP}: ", bold=True, colour=INK)
                _small(line, f"{NNBSP}; ".join(entry.subthemes), colour=INK)


def _index_entry(document, entry: IndexEntry) -> None:
    """A name (or a reference) in bold, then the moments it is said, each a link to the replay."""
    line = document.add_paragraph()
    line.paragraph_format.space_after = 0
    line.add_run(entry.name).bold = True
    line.add_run(" ")
    for i, ref in enumerate(entry.refs):
        if i:
            line.add_run(", ")
        if ref.link:
            _add_hyperlink(line, ref.link, ref.label)
        else:
            line.add_run(ref.label)


def _picture(document, path: Path, alt: str) -> None:
    from docx.shared import Cm

    document.add_picture(str(path), width=Cm(16.0))
    inline = document.inline_shapes[-1]._inline
    inline.docPr.set("descr", alt)  # alt text, read by screen readers
    inline.docPr.set("title", alt[:120])


def write_docx(doc: SynthesisDocument, target: Path, image_dir: Path) -> None:
    """Write the document as DOCX at `target`; chart PNGs are read from `image_dir`.

    XML cannot hold control characters: they are removed from every text here, whatever the
    importers let through (a hand-edited tags file, say).
    """
    from docx import Document

    doc = limits.xml_safe(doc)
    w = doc.wording
    document = Document()
    _setup_styles(document)
    _settings(document)
    _page_setup(document, doc)
    _properties(document, doc)

    _title_page(document, doc, image_dir)

    # The contents' title in Word's own style for it: not a heading, so not an entry.
    contents_title = document.add_paragraph(w["toc"], style="TOC Heading")
    contents_title.paragraph_format.page_break_before = False
    _add_toc(document, f'TOC \\o "{TOC_LEVELS}" \\h \\z \\u', [entry.title for entry in doc.toc],
             w["toc_placeholder"])

    if doc.introduction:
        document.add_heading(w["introduction"], level=1)
        for paragraph in doc.introduction:
            document.add_paragraph(paragraph)
    _key_messages(document, doc)

    document.add_heading(w["overview"], level=1)
    for paragraph in doc.overview:
        document.add_paragraph(paragraph)
    for session in doc.sessions:
        line = document.add_paragraph(style="List Bullet")
        line.add_run(session.label).bold = True
        line.add_run(f" {session.title}" + (f" ({session.date})" if session.date else ""))
        if session.draft:
            _small(line, f" ({session.draft})", colour=DRAFT, size=10.5).italic = True
    for chart in doc.charts:
        document.add_heading(chart.title, level=2)
        _picture(document, image_dir / chart.image, chart.alt)
        document.add_paragraph(chart.caption, style="Caption")
        _table(document, chart.table)

    _speakers(document, doc)
    _cycle_sections(document, doc, before_chapters=True)

    for chapter in doc.chapters:
        heading = document.add_heading(f"{chapter.number}. {chapter.label}", level=1)
        if chapter.brief:  # on the page of the chapter before, as in the PDF
            heading.paragraph_format.page_break_before = False
        _small(document.add_paragraph(), chapter.summary)
        if chapter.table is not None:
            _table(document, chapter.table)
        if chapter.key_terms:
            line = document.add_paragraph()
            _small(line, f"{w['key_terms']}{NBSP}: ", bold=True, colour=INK)
            _small(line, ", ".join(chapter.key_terms), colour=INK)
        if chapter.key_points:
            _key_points(document, chapter.key_points, w["key_points"])
        # Levels 2 and 3 under the chapter: the contents list level 1 only, so the headings every
        # chapter repeats stay out of them.
        document.add_heading(w["excerpts"], level=2)
        for group in chapter.groups:
            if group.title:
                document.add_heading(group.title, level=3)
            for excerpt in group.excerpts:
                _excerpt(document, excerpt)
        if not chapter.excerpts:
            document.add_paragraph(chapter.no_excerpt or w["no_excerpt"])

    _cycle_sections(document, doc, before_chapters=False)
    _exchanges(document, doc)

    if doc.index:
        document.add_heading(w["index"], level=1)
        _small(document.add_paragraph(), w["index_intro"])
        for index_group in doc.index:
            document.add_heading(index_group.title, level=2)
            for entry in index_group.entries:
                _index_entry(document, entry)

    if doc.references:
        document.add_heading(w["references"], level=1)
        _small(document.add_paragraph(), w["references_intro"])
        for entry in doc.references:
            _index_entry(document, entry)

    if doc.glossary:
        document.add_heading(w["glossary"], level=1)
        _small(document.add_paragraph(), w["glossary_intro"])
        for item in doc.glossary:
            line = document.add_paragraph()
            line.paragraph_format.space_after = 0
            line.add_run(item.term).bold = True
            line.add_run(f"{NBSP}: {item.expansion}")

    _codebook(document, doc)

    if doc.annex:
        document.add_heading(w["annex"], level=1)
        _small(document.add_paragraph(), w["annex_intro"])
        for turn in doc.annex:
            if turn.gap:
                _small(document.add_paragraph(), turn.text).italic = True
                continue
            meta = document.add_paragraph()
            meta.paragraph_format.space_after = 0
            meta.paragraph_format.keep_with_next = True
            if turn.link:
                _add_hyperlink(meta, turn.link, turn.timestamp)
            else:
                _small(meta, turn.timestamp)
            _small(meta, f"  {turn.speaker}", bold=True, colour=INK)
            _mark_language(document.add_paragraph(turn.text), turn.lang)

    document.add_heading(w["colophon"], level=1)
    for colophon_line in doc.colophon:
        _small(document.add_paragraph(), colophon_line, colour=INK)
    publication = doc.publication
    for label, text, link in ((w["licence"], publication.licence, publication.licence_url),
                              (w["citation"], publication.citation, None),
                              (w["contact"], publication.contact, publication.contact_url)):
        if text:
            line = document.add_paragraph()
            _small(line, f"{label}{NBSP}: ", colour=INK)
            if link:
                _add_hyperlink(line, link, text)
            else:
                _small(line, text, colour=INK)

    document.save(str(target))


class DocxWriter:
    extension = "docx"

    def write(self, doc: SynthesisDocument, target: Path, assets_dir: Path, templates, html: str) -> None:
        write_docx(doc, target, assets_dir)
