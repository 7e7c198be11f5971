"""The synthesis document model: one SynthesisDocument feeds every renderer (PDF, DOCX, HTML).

`build_document` turns a session's tags (and its transcript), the session's metadata and the
config into a SynthesisDocument; `build_cycle_document` gathers several sessions by theme. All
text in the model is final: French typography is applied here, once, and the renderers only lay
it out. Fixed wording comes from templates/wording.fr.yaml.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from pipeline import __version__
from pipeline.config import Config, Session
from pipeline.typography import (
    decimal,
    duration_text,
    french_date,
    french_text,
    guillemets,
    join_list,
    percent,
    timestamp,
)
from pipeline.workspace import TEMPLATES_DIR

log = logging.getLogger(__name__)

WORDING_FILE = TEMPLATES_DIR / "wording.fr.yaml"
ENTITY_GROUPS = ("PER", "ORG", "LOC")
KEY_TERMS_PER_THEME = 8
TIMELINE_SLICES = 6
# Hosts whose players read the start time from the query string (?t=SECONDS) rather than from a
# media fragment (#t=SECONDS).
QUERY_TIME_HOSTS = ("youtube.com", "youtu.be", "youtube-nocookie.com")


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
    session_label: str = ""  # set in the cycle document, where excerpts come from several sessions
    session_id: str = ""  # likewise: passage ids restart in every session

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


@dataclass(frozen=True)
class ThemeChapter:
    id: str
    number: int
    label: str
    description: str
    subthemes: list[str]
    key_terms: list[str]
    summary: str  # 'Durée : 2 min 10 s · 35 % de la séance · 4 passages'
    excerpts: list[Excerpt]

    @property
    def anchor(self) -> str:
        return f"theme-{self.id}"


@dataclass(frozen=True)
class IndexRef:
    label: str  # '00:12:05' or 'S2 00:12:05'
    link: str | None


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
class AnnexParagraph:
    timestamp: str
    speaker: str
    text: str
    link: str | None


@dataclass(frozen=True)
class SessionSummary:
    label: str  # 'Séance 2'
    title: str
    date: str
    link: str | None


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

    @property
    def running_title(self) -> str:
        return self.kicker

    @property
    def toc(self) -> list[TocEntry]:
        """Top-level sections in order, for the table of contents of every format."""
        w = self.wording
        entries = [TocEntry("overview", w["overview"])]
        entries += [TocEntry(c.anchor, f"{c.number}. {c.label}") for c in self.chapters]
        if self.index:
            entries.append(TocEntry("index", w["index"]))
        if self.annex:
            entries.append(TocEntry("annex", w["annex"]))
        entries.append(TocEntry("colophon", w["colophon"]))
        return entries

    @property
    def chart_files(self) -> list[str]:
        return [chart.image for chart in self.charts]


@functools.lru_cache(maxsize=1)
def load_wording() -> dict[str, Any]:
    """The fixed French wording of the documents (templates/wording.fr.yaml)."""
    def typeset(value: Any) -> Any:
        if isinstance(value, str):
            return french_text(value)
        if isinstance(value, dict):
            return {key: typeset(item) for key, item in value.items()}
        return value

    return typeset(yaml.safe_load(WORDING_FILE.read_text(encoding="utf-8")))


def replay_link(replay_url: str | None, seconds: float) -> str | None:
    """The replay address that starts playing at `seconds`, or None without a replay.

    YouTube-like players read `?t=SECONDS`; any other address gets the W3C media fragment
    `#t=SECONDS`, which HTML5 players and most hosting pages understand.
    """
    if not replay_url:
        return None
    start = max(0, int(math.floor(seconds)))
    parts = urlsplit(replay_url)
    host = parts.hostname or ""
    if any(host == h or host.endswith("." + h) for h in QUERY_TIME_HOSTS):
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "t"]
        query.append(("t", str(start)))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, f"t={start}"))


def sort_key(name: str) -> str:
    """French alphabetical order: accents and case do not count (É sorts with E)."""
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


# --- building blocks shared by the session and the cycle documents ----------------------------

@dataclass(frozen=True)
class _ThemeInfo:
    id: str
    label: str
    description: str
    subthemes: list[str]
    keywords: list[str]


def _themes(config: Config, codebooks: list[dict[str, Any]]) -> list[_ThemeInfo]:
    """The themes to report, in codebook order: config wording wins, the tags' codebook fills in."""
    configured = {t.id: t for t in config.themes}
    infos: dict[str, _ThemeInfo] = {}
    for theme in config.themes:
        infos[theme.id] = _ThemeInfo(theme.id, french_text(theme.label), french_text(theme.description),
                                     [french_text(s.label) for s in theme.subthemes], list(theme.keywords))
    for codebook in codebooks:
        for theme in codebook.get("themes", []):
            if theme["id"] not in configured and theme["id"] not in infos:
                infos[theme["id"]] = _ThemeInfo(theme["id"], french_text(theme.get("label", theme["id"])),
                                                french_text(theme.get("description", "")), [],
                                                list(theme.get("keywords", [])))
    return list(infos.values())


