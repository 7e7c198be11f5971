"""The synthesis as an OpenDocument text (.odt, odfpy), laid out from the SynthesisDocument.

The open format next to Word's, for the offices and readers that use LibreOffice or are asked
for an open standard. It follows the DOCX writer part for part: the same headings (named styles
« Heading 1 »… with their outline levels, so the navigator and the table of contents work), the
same quotes (« Quotations »), links to the replay, charts with their alt text and their tables,
French as the language of every paragraph (a passage said in English marked so), the draft's
mark in the header of every page and in the file's properties. Fonts are the DOCX's (Georgia,
Arial), which LibreOffice replaces by metric-compatible ones where they are missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import limits
from ..core.typography import NBSP, NNBSP
from .document import Excerpt, IndexEntry, IndexRef, SynthesisDocument, Table

if TYPE_CHECKING:
    from odf.opendocument import OpenDocument

log = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.oasis.opendocument.text"
INK = "#1d2b3a"
MUTED = "#5a6775"
ACCENT = "#2b5d8a"
DRAFT = "#8a2b1d"
BODY_FONT = "Georgia"
HEADING_FONT = "Arial"
TEXT_WIDTH_CM = 16.4
CHART_WIDTH_CM = 16.0
LOGO_HEIGHT_CM = 1.8
FIRST_COLUMN_SHARE = 0.34
# The contents list the sections (level 1), as the DOCX's; the navigator shows every level.
TOC_LEVELS = 1


class _Styles:
    """The document's named and automatic styles, created once."""

    def __init__(self, odt: OpenDocument) -> None:
        from odf.style import (
            DefaultStyle,
            FontFace,
            GraphicProperties,
            ParagraphProperties,
            Style,
            TableCellProperties,
            TableColumnProperties,
            TableProperties,
            TextProperties,
        )

        self.odt = odt
        self._Style, self._TextProperties = Style, TextProperties
        self._columns: dict[str, object] = {}
        self._languages: dict[str, object] = {}
        for name, generic in ((BODY_FONT, "roman"), (HEADING_FONT, "swiss")):
            odt.fontfacedecls.addElement(FontFace(name=name, fontfamily=name, fontfamilygeneric=generic,
                                                  fontpitch="variable"))
        # Every paragraph is French unless it says otherwise (proofing, hyphenation, screen readers).
        default = DefaultStyle(family="paragraph")
        default.addElement(TextProperties(language="fr", country="FR", fontname=BODY_FONT, fontsize="10.5pt",
                                          color=INK))
        odt.styles.addElement(default)

        def paragraph(name: str, display: str, *, parent: str | None = None, text: dict | None = None,
                      para: dict | None = None, outline: int | None = None, automatic: bool = False):
            options = {"name": name, "displayname": display, "family": "paragraph"}
            if parent:
                options["parentstylename"] = parent
            if outline:
                options["defaultoutlinelevel"] = str(outline)
            style = Style(**options)
            if para:
                style.addElement(ParagraphProperties(**para))
            if text:
                style.addElement(TextProperties(**text))
            (odt.automaticstyles if automatic else odt.styles).addElement(style)
            return style

        self.standard = paragraph("Standard", "Standard", para={"marginbottom": "0.2cm", "lineheight": "115%"})
        self.body = paragraph("Text_20_body", "Text body", parent="Standard")
        heading = {"fontname": HEADING_FONT, "fontweight": "bold", "color": INK}
        self.heading = paragraph("Heading", "Heading", parent="Standard", text=heading,
                                 para={"margintop": "0.4cm", "marginbottom": "0.2cm", "keepwithnext": "always"})
        self.headings = {
            1: paragraph("Heading_20_1", "Heading 1", parent="Heading", outline=1,
                         text={**heading, "fontsize": "17pt"}, para={"breakbefore": "page", "marginbottom": "0.4cm"}),
            2: paragraph("Heading_20_2", "Heading 2", parent="Heading", outline=2,
                         text={**heading, "fontsize": "12pt", "color": ACCENT}),
            3: paragraph("Heading_20_3", "Heading 3", parent="Heading", outline=3,
                         text={**heading, "fontsize": "11pt", "color": ACCENT}),
            4: paragraph("Heading_20_4", "Heading 4", parent="Heading", outline=4,
                         text={**heading, "fontsize": "10pt"}),
        }
        self.title = paragraph("Title", "Title", parent="Heading",
                               text={**heading, "fontsize": "26pt"}, para={"margintop": "0.2cm"})
        self.contents_heading = paragraph("Contents_20_Heading", "Contents Heading", parent="Heading",
                                          text={**heading, "fontsize": "17pt"})
        self.contents = paragraph("Contents_20_1", "Contents 1", parent="Standard", para={"marginbottom": "0.1cm"})
        self.quote = paragraph("Quotations", "Quotations", parent="Standard",
                               para={"marginleft": "0.5cm", "margintop": "0.35cm", "marginbottom": "0.07cm",
                                     "keepwithnext": "always"})
        self.caption = paragraph("Caption", "Caption", parent="Standard",
                                 text={"fontname": HEADING_FONT, "fontsize": "8.5pt", "color": MUTED})
        self.source = paragraph("Quote_20_source", "Quote source", parent="Caption",
                                para={"marginleft": "0.5cm", "marginbottom": "0.3cm"})
        self.list_item = paragraph("List_20_Bullet", "List Bullet", parent="Standard",
                                   para={"marginleft": "0.6cm", "textindent": "-0.4cm", "marginbottom": "0.12cm"})
        self.small = paragraph("Small", "Small", parent="Standard", text={"fontsize": "9pt", "color": MUTED})
        self.banner = paragraph("Draft_20_banner", "Draft banner", parent="Standard",
                                para={"border": f"1.5pt solid {DRAFT}", "padding": "0.2cm", "marginbottom": "0.4cm"})
        self.header = paragraph("Header", "Header", parent="Standard", text={"fontsize": "7.5pt", "color": MUTED})
        self.footer = paragraph("Footer", "Footer", parent="Standard", para={"textalign": "end"},
                                text={"fontsize": "8pt", "color": MUTED})
        self.table_text = paragraph("Table_20_Contents", "Table Contents", parent="Standard",
                                    text={"fontname": HEADING_FONT, "fontsize": "8.5pt"}, para={"marginbottom": "0cm"})
        self.table_number = paragraph("P_number", "P_number", parent="Table_20_Contents",
                                      para={"textalign": "end"}, automatic=True)
        self.table_heading = paragraph("Table_20_Heading", "Table Heading", parent="Table_20_Contents",
                                       text={"fontweight": "bold"})
        self.page_break = paragraph("P_break", "P_break", parent="Standard", para={"breakafter": "page"},
                                    automatic=True)

        def text(name: str, **properties):
            style = Style(name=name, family="text")
            style.addElement(TextProperties(**properties))
            odt.automaticstyles.addElement(style)
            return style

        self.bold = text("T_bold", fontweight="bold")
        self.italic = text("T_italic", fontstyle="italic")
        self.muted = text("T_muted", fontsize="9pt", color=MUTED)
        self.muted_bold = text("T_muted_bold", fontsize="9pt", color=INK, fontweight="bold")
        self.label = text("T_label", fontsize="8.5pt", color=MUTED)
        self.cycle = text("T_cycle", fontsize="13pt", fontweight="bold", color=ACCENT)
        self.draft = text("T_draft", fontweight="bold", color=DRAFT)
        self.link = Style(name="Internet_20_link", displayname="Internet link", family="text")
        self.link.addElement(TextProperties(color=ACCENT, textunderlinestyle="solid", textunderlinewidth="auto",
                                            textunderlinecolor="font-color"))
        odt.styles.addElement(self.link)

        self.table = Style(name="Tbl", family="table")
        self.table.addElement(TableProperties(width=f"{TEXT_WIDTH_CM}cm", align="left"))
        odt.automaticstyles.addElement(self.table)
        self.cell = Style(name="Tbl_cell", family="table-cell")
        self.cell.addElement(TableCellProperties(padding="0.06cm", borderbottom="0.5pt solid #d5dbe1"))
        odt.automaticstyles.addElement(self.cell)
        self._TableColumnProperties = TableColumnProperties
        self.frame = Style(name="Fr_image", family="graphic")
        self.frame.addElement(GraphicProperties(anchortype="as-char", verticalpos="top", verticalrel="baseline"))
        odt.automaticstyles.addElement(self.frame)

    def column(self, width_cm: float):
        """A table column's automatic style of that width (one per width)."""
        key = f"{width_cm:.2f}"
        if key not in self._columns:
            style = self._Style(name=f"Tbl_col_{len(self._columns) + 1}", family="table-column")
            style.addElement(self._TableColumnProperties(columnwidth=f"{width_cm:.2f}cm"))
            self.odt.automaticstyles.addElement(style)
            self._columns[key] = style
        return self._columns[key]

    def language(self, lang: str):
        """A text style for a passage said in another language than the document's."""
        if lang not in self._languages:
            style = self._Style(name=f"T_lang_{lang}", family="text")
            style.addElement(self._TextProperties(language=lang, country="none"))
            self.odt.automaticstyles.addElement(style)
            self._languages[lang] = style
        return self._languages[lang]


