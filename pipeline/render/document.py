"""The synthesis document model: one SynthesisDocument feeds every renderer (PDF, DOCX, HTML).

compose.py builds it from the stages' artefacts; the renderers only lay it out. All text in the
model is final (French typography applied once, when it is built).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..core.artefacts import ApprovalState

# How each video host's page reads the moment to start at; any other address gets the W3C media
# fragment `#t=SECONDS`, which HTML5 players understand.
QUERY_TIME_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com")  # ?t=SECONDS
FRAGMENT_TIME_HOSTS = ("vimeo.com",)  # #t=SECONDSs
START_QUERY_HOSTS = ("dailymotion.com", "dai.ly")  # ?start=SECONDS
# PeerTube runs on any host: its video pages are recognised by their path (?start=SECONDS).
PEERTUBE_PATHS = ("/w/", "/videos/watch/", "/videos/embed/")


# The names of `SynthesisDocument.provenance` in the files' metadata.
METADATA_NAMES = {"generator": "Generator", "transcription": "Transcription", "language_model": "LanguageModel",
                  "codebook": "Codebook"}


@dataclass(frozen=True)
class Person:
    name: str
    role: str = ""
    organisation: str = ""

    @property
    def affiliation(self) -> str:
        """'Sociologue, Université de Villeneuve' (either part may be missing)."""
        return ", ".join(part for part in (self.role, self.organisation) if part)


@dataclass(frozen=True)
class Excerpt:
    passage_id: str
    text: str
    speaker: str
    affiliation: str
    start_s: float
    end_s: float
    timestamp: str
    link: str | None
    link_label: str
    session_id: str = ""  # set in the cycle document, where passage ids restart in every session
    lang: str = ""  # the language said, where it is not the document's ('en'): marked in every format
    session_label: str = ""  # 'Séance 2', where the document gathers sessions and does not say it around
    # Not printed until a reviewer checks its words (an idea of the cycle said again there):
    # `text` then says so, and the link leads to the moment.
    held: bool = False

    @property
    def anchor(self) -> str:
        """Unique within a document, also when it gathers several sessions."""
        return f"{self.session_id}-{self.passage_id}" if self.session_id else self.passage_id


@dataclass(frozen=True)
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    numeric_from: int = 1  # columns from this index on hold numbers (right-aligned)


@dataclass(frozen=True)
class Chart:
    id: str
    kind: str  # "share" | "timeline" | "heatmap": how charts.py draws `data`
    title: str
    caption: str
    alt: str
    image: str  # PNG file name, beside the documents
    table: Table
    data: dict[str, Any] = field(default_factory=dict)
    image_narrow: str = ""  # the same drawn for a phone's width (HTML and site), '' for none

    @property
    def images(self) -> list[str]:
        return [name for name in (self.image, self.image_narrow) if name]


@dataclass(frozen=True)
class ExcerptGroup:
    """The quotes of a chapter under one heading: a sub-theme in a session's synthesis, a session
    in the cycle's ('' title: the chapter's only group)."""

    title: str
    excerpts: list[Excerpt]


@dataclass(frozen=True)
class KeyMessage:
    """A message of « À retenir »: written by staff, with the moments of the passages that support
    it (links to the replay); or, until staff write some, a sentence said, proposed (`excerpt`:
    who said it and when)."""

    text: str
    refs: list[IndexRef] = field(default_factory=list)
    excerpt: Excerpt | None = None


@dataclass(frozen=True)
class KeyMessages:
    """« À retenir », at the start of a session's synthesis."""

    title: str  # 'À retenir'
    messages: list[KeyMessage]
    proposed: bool  # the machine's proposals: nobody has written nor accepted any yet
    subtitle: str = ""  # over the proposals: 'Propositions (non relues)'
    note: str = ""


@dataclass(frozen=True)
class SpeakerParagraph:
    """What a named voice brought to the session (« Les intervenants »)."""

    name: str
    affiliation: str  # role and organisation from config.yaml
    presentation: str  # the sentence staff wrote, '' for none
    details: str  # 'Temps de parole : 12 min 05 s (35 %) · 6 passages'
    themes: str  # 'Thèmes abordés : Sobriété, Gouvernance.' ('' when none)
    quotes: list[Excerpt]
    anchor: str


@dataclass(frozen=True)
class ExchangeItem:
    question: Excerpt
    answer: Excerpt | None


@dataclass(frozen=True)
class Exchanges:
    """Questions and the answers that follow them: marked by staff, or proposed."""

    items: list[ExchangeItem]
    proposed: bool
    note: str = ""


@dataclass(frozen=True)
class CodebookEntry:
    """A theme (or a transversal axis) of the programme, described once, in the annex."""

    anchor: str
    label: str
    description: str
    subthemes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecurringIdea:
    """Sentences of different sessions that say the same thing (the cycle's synthesis); one whose
    words are not checked yet is only pointed to (Excerpt.held)."""

    excerpts: list[Excerpt]


@dataclass(frozen=True)
class Tension:
    """A difference between sessions staff point out, with the moments each side is said."""

    text: str
    refs: list[IndexRef]