def _duration_of(tags: dict[str, Any]) -> float:
    ends = [float(p["end"]) for p in tags.get("passages", [])]
    return float(tags.get("duration_s") or 0) or max(ends, default=0.0)


def _theme_seconds(passages: list[dict[str, Any]]) -> tuple[Counter, Counter, float]:
    """Seconds and passage counts per theme id, and the seconds of passages with no theme."""
    seconds: Counter = Counter()
    counts: Counter = Counter()
    untagged = 0.0
    for passage in passages:
        length = max(0.0, float(passage["end"]) - float(passage["start"]))
        ids = {t["id"] for t in passage.get("themes", [])}
        for theme_id in ids:
            seconds[theme_id] += length
            counts[theme_id] += 1
        if not ids:
            untagged += length
    return seconds, counts, untagged


def _key_terms(passages: list[dict[str, Any]], theme: _ThemeInfo) -> list[str]:
    """The evidence terms found most often for the theme; its keywords when none was recorded."""
    found: Counter = Counter()
    for passage in passages:
        for tagged in passage.get("themes", []):
            if tagged["id"] == theme.id:
                found.update(term.strip() for term in tagged.get("evidence", []) if term.strip())
    if not found:
        return theme.keywords[:KEY_TERMS_PER_THEME]
    return [term for term, _ in found.most_common(KEY_TERMS_PER_THEME)]


# Role words that read in lower case after a name ('Claire Dubreuil, sociologue').
_COMMON_ROLES = {"sociologue", "chercheur", "chercheuse", "directeur", "directrice", "chargé", "chargée",
                 "consultant", "consultante", "ingénieur", "ingénieure", "responsable", "maître", "maîtresse",
                 "professeur", "professeure", "doctorant", "doctorante", "élu", "élue", "adjoint", "adjointe",
                 "maire", "architecte", "urbaniste", "géographe", "économiste", "juriste", "animateur",
                 "animatrice", "chef", "cheffe", "conseiller", "conseillère", "délégué", "déléguée"}


class _SpeakerDirectory:
    """Finds who speaks in a passage (tags first, then the transcript) and their role."""

    def __init__(self, session: Session, transcript: dict[str, Any] | None, unknown: str):
        self.people = {s.name: Person(s.name, s.role, s.organisation) for s in session.speakers}
        self.segments = (transcript or {}).get("segments", [])
        self.unknown = unknown

    def speaker_of(self, passage: dict[str, Any]) -> str:
        if passage.get("speaker"):
            return passage["speaker"]
        start, end = float(passage["start"]), float(passage["end"])
        names: list[str] = []
        for segment in self.segments:
            if segment.get("speaker") and segment["end"] > start and segment["start"] < end:
                if segment["speaker"] not in names:
                    names.append(segment["speaker"])
        return join_list(names) or self.unknown

    def affiliation(self, name: str) -> str:
        """The role as it reads after a name: 'Claire Dubreuil, sociologue, Université de X'."""
        person = self.people.get(name)
        text = person.affiliation if person else ""
        # A common role word reads in lower case after a name; an acronym or a name stays as is.
        first_word = text.split(maxsplit=1)[0].strip(",").lower() if text else ""
        if first_word in _COMMON_ROLES:
            text = text[0].lower() + text[1:]
        return french_text(text)