class _Writer:
    """The document's body, paragraph by paragraph."""

    def __init__(self, odt, styles: _Styles):
        from odf import text

        self.odt, self.s, self.text = odt, styles, text

    def add(self, element):
        self.odt.text.addElement(element)
        return element

    def paragraph(self, content: str = "", style=None, lang: str = ""):
        paragraph = self.text.P(stylename=style or self.s.body)
        if content:
            self.span(paragraph, content, self.s.language(lang) if lang else None)
        return self.add(paragraph)

    def span(self, parent, content: str, style=None):
        if style is None:
            parent.addText(content)
        else:
            parent.addElement(self.text.Span(stylename=style, text=content))
        return parent

    def link(self, parent, url: str, content: str, style=None):
        anchor = self.text.A(type="simple", href=url, stylename=self.s.link, visitedstylename=self.s.link)
        self.span(anchor, content, style)
        parent.addElement(anchor)
        return parent

    def heading(self, content: str, level: int, anchor: str = ""):
        heading = self.text.H(outlinelevel=level, stylename=self.s.headings[level])
        if anchor:  # the target of the contents' links (#anchor), as in the HTML
            heading.addElement(self.text.Bookmark(name=anchor))
        heading.addText(content)
        return self.add(heading)

    def picture(self, path: Path, alt: str, *, width_cm: float | None = None, height_cm: float | None = None):
        """An image, embedded in the package, with its alt text (svg:title, svg:desc)."""
        from odf.draw import Frame, Image
        from odf.svg import Desc
        from odf.svg import Title as SvgTitle

        width_px, height_px = _image_size(path)
        if width_cm is None:
            width_cm = (height_cm or 1.0) * width_px / max(1, height_px)
        if height_cm is None:
            height_cm = width_cm * height_px / max(1, width_px)
        href = self.odt.addPicture(str(path))
        frame = Frame(stylename=self.s.frame, width=f"{width_cm:.2f}cm", height=f"{height_cm:.2f}cm",
                      anchortype="as-char", name=path.stem)
        frame.addElement(Image(href=href, type="simple", show="embed", actuate="onLoad"))
        frame.addElement(SvgTitle(text=limits.truncate(alt, 120)))
        frame.addElement(Desc(text=alt))
        paragraph = self.text.P(stylename=self.s.body)
        paragraph.addElement(frame)
        return self.add(paragraph)

    def table(self, table: Table) -> None:
        from odf.table import Table as OdfTable
        from odf.table import TableCell, TableColumn, TableHeaderRows, TableRow

        self.paragraph(table.caption, self.s.caption)
        columns = len(table.header)
        first = TEXT_WIDTH_CM * FIRST_COLUMN_SHARE if columns > 1 else TEXT_WIDTH_CM
        widths = [first] + [(TEXT_WIDTH_CM - first) / max(1, columns - 1)] * (columns - 1)
        grid = OdfTable(name=limits.truncate(table.caption, 60) or "Tableau", stylename=self.s.table)
        for width in widths:
            grid.addElement(TableColumn(stylename=self.s.column(width)))

        def row(cells: list[str], heading: bool) -> TableRow:
            line = TableRow()
            for index, content in enumerate(cells):
                cell = TableCell(valuetype="string", stylename=self.s.cell)
                style = self.s.table_heading if heading else (
                    self.s.table_number if index >= table.numeric_from else self.s.table_text)
                cell.addElement(self.text.P(stylename=style, text=content))
                line.addElement(cell)
            return line

        header = TableHeaderRows()  # repeated on every page the table runs over
        header.addElement(row(table.header, True))
        grid.addElement(header)
        for cells in table.rows:
            grid.addElement(row(cells, False))
        self.add(grid)
        self.paragraph()


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _metadata(odt, doc: SynthesisDocument) -> None:
    """The file's properties: title, subject, language, author, keywords, dates, and the review
    state and provenance as user-defined properties (File > Properties > Custom Properties)."""
    from odf import dc, meta

    # (odfpy writes its own meta:generator; the tool that made the document is the user-defined
    # property "Generator", as in the other formats.)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat()
    odt.meta.addElement(dc.Title(text=doc.document_title))
    odt.meta.addElement(dc.Subject(text=doc.cycle_title))
    odt.meta.addElement(dc.Description(text=doc.kicker))
    odt.meta.addElement(dc.Language(text="fr-FR"))
    odt.meta.addElement(meta.InitialCreator(text=doc.author))
    odt.meta.addElement(dc.Creator(text=doc.author))
    odt.meta.addElement(meta.CreationDate(text=now))
    odt.meta.addElement(dc.Date(text=now))
    for chapter in doc.chapters:
        odt.meta.addElement(meta.Keyword(text=chapter.label))
    for name, value in doc.metadata.items():
        odt.meta.addElement(meta.UserDefined(name=name, valuetype="string", text=value))