@dataclass(frozen=True)
class AxisSection:
    """A transversal axis in the cycle's synthesis: its passages across themes and sessions."""

    id: str
    label: str
    description: str
    summary: str  # '12 passages dans 2 séances ; surtout Sobriété (5), Gouvernance (3).'
    groups: list[ExcerptGroup]  # its sentences, by session
    empty: str = ""  # why there is none, when there is none

    @property
    def anchor(self) -> str:
        return f"axis-{self.id}"


@dataclass(frozen=True)
class ThemeChapter:
    id: str
    number: int
    label: str
    description: str
    subthemes: list[str]
    key_terms: list[str]
    summary: str  # 'Durée : 2 min 10 s · 35 % de la séance · 4 passages'
    excerpts: list[Excerpt]  # every quote, in the order said
    groups: list[ExcerptGroup] = field(default_factory=list)  # the same quotes, by sub-theme
    key_points: list[Excerpt] = field(default_factory=list)
    no_excerpt: str = ""  # why there is no quote, when there is none
    table: Table | None = None  # the cycle's: which sessions and speakers addressed it

    @property
    def anchor(self) -> str:
        return f"theme-{self.id}"

    @property
    def brief(self) -> bool:
        """Nothing to quote yet (a short or unreviewed session): a few lines, laid out after the
        chapter before rather than on a page of their own."""
        return not (self.excerpts or self.key_points or self.table)


@dataclass(frozen=True)
class IndexRef:
    label: str  # '00:12:05' or 'S2 00:12:05'
    link: str | None
    start_s: float | None = None  # the moment, for a player on the page


@dataclass(frozen=True)
class IndexEntry:
    name: str
    refs: list[IndexRef]


@dataclass(frozen=True)
class IndexGroup:
    kind: str  # PER, ORG, LOC
    title: str
    entries: list[IndexEntry]


@dataclass(frozen=True)
class GlossaryItem:
    term: str  # 'RGPD'
    expansion: str  # 'Règlement général sur la protection des données personnelles'


@dataclass(frozen=True)
class AnnexParagraph:
    timestamp: str
    speaker: str
    text: str
    link: str | None
    lang: str = ""  # as Excerpt.lang
    gap: bool = False  # speech that could not be transcribed: `text` says where, in brackets
    start_s: float = 0.0
    anchor: str = ""  # its id in the HTML ('t-754', the second it starts), unique in the document


@dataclass(frozen=True)
class SessionSummary:
    label: str  # 'Séance 2'
    title: str
    date: str
    link: str | None
    draft: str = ""  # the cycle's list says of a session not approved: '(document de travail, non relu)'


@dataclass(frozen=True)
class Publication:
    """Who publishes the document, when, under which licence, and how to cite it."""

    date: str = ""  # '2 avril 2022'
    date_iso: str = ""
    licence: str = ""
    licence_url: str | None = None
    citation: str = ""  # the suggested citation, complete
    contact: str = ""
    contact_url: str | None = None  # mailto: or https:
    logo: str = ""  # file name beside the documents ('' without a logo)
    logo_alt: str = ""
    logo_source: Path | None = None  # where the render stage copies it from


@dataclass(frozen=True)
class ReviewMark:
    """Where the document's review stands, as every format shows it: until it is approved (and
    while it changed since), the mark 'Document de travail — non relu' on the cover and in the
    header of every page, with `note` saying why; once approved, who approved it and when."""

    state: ApprovalState = "draft"  # the cycle's: approved only when every session is
    mark: str = ""  # '' once approved
    note: str = ""
    approved_by: str = ""
    approved_on: str = ""  # '7 décembre 2026'
    approved_iso: str = ""  # '2026-12-07T10:15+01:00'

    @property
    def draft(self) -> bool:
        return bool(self.mark)


@dataclass(frozen=True)
class TocEntry:
    anchor: str
    title: str