def _excerpt(passage: dict[str, Any], speakers: _SpeakerDirectory, replay_url: str | None,
             wording: dict[str, Any], session_label: str = "", session_id: str = "") -> Excerpt:
    start = float(passage["start"])
    speaker = speakers.speaker_of(passage)
    stamp = timestamp(start)
    return Excerpt(
        passage_id=passage["id"],
        text=french_text(passage.get("text", "")),
        speaker=speaker,
        affiliation=speakers.affiliation(speaker),
        start_s=start,
        end_s=float(passage["end"]),
        timestamp=stamp,
        link=replay_link(replay_url, start),
        link_label=wording["listen_at"].format(time=stamp),
        session_label=session_label,
        session_id=session_id,
    )


def _share_chart(stem: str, themes: list[_ThemeInfo], seconds: Counter, counts: Counter,
                 untagged: float, total_s: float, wording: dict[str, Any], *, cycle: bool) -> Chart:
    total_s = total_s or 1.0
    bars = [(t.label, seconds[t.id] / total_s) for t in themes]
    rows = [[t.label, str(counts[t.id]), duration_text(seconds[t.id]), percent(seconds[t.id] / total_s)]
            for t in themes]
    rows.append([wording["no_theme"], "", duration_text(untagged), percent(untagged / total_s)])
    details = "; ".join(f"{label} {percent(share)}" for label, share in bars)
    return Chart(
        id="themes",
        kind="share",
        title=wording["cycle_share_title" if cycle else "share_title"],
        caption=wording["cycle_share_caption" if cycle else "share_caption"],
        alt=wording["share_alt"].format(details=details),
        image=f"{stem}-themes.png",
        table=Table(wording["share_table_caption"],
                    [wording["col_theme"], wording["col_passages"], wording["col_duration"],
                     wording["col_share"]], rows),
        data={"labels": [b[0] for b in bars], "values": [b[1] for b in bars],
              "percent_labels": [percent(b[1]) for b in bars]},
    )


def _timeline_chart(stem: str, themes: list[_ThemeInfo], passages: list[dict[str, Any]],
                    total_s: float, wording: dict[str, Any]) -> Chart:
    spans: dict[str, list[tuple[float, float]]] = {t.id: [] for t in themes}
    for passage in passages:
        for tagged in passage.get("themes", []):
            if tagged["id"] in spans:
                start = float(passage["start"])
                spans[tagged["id"]].append((start, max(0.0, float(passage["end"]) - start)))
    total_s = max(total_s, 1.0)
    slices = max(1, min(TIMELINE_SLICES, math.ceil(total_s / 60)))
    width = total_s / slices
    bounds = [(i * width, (i + 1) * width) for i in range(slices)]
    # Under an hour, 'MM:SS' keeps the column headers short.
    clock = timestamp if total_s >= 3600 else (lambda s: timestamp(s)[3:])
    header = [wording["col_theme"]] + [f"{clock(a)}–{clock(b)}" for a, b in bounds]
    rows = []
    for theme in themes:
        minutes = []
        for low, high in bounds:
            overlap = sum(max(0.0, min(high, s + w) - max(low, s)) for s, w in spans[theme.id])
            minutes.append(decimal(overlap / 60))
        rows.append([theme.label, *minutes])
    return Chart(
        id="timeline",
        kind="timeline",
        title=wording["timeline_title"],
        caption=wording["timeline_caption"],
        alt=wording["timeline_alt"].format(duration=duration_text(total_s)),
        image=f"{stem}-timeline.png",
        table=Table(wording["timeline_table_caption"], header, rows),
        data={"labels": [t.label for t in themes], "spans": [spans[t.id] for t in themes],
              "duration_s": total_s,
              "ticks": [(a, clock(a)) for a, _ in bounds] + [(total_s, clock(total_s))]},
    )