def _page(odt, styles: _Styles, doc: SynthesisDocument) -> None:
    """A4, the running title in the header (with the draft's mark), the page number in the footer."""
    from odf.style import Footer, Header, MasterPage, PageLayout, PageLayoutProperties
    from odf.text import P, PageNumber, Span

    layout = PageLayout(name="Page_A4")
    layout.addElement(PageLayoutProperties(pagewidth="21cm", pageheight="29.7cm", printorientation="portrait",
                                           margintop="2.4cm", marginbottom="2.4cm", marginleft="2.3cm",
                                           marginright="2.3cm"))
    odt.automaticstyles.addElement(layout)
    master = MasterPage(name="Standard", pagelayoutname=layout)
    header = Header()
    line = P(stylename=styles.header, text=doc.running_title)
    if doc.review.draft:
        line.addText(" · " if doc.running_title else "")
        line.addElement(Span(stylename=styles.draft, text=doc.review.mark.upper()))
    header.addElement(line)
    master.addElement(header)
    footer = Footer()
    number = P(stylename=styles.footer)
    number.addElement(PageNumber(selectpage="current", text="1"))
    footer.addElement(number)
    master.addElement(footer)
    odt.masterstyles.addElement(master)


def _title_page(w: _Writer, doc: SynthesisDocument, image_dir: Path) -> None:
    s, words = w.s, doc.wording
    if doc.review.draft:
        banner = w.paragraph("", s.banner)
        w.span(banner, doc.review.mark.upper(), s.draft)
        banner.addElement(w.text.LineBreak())
        w.span(banner, doc.review.note)
    logo = doc.publication.logo
    if logo and (image_dir / logo).is_file():
        w.picture(image_dir / logo, doc.publication.logo_alt, height_cm=LOGO_HEIGHT_CM)
    w.span(w.paragraph(), doc.cycle_title.upper(), s.cycle)
    if doc.cycle_subtitle:
        w.paragraph(doc.cycle_subtitle)
    session_part = doc.kicker.split(" · ")[-1] if doc.kind == "session" and doc.kicker != doc.cycle_title else ""
    w.paragraph((doc.document_kind + (f" · {session_part}" if session_part else "")).upper(), s.small)
    w.paragraph(doc.title, s.title)
    if doc.date:
        w.paragraph(doc.date + (f" · {doc.duration}" if doc.duration else ""))
    if doc.description:
        w.span(w.paragraph(), doc.description, s.italic)
    if doc.speakers:
        w.paragraph((doc.speakers_label or words["speakers"]).upper(), s.small)
        for person in doc.speakers:
            line = w.paragraph()
            w.span(line, person.name, s.bold)
            if person.affiliation:
                line.addElement(w.text.LineBreak())
                w.span(line, person.affiliation, s.muted)
    if doc.replay_url:
        line = w.paragraph()
        w.span(line, f"{words['replay']}{NBSP}: ", s.muted)
        w.link(line, doc.replay_url, doc.replay_url)
    w.paragraph(words["organiser"].upper(), s.small)
    w.paragraph(doc.organiser)
    if doc.publication.date:
        w.paragraph(words["published"].format(date=doc.publication.date), s.small)
    w.add(w.text.P(stylename=s.page_break))