@dataclass
class SynthesisDocument:
    """Everything a synthesis says, in reading order; renderers only lay it out."""

    kind: str  # "session" or "cycle"
    stem: str
    title: str
    kicker: str  # the line above the title: 'Après la smart city · Séance 2'
    document_kind: str  # 'Synthèse'
    cycle_title: str
    cycle_subtitle: str
    organiser: str
    author: str
    date: str  # '17 mars 2022' (empty when unknown)
    date_iso: str
    duration: str
    description: str
    speakers: list[Person]
    replay_url: str | None
    overview: list[str]
    charts: list[Chart]
    chapters: list[ThemeChapter]
    index: list[IndexGroup]
    annex: list[AnnexParagraph]
    sessions: list[SessionSummary]
    colophon: list[str]
    wording: dict[str, Any]
    lang: str = "fr"
    publication: Publication = field(default_factory=lambda: Publication())
    references: list[IndexEntry] = field(default_factory=list)  # laws, programmes, standards cited
    glossary: list[GlossaryItem] = field(default_factory=list)  # the acronyms said, expanded
    review: ReviewMark = field(default_factory=lambda: ReviewMark())
    # What made it (tool, transcription and language models, codebook): the file's metadata,
    # never sentences of the document.
    provenance: dict[str, str] = field(default_factory=dict)
    speakers_label: str = ""  # the cover's title over `speakers` ('Intervenants annoncés')
    key_messages: KeyMessages | None = None  # « À retenir » (a session's)
    speaker_paragraphs: list[SpeakerParagraph] = field(default_factory=list)  # « Les intervenants »
    exchanges: Exchanges | None = None  # « Questions et échanges »
    codebook: list[CodebookEntry] = field(default_factory=list)  # the themes, described once (annex)
    codebook_axes: list[CodebookEntry] = field(default_factory=list)  # and the transversal axes
    # The cycle's: the introduction staff wrote, the theme × session table, the ideas that recur,
    # the tensions staff point out, one section per transversal axis.
    introduction: list[str] = field(default_factory=list)
    theme_table: Table | None = None
    recurring: list[RecurringIdea] = field(default_factory=list)
    tensions: list[Tension] = field(default_factory=list)
    axes: list[AxisSection] = field(default_factory=list)

    @property
    def running_title(self) -> str:
        return self.kicker

    @property
    def shows_recurring(self) -> bool:
        """The cycle's « Idées qui reviennent »: once two sessions can be compared (with one, the
        section could only say that nothing recurs)."""
        return self.kind == "cycle" and (bool(self.recurring) or len(self.sessions) >= 2)

    @property
    def document_title(self) -> str:
        """'Synthèse · Sobriété… · Après la smart city': the title of the file in every format
        (the cycle's title once, also in the cycle's synthesis)."""
        parts = [self.document_kind, self.title]
        if self.cycle_title and self.cycle_title != self.title:
            parts.append(self.cycle_title)
        return " · ".join(parts)

    @property
    def toc(self) -> list[TocEntry]:
        """Top-level sections in order, for the table of contents of every format (the order the
        templates and writers lay them out in)."""
        w = self.wording
        entries = []
        if self.introduction:
            entries.append(TocEntry("introduction", w["introduction"]))
        if self.key_messages is not None:
            entries.append(TocEntry("key-messages", w["key_messages"]))
        entries.append(TocEntry("overview", w["overview"]))
        if self.speaker_paragraphs:
            entries.append(TocEntry("speakers", w["speakers_section"]))
        if self.theme_table is not None:
            entries.append(TocEntry("theme-table", w["theme_table_title"]))
        if self.shows_recurring:
            entries.append(TocEntry("recurring", w["recurring_title"]))
        if self.tensions:
            entries.append(TocEntry("tensions", w["tensions_title"]))
        entries += [TocEntry(c.anchor, f"{c.number}. {c.label}") for c in self.chapters]
        if self.axes:
            entries.append(TocEntry("axes", w["axes_title"]))
        if self.exchanges is not None:
            entries.append(TocEntry("exchanges", w["exchanges_title"]))
        if self.index:
            entries.append(TocEntry("index", w["index"]))
        if self.references:
            entries.append(TocEntry("references", w["references"]))
        if self.glossary:
            entries.append(TocEntry("glossary", w["glossary"]))
        if self.codebook:
            entries.append(TocEntry("codebook", w["codebook_title"]))
        if self.annex:
            entries.append(TocEntry("annex", w["annex"]))
        entries.append(TocEntry("colophon", w["colophon"]))
        return entries

    @property
    def metadata(self) -> dict[str, str]:
        """The review state and what made the document (tool, models, codebook), as the metadata
        of every format carry them: HTML <meta>, the PDF's document information, Word's custom
        properties. Never sentences of the document."""
        review = self.review
        values = {"Status": review.mark or self.wording["review_mark"]["approved_status"],
                  "ApprovedBy": review.approved_by, "ApprovedAt": review.approved_iso,
                  **{METADATA_NAMES.get(key, key): value for key, value in self.provenance.items()}}
        return {key: value for key, value in values.items() if value}


def replay_link(replay_url: str | None, seconds: float) -> str | None:
    """The replay address that starts playing at `seconds`, or None without a replay: in the
    host's own syntax where it is known (YouTube `?t=90`, Vimeo `#t=90s`, Dailymotion and
    PeerTube `?start=90`), else the media fragment `#t=90`."""
    if not replay_url:
        return None
    start = max(0, int(math.floor(seconds)))
    parts = urlsplit(replay_url)
    host = parts.hostname or ""

    def on(hosts: tuple[str, ...]) -> bool:
        return any(host == h or host.endswith("." + h) for h in hosts)

    def with_query(name: str) -> str:
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
        query.append((name, str(start)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    if on(QUERY_TIME_HOSTS):
        return with_query("t")
    if on(START_QUERY_HOSTS) or parts.path.startswith(PEERTUBE_PATHS):
        return with_query("start")
    fragment = f"t={start}s" if on(FRAGMENT_TIME_HOSTS) else f"t={start}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, fragment))


def sort_key(name: str) -> str:
    """French alphabetical order: accents and case do not count (É sorts with E)."""
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