def _index(entries: list[tuple[dict[str, Any], list[IndexRef]]], wording: dict[str, Any]) -> list[IndexGroup]:
    """Group named entities by kind, merge duplicates, sort them the French way."""
    merged: dict[tuple[str, str], list[IndexRef]] = {}
    names: dict[tuple[str, str], str] = {}
    for entity, refs in entries:
        kind = entity.get("label", "")
        if kind not in ENTITY_GROUPS or not entity.get("text", "").strip():
            continue
        key = (kind, sort_key(entity["text"]))
        names.setdefault(key, french_text(entity["text"].strip()))
        known = merged.setdefault(key, [])
        known.extend(r for r in refs if r not in known)
    groups = []
    for kind in ENTITY_GROUPS:
        keys = sorted((k for k in merged if k[0] == kind), key=lambda k: k[1])
        if keys:
            groups.append(IndexGroup(kind, wording["index_groups"][kind],
                                     [IndexEntry(names[k], merged[k]) for k in keys]))
    return groups


def _annex(transcript: dict[str, Any] | None, passages: list[dict[str, Any]], replay_url: str | None,
           unknown: str) -> list[AnnexParagraph]:
    """The full text, one paragraph per turn of speech (long turns split at pauses)."""
    rows = (transcript or {}).get("segments") or passages
    paragraphs: list[AnnexParagraph] = []
    current: list[dict[str, Any]] = []

    def flush() -> None:
        if current:
            start = float(current[0]["start"])
            text = " ".join(s.get("text", "").strip() for s in current if s.get("text", "").strip())
            paragraphs.append(AnnexParagraph(timestamp(start), current[0].get("speaker") or unknown,
                                             french_text(text), replay_link(replay_url, start)))
            current.clear()

    words = 0
    for row in rows:
        if current:
            same_speaker = row.get("speaker") == current[0].get("speaker")
            pause = float(row["start"]) - float(current[-1]["end"])
            if not same_speaker or words > 120 or (pause > 2.0 and words > 40):
                flush()
                words = 0
        current.append(row)
        words += len(row.get("text", "").split())
    flush()
    return paragraphs


def _models_text(tags: dict[str, Any], wording: dict[str, Any]) -> tuple[str, str]:
    models = tags.get("models") or {}
    asr = models.get("asr")
    if asr:
        engine = asr.get("engine", "")
        name = guillemets(str(asr.get("name", "")))
        asr_text = wording["colophon_asr"].format(asr=f"Whisper {name}" + (f" ({engine})" if engine else ""))
    else:
        asr_text = wording["colophon_asr_none"]
    nlp = models.get("nlp") or "—"
    codebook = (tags.get("codebook") or {}).get("version", "—")
    return asr_text, wording["colophon_nlp"].format(nlp=nlp, codebook=codebook)


def _review_text(tags: dict[str, Any], wording: dict[str, Any]) -> str:
    review = tags.get("review") or {}
    if review.get("status") == "reviewed":
        return wording["colophon_review_reviewed"].format(decisions=review.get("decisions_applied", 0))
    return wording["colophon_review_not_reviewed"]


def _session_label(session: Session, wording: dict[str, Any]) -> str:
    return wording["session_number"].format(number=session.number) if session.number is not None else ""


def _today() -> str:
    return french_date(dt.date.today())


# --- the two documents -----------------------------------------------------------------------