def _contents(w: _Writer, doc: SynthesisDocument) -> None:
    """The table of contents: a real index (LibreOffice updates it with page numbers, Tools >
    Update) whose body already lists the sections, each a link to its heading."""
    t = w.text
    title = doc.wording["toc"]
    toc = t.TableOfContent(name="Table of Contents", protected="false")
    source = t.TableOfContentSource(outlinelevel=str(TOC_LEVELS))
    template = t.IndexTitleTemplate(stylename=w.s.contents_heading)
    template.addText(title)
    source.addElement(template)
    for level in range(1, TOC_LEVELS + 1):
        entry = t.TableOfContentEntryTemplate(outlinelevel=str(level), stylename=w.s.contents)
        for part in (t.IndexEntryLinkStart(), t.IndexEntryChapter(), t.IndexEntryText(),
                     t.IndexEntryTabStop(type="right", leaderchar="."), t.IndexEntryPageNumber(),
                     t.IndexEntryLinkEnd()):
            entry.addElement(part)
        source.addElement(entry)
    toc.addElement(source)
    body = t.IndexBody()
    heading = t.IndexTitle(name="Table of Contents_Head")
    heading.addElement(t.P(stylename=w.s.contents_heading, text=title))
    body.addElement(heading)
    for item in doc.toc:
        line = t.P(stylename=w.s.contents)
        w.link(line, f"#{item.anchor}", item.title)
        body.addElement(line)
    body.addElement(t.P(stylename=w.s.small, text=doc.wording["toc_placeholder"]))
    toc.addElement(body)
    w.add(toc)


def _excerpt(w: _Writer, excerpt: Excerpt) -> None:
    w.paragraph(excerpt.text, w.s.quote, excerpt.lang)
    source = w.paragraph("", w.s.source)
    w.span(source, excerpt.speaker, w.s.bold)
    if excerpt.affiliation:
        source.addText(f", {excerpt.affiliation}")
    source.addText(" · ")
    if excerpt.link:
        w.link(source, excerpt.link, excerpt.timestamp)
    else:
        source.addText(excerpt.timestamp)


def _said(w: _Writer, excerpt: Excerpt, *, mark: str = "• ", label: str = "", speaker: bool = True,
          session: bool = False):
    """A sentence said as a list item, with who said it (and in which session) and its moment."""
    item = w.paragraph(mark, w.s.list_item)
    if label:
        w.span(item, f"{label}{NBSP}: ", w.s.bold)
    if excerpt.held:
        w.span(item, excerpt.text, w.s.italic)
    else:
        w.span(item, excerpt.text, w.s.language(excerpt.lang) if excerpt.lang else None)
    item.addText(" ")
    if speaker:
        w.span(item, excerpt.speaker, w.s.muted_bold)
        w.span(item, " · ", w.s.muted)
    if session and excerpt.session_label:
        w.span(item, f"{excerpt.session_label} · ", w.s.muted)
    if excerpt.link:
        w.link(item, excerpt.link, excerpt.timestamp, w.s.muted)
    else:
        w.span(item, excerpt.timestamp, w.s.muted)
    return item