def build_document(tags: dict[str, Any], transcript: dict[str, Any] | None, session: Session,
                   config: Config, *, stem: str | None = None) -> SynthesisDocument:
    """The synthesis of one session, from its tags, its transcript (None: the annex is built from
    the passages), its metadata in config.yaml and the cycle's codebook."""
    wording = load_wording()
    stem = stem or session.id
    passages = tags.get("passages", [])
    by_id = {p["id"]: p for p in passages}
    themes = _themes(config, [tags.get("codebook") or {}])
    total_s = _duration_of(tags)
    seconds, counts, untagged = _theme_seconds(passages)
    speakers = _SpeakerDirectory(session, transcript, wording["unknown_speaker"])
    replay = session.replay_url

    chapters = []
    for theme in themes:
        ids = [i for i in (tags.get("excerpts") or {}).get(theme.id, []) if i in by_id]
        if not counts[theme.id] and not ids:
            continue  # not discussed: named in the overview rather than given an empty chapter
        summary = " · ".join([
            f"{wording['col_duration']} : {duration_text(seconds[theme.id])}",
            f"{percent(seconds[theme.id] / (total_s or 1))}",
            f"{counts[theme.id]} {wording['col_passages'].lower()}",
        ])
        chapters.append(ThemeChapter(
            id=theme.id,
            number=len(chapters) + 1,
            label=theme.label,
            description=theme.description,
            subthemes=theme.subthemes,
            key_terms=_key_terms(passages, theme),
            summary=french_text(summary),
            excerpts=[_excerpt(by_id[i], speakers, replay, wording) for i in ids],
        ))

    tagged = sum(1 for p in passages if p.get("themes"))
    overview = [french_text(wording["overview_text"].format(
        duration=duration_text(total_s), passages=len(passages), tagged=tagged, themes=len(themes)))]
    ranked = sorted((t for t in themes if seconds[t.id]), key=lambda t: -seconds[t.id])[:3]
    if ranked:
        top = join_list([f"{t.label} ({percent(seconds[t.id] / (total_s or 1))})" for t in ranked])
        overview.append(french_text(wording["overview_top"].format(top=top)))
    absent = [t.label for t in themes if not counts[t.id]]
    if absent:
        overview.append(french_text(wording["overview_absent"].format(labels=join_list(absent))))

    index_input = []
    for entity in tags.get("entities", []):
        refs = [IndexRef(timestamp(float(by_id[p]["start"])), replay_link(replay, float(by_id[p]["start"])))
                for p in entity.get("passages", []) if p in by_id]
        index_input.append((entity, refs))

    asr_text, nlp_text = _models_text(tags, wording)
    colophon = [
        wording["colophon_produced"].format(date=_today(), generator=f"Synthèse {__version__}"),
        french_text(asr_text),
        french_text(nlp_text),
        french_text(_review_text(tags, wording)),
        french_text(wording["colophon_disclaimer"]),
    ]
    if config.render.author:
        colophon.append(french_text(wording["colophon_author"].format(author=config.render.author)))

    label = _session_label(session, wording)
    return SynthesisDocument(
        kind="session",
        stem=stem,
        title=french_text(session.title),
        kicker=" · ".join(x for x in (french_text(config.cycle.title), label) if x),
        document_kind=wording["document_kind"],
        cycle_title=french_text(config.cycle.title),
        cycle_subtitle=french_text(config.cycle.subtitle),
        organiser=french_text(config.cycle.organiser),
        author=config.render.author or config.cycle.organiser,
        date=french_date(session.date),
        date_iso=session.date.isoformat() if session.date else "",
        duration=duration_text(total_s),
        description=french_text(session.description),
        speakers=[Person(french_text(s.name), french_text(s.role), french_text(s.organisation))
                  for s in session.speakers],
        replay_url=replay,
        overview=overview,
        charts=[
            _share_chart(stem, themes, seconds, counts, untagged, total_s, wording, cycle=False),
            _timeline_chart(stem, themes, passages, total_s, wording),
        ],
        chapters=chapters,
        index=_index(index_input, wording),
        annex=_annex(transcript, passages, replay, wording["unknown_speaker"]) if config.render.transcript_annex else [],
        sessions=[],
        colophon=colophon,
        wording=wording,
    )