def _refs(w: _Writer, parent, refs: list[IndexRef], label: str) -> None:
    """' (Voir : 00:12:34, 00:15:02)': the moments, each a link to the replay."""
    if not refs:
        return
    w.span(parent, f" ({label}{NBSP}: ", w.s.muted)
    for i, ref in enumerate(refs):
        if i:
            w.span(parent, ", ", w.s.muted)
        if ref.link:
            w.link(parent, ref.link, ref.label, w.s.muted)
        else:
            w.span(parent, ref.label, w.s.muted)
    w.span(parent, ")", w.s.muted)


def _key_points(w: _Writer, points: list[Excerpt], title: str) -> None:
    w.heading(title, 2)
    for point in points:
        _said(w, point)


def _key_messages(w: _Writer, doc: SynthesisDocument) -> None:
    """« À retenir »: the messages staff wrote, with the moments they rest on; else the proposals."""
    messages = doc.key_messages
    if messages is None:
        return
    w.heading(messages.title, 1, "key-messages")
    if messages.subtitle:
        w.heading(messages.subtitle, 2)
    if messages.note:
        w.paragraph(messages.note, w.s.small)
    for number, message in enumerate(messages.messages, start=1):
        if message.excerpt is not None:
            _said(w, message.excerpt, mark=f"{number}. ")
            continue
        item = w.paragraph(f"{number}. {message.text}", w.s.list_item)
        _refs(w, item, message.refs, doc.wording["key_message_passages"])


def _speakers(w: _Writer, doc: SynthesisDocument) -> None:
    """« Les intervenants »: a paragraph for each named voice."""
    if not doc.speaker_paragraphs:
        return
    words = doc.wording
    w.heading(words["speakers_section"], 1, "speakers")
    w.paragraph(words["speakers_intro"], w.s.small)
    for speaker in doc.speaker_paragraphs:
        w.heading(speaker.name, 2, speaker.anchor)
        if speaker.affiliation:
            w.span(w.paragraph("", w.s.small), speaker.affiliation, w.s.italic)
        if speaker.presentation:
            w.paragraph(speaker.presentation)
        w.paragraph(speaker.details + (f". {speaker.themes}" if speaker.themes else ""), w.s.small)
        for quote in speaker.quotes:
            _said(w, quote, speaker=False)
        if not speaker.quotes:
            w.paragraph(words["speaker_no_quote"], w.s.small)


def _exchanges(w: _Writer, doc: SynthesisDocument) -> None:
    exchanges = doc.exchanges
    if exchanges is None:
        return
    words = doc.wording
    w.heading(words["exchanges_title"], 1, "exchanges")
    w.paragraph(exchanges.note, w.s.small)
    for item in exchanges.items:
        _said(w, item.question, mark="", label=words["question"])
        if item.answer is not None:
            _said(w, item.answer, mark="", label=words["answer"])
        else:
            w.paragraph(words["no_answer"], w.s.small)


def _cycle_sections(w: _Writer, doc: SynthesisDocument, *, before_chapters: bool) -> None:
    """The cycle's own sections: before the chapters, the theme × session table, the ideas that
    recur and the tensions; after them, one section per transversal axis."""
    words = doc.wording
    if before_chapters:
        if doc.theme_table is not None:
            w.heading(words["theme_table_title"], 1, "theme-table")
            w.paragraph(words["theme_table_intro"])
            w.table(doc.theme_table)
        if doc.shows_recurring:
            w.heading(words["recurring_title"], 1, "recurring")
            w.paragraph(words["recurring_intro"] if doc.recurring else words["recurring_none"], w.s.small)
            for number, idea in enumerate(doc.recurring, start=1):
                for position, excerpt in enumerate(idea.excerpts):
                    _said(w, excerpt, mark=f"{number}. " if position == 0 else "   – ", session=True)
        if doc.tensions:
            w.heading(words["tensions_title"], 1, "tensions")
            w.paragraph(words["tensions_intro"], w.s.small)
            for tension in doc.tensions:
                item = w.paragraph(f"• {tension.text}", w.s.list_item)
                _refs(w, item, tension.refs, words["key_message_passages"])
        return
    if doc.axes:
        w.heading(words["axes_title"], 1, "axes")
        w.paragraph(words["axes_intro"], w.s.small)
        for axis in doc.axes:
            w.heading(axis.label, 2, axis.anchor)
            if axis.description:
                w.span(w.paragraph(), axis.description, w.s.italic)
            if axis.summary:
                w.paragraph(axis.summary, w.s.small)
            for group in axis.groups:
                w.heading(group.title, 3)
                for excerpt in group.excerpts:
                    _excerpt(w, excerpt)
            if axis.empty:
                w.paragraph(axis.empty, w.s.small)


def _codebook(w: _Writer, doc: SynthesisDocument) -> None:
    """The themes (and axes), described once."""
    if not doc.codebook:
        return
    words = doc.wording
    w.heading(words["codebook_title"], 1, "codebook")
    w.paragraph(words["codebook_intro"], w.s.small)
    for title, entries in (("", doc.codebook), (words["codebook_axes"], doc.codebook_axes)):
        if title and entries:
            w.heading(title, 2)
        for entry in entries:
            w.span(w.paragraph(), entry.label, w.s.bold)
            if entry.description:
                w.paragraph(entry.description)
            if entry.subthemes:
                line = w.paragraph()
                w.span(line, f"{words['subthemes']}{NBSP}: ", w.s.bold)
                line.addText(f"{NNBSP}; ".join(entry.subthemes))


def _index_entry(w: _Writer, entry: IndexEntry) -> None:
    line = w.paragraph()
    w.span(line, entry.name, w.s.bold)
    line.addText(" ")
    for i, ref in enumerate(entry.refs):
        if i:
            line.addText(", ")
        if ref.link:
            w.link(line, ref.link, ref.label)
        else:
            line.addText(ref.label)