def build_cycle_document(config: Config, sessions: list[tuple[Session, dict[str, Any], dict[str, Any] | None]],
                         *, stem: str = "cycle") -> SynthesisDocument:
    """The cycle's synthesis: every session's excerpts gathered theme by theme, with the share of
    each theme over the cycle and session by session. `sessions` holds (session, tags, transcript)."""
    wording = load_wording()
    themes = _themes(config, [tags.get("codebook") or {} for _, tags, _ in sessions])
    total_s = 0.0
    seconds: Counter = Counter()
    counts: Counter = Counter()
    untagged = 0.0
    heat_rows: list[list[str]] = []
    heat_values: list[list[float]] = []
    heat_labels: list[str] = []
    excerpts: dict[str, list[Excerpt]] = {t.id: [] for t in themes}
    index_input = []
    summaries = []
    reviewed = 0
    for session, tags, transcript in sessions:
        passages = tags.get("passages", [])
        by_id = {p["id"]: p for p in passages}
        duration = _duration_of(tags)
        s_seconds, s_counts, s_untagged = _theme_seconds(passages)
        total_s += duration
        seconds.update(s_seconds)
        counts.update(s_counts)
        untagged += s_untagged
        label = _session_label(session, wording) or french_text(session.title)
        short = f"S{session.number}" if session.number is not None else label
        heat_labels.append(label)
        shares = [s_seconds[t.id] / (duration or 1) for t in themes]
        heat_values.append(shares)
        heat_rows.append([label, *(percent(v) for v in shares)])
        speakers = _SpeakerDirectory(session, transcript, wording["unknown_speaker"])
        for theme in themes:
            for pid in (tags.get("excerpts") or {}).get(theme.id, []):
                if pid in by_id:
                    excerpts[theme.id].append(
                        _excerpt(by_id[pid], speakers, session.replay_url, wording,
                                 session_label=f"{label} — {french_text(session.title)}",
                                 session_id=session.id))
        for entity in tags.get("entities", []):
            refs = [IndexRef(f"{short} {timestamp(float(by_id[p]['start']))}",
                             replay_link(session.replay_url, float(by_id[p]["start"])))
                    for p in entity.get("passages", []) if p in by_id]
            index_input.append((entity, refs))
        summaries.append(SessionSummary(label, french_text(session.title), french_date(session.date),
                                        session.replay_url))
        reviewed += (tags.get("review") or {}).get("status") == "reviewed"

    chapters = []
    for theme in themes:
        if not excerpts[theme.id]:
            continue
        summary = " · ".join([f"{wording['col_duration']} : {duration_text(seconds[theme.id])}",
                              percent(seconds[theme.id] / (total_s or 1)),
                              f"{counts[theme.id]} {wording['col_passages'].lower()}"])
        chapters.append(ThemeChapter(theme.id, len(chapters) + 1, theme.label, theme.description,
                                     theme.subthemes,
                                     _key_terms([p for _, t, _ in sessions for p in t.get("passages", [])], theme),
                                     french_text(summary), excerpts[theme.id]))

    heatmap = Chart(
        id="sessions", kind="heatmap", title=wording["sessions_title"], caption=wording["sessions_caption"],
        alt=wording["sessions_alt"], image=f"{stem}-sessions.png",
        table=Table(wording["sessions_table_caption"], [wording["col_session"], *(t.label for t in themes)],
                    heat_rows),
        data={"rows": heat_labels, "columns": [t.label for t in themes], "values": heat_values},
    )
    asr_models = sorted({_models_text(t, wording)[0] for _, t, _ in sessions})
    nlp_models = sorted({_models_text(t, wording)[1] for _, t, _ in sessions})
    colophon = [
        wording["colophon_produced"].format(date=_today(), generator=f"Synthèse {__version__}"),
        *(french_text(x) for x in asr_models + nlp_models),
        french_text(wording["colophon_review_cycle"].format(reviewed=reviewed, total=len(sessions))),
        french_text(wording["colophon_disclaimer"]),
    ]
    if config.render.author:
        colophon.append(french_text(wording["colophon_author"].format(author=config.render.author)))
    dates = sorted(s.date for s, _, _ in sessions if s.date)
    return SynthesisDocument(
        kind="cycle",
        stem=stem,
        title=french_text(config.cycle.title),
        kicker=french_text(config.cycle.title) + " · " + wording["cycle_document_kind"],
        document_kind=wording["cycle_document_kind"],
        cycle_title=french_text(config.cycle.title),
        cycle_subtitle=french_text(config.cycle.subtitle),
        organiser=french_text(config.cycle.organiser),
        author=config.render.author or config.cycle.organiser,
        date=(f"{french_date(dates[0])} – {french_date(dates[-1])}" if len(dates) > 1 else french_date(dates[0]))
        if dates else "",
        date_iso=dates[-1].isoformat() if dates else "",
        duration=duration_text(total_s),
        description=french_text(config.cycle.description),
        speakers=[],
        replay_url=None,
        overview=[french_text(wording["cycle_overview_text"].format(sessions=len(sessions),
                                                                    duration=duration_text(total_s)))],
        charts=[_share_chart(stem, themes, seconds, counts, untagged, total_s, wording, cycle=True), heatmap],
        chapters=chapters,
        index=_index(index_input, wording),
        annex=[],
        sessions=summaries,
        colophon=colophon,
        wording=wording,
    )