def write_odt(doc: SynthesisDocument, target: Path, image_dir: Path) -> None:
    """Write the document as an OpenDocument text at `target`; chart PNGs are read from `image_dir`.

    Control characters, which XML cannot hold, are removed from every text first (as for DOCX).
    """
    from odf.opendocument import OpenDocumentText

    doc = limits.xml_safe(doc)
    words = doc.wording
    odt = OpenDocumentText()
    styles = _Styles(odt)
    _metadata(odt, doc)
    _page(odt, styles, doc)
    w = _Writer(odt, styles)

    _title_page(w, doc, image_dir)
    _contents(w, doc)

    if doc.introduction:
        w.heading(words["introduction"], 1, "introduction")
        for paragraph in doc.introduction:
            w.paragraph(paragraph)
    _key_messages(w, doc)

    w.heading(words["overview"], 1, "overview")
    for paragraph in doc.overview:
        w.paragraph(paragraph)
    for session in doc.sessions:
        line = w.paragraph("• ", styles.list_item)
        w.span(line, session.label, styles.bold)
        line.addText(f" {session.title}" + (f" ({session.date})" if session.date else ""))
        if session.draft:
            w.span(line, f" ({session.draft})", styles.draft)
    for chart in doc.charts:
        w.heading(chart.title, 2, f"chart-{chart.id}")
        w.picture(image_dir / chart.image, chart.alt, width_cm=CHART_WIDTH_CM)
        w.paragraph(chart.caption, styles.caption)
        w.table(chart.table)

    _speakers(w, doc)
    _cycle_sections(w, doc, before_chapters=True)

    for chapter in doc.chapters:
        w.heading(f"{chapter.number}. {chapter.label}", 1, chapter.anchor)
        w.paragraph(chapter.summary, styles.small)
        if chapter.table is not None:
            w.table(chapter.table)
        if chapter.key_terms:
            line = w.paragraph()
            w.span(line, f"{words['key_terms']}{NBSP}: ", styles.bold)
            line.addText(", ".join(chapter.key_terms))
        if chapter.key_points:
            _key_points(w, chapter.key_points, words["key_points"])
        # Levels 2 and 3 under the chapter, never a level skipped (the contents list level 1).
        w.heading(words["excerpts"], 2)
        for group in chapter.groups:
            if group.title:
                w.heading(group.title, 3)
            for excerpt in group.excerpts:
                _excerpt(w, excerpt)
        if not chapter.excerpts:
            w.paragraph(chapter.no_excerpt or words["no_excerpt"])

    _cycle_sections(w, doc, before_chapters=False)
    _exchanges(w, doc)

    if doc.index:
        w.heading(words["index"], 1, "index")
        w.paragraph(words["index_intro"], styles.small)
        for kind in doc.index:
            w.heading(kind.title, 2)
            for entry in kind.entries:
                _index_entry(w, entry)
    if doc.references:
        w.heading(words["references"], 1, "references")
        w.paragraph(words["references_intro"], styles.small)
        for entry in doc.references:
            _index_entry(w, entry)
    if doc.glossary:
        w.heading(words["glossary"], 1, "glossary")
        w.paragraph(words["glossary_intro"], styles.small)
        for item in doc.glossary:
            line = w.paragraph()
            w.span(line, item.term, styles.bold)
            line.addText(f"{NBSP}: {item.expansion}")

    _codebook(w, doc)

    if doc.annex:
        w.heading(words["annex"], 1, "annex")
        w.paragraph(words["annex_intro"], styles.small)
        for turn in doc.annex:
            if turn.gap:
                w.span(w.paragraph("", styles.small), turn.text, styles.italic)
                continue
            meta = w.paragraph("", styles.small)
            if turn.link:
                w.link(meta, turn.link, turn.timestamp)
            else:
                meta.addText(turn.timestamp)
            w.span(meta, f"  {turn.speaker}", styles.muted_bold)
            w.paragraph(turn.text, lang=turn.lang)

    w.heading(words["colophon"], 1, "colophon")
    for line in doc.colophon:
        w.paragraph(line, styles.small)
    publication = doc.publication
    for label, content, link in ((words["licence"], publication.licence, publication.licence_url),
                                 (words["citation"], publication.citation, None),
                                 (words["contact"], publication.contact, publication.contact_url)):
        if content:
            line = w.paragraph("", styles.small)
            line.addText(f"{label}{NBSP}: ")
            if link:
                w.link(line, link, content)
            else:
                line.addText(content)

    with open(target, "wb") as handle:
        odt.write(handle)


class OdtWriter:
    extension = "odt"

    def write(self, doc: SynthesisDocument, target: Path, assets_dir: Path, templates, html: str) -> None:
        write_odt(doc, target, assets_dir)
