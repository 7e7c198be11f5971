"""Composing the synthesis: the stages' artefacts turned into a SynthesisDocument.

`build_document` makes one session's synthesis from its tags, its transcript, its metadata in
config.yaml and the cycle's codebook; `build_cycle_document` gathers several sessions theme by
theme. French typography is applied here, once; the wording comes from the template set's
wording.fr.yaml.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import __version__
from ..core.approval import voice_pattern
from ..core.artefacts import Approval, Passage, Quote, Tags, Transcript
from ..core.config import Config, Session
from ..core.heard import Mending, mend_turn
from ..core.ideas import recurring_groups, unpack_vector
from ..core.review_file import CycleReview, find_passage
from ..core.typography import (
    counted,
    decimal,
    duration_text,
    french_date,
    french_text,
    guillemets,
    join_list,
    percent,
    timestamp,
)
from .document import (
    AnnexParagraph,
    AxisSection,
    Chart,
    CodebookEntry,
    Excerpt,
    ExcerptGroup,
    ExchangeItem,
    Exchanges,
    GlossaryItem,
    IndexEntry,
    IndexGroup,
    IndexRef,
    KeyMessage,
    KeyMessages,
    Person,
    Publication,
    RecurringIdea,
    ReviewMark,
    SessionSummary,
    SpeakerParagraph,
    SynthesisDocument,
    Table,
    Tension,
    ThemeChapter,
    replay_link,
    sort_key,
)

log = logging.getLogger(__name__)

ENTITY_GROUPS = ("PER", "ORG", "LOC")
KEY_TERMS_PER_THEME = 8
TIMELINE_SLICES = 6
# Steps of the timeline's ticks and slices, in seconds: round times a reader counts in.
TIMELINE_STEPS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800)


@dataclass(frozen=True)
class SessionInputs:
    """What the synthesis of one session is made from."""

    session: Session
    tags: Tags
    transcript: Transcript | None  # None: the annex is built from the passages


@dataclass(frozen=True)
class _ThemeInfo:
    id: str
    label: str
    description: str
    subthemes: list[str]  # as printed
    keywords: list[str]
    subtheme_labels: tuple[str, ...] = ()  # as in the codebook (what quotes record)


def _themes(config: Config, tags: Sequence[Tags]) -> list[_ThemeInfo]:
    """The themes to report, in codebook order: config wording wins, the tags' codebook fills in."""
    infos: dict[str, _ThemeInfo] = {}
    for theme in config.themes:
        infos[theme.id] = _ThemeInfo(theme.id, french_text(theme.label), french_text(theme.description),
                                     [french_text(s.label) for s in theme.subthemes], list(theme.keywords),
                                     tuple(s.label for s in theme.subthemes))
    for tagged in tags:
        for coded in tagged.codebook.themes:
            if coded.id not in infos:
                infos[coded.id] = _ThemeInfo(coded.id, french_text(coded.label), french_text(coded.description),
                                             [], list(coded.keywords))
    return list(infos.values())


def _duration_of(tags: Tags) -> float:
    return float(tags.duration_s or 0) or max((p.end for p in tags.passages), default=0.0)


def _theme_seconds(passages: Sequence[Passage]) -> tuple[defaultdict[str, float], Counter[str], float]:
    """Seconds and passage counts per theme id (0 for a theme not found), and the seconds of
    passages with no theme."""
    seconds: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    untagged = 0.0
    for passage in passages:
        length = max(0.0, passage.end - passage.start)
        ids = {t.id for t in passage.themes}
        for theme_id in ids:
            seconds[theme_id] += length
            counts[theme_id] += 1
        if not ids:
            untagged += length
    return seconds, counts, untagged


def _key_terms(passages: Sequence[Passage], theme: _ThemeInfo) -> list[str]:
    """The keywords found most often for the theme; its codebook keywords when none was."""
    found: Counter = Counter()
    for passage in passages:
        tagged = passage.theme(theme.id)
        if tagged is not None:
            found.update(term.strip() for term in tagged.keywords if term.strip())
    if not found:
        return [french_text(k) for k in theme.keywords[:KEY_TERMS_PER_THEME]]
    return [french_text(term) for term, _ in found.most_common(KEY_TERMS_PER_THEME)]


class _SpeakerDirectory:
    """Finds who speaks in a passage (tags first, then the transcript) and their role."""

    def __init__(self, session: Session, transcript: Transcript | None, wording: dict[str, Any]):
        self.people = {s.name: Person(s.name, s.role, s.organisation) for s in session.speakers}
        self.segments = transcript.segments if transcript else []
        self.unknown = wording["unknown_speaker"]
        self.role_words = {w.lower() for w in wording["role_words"]}

    def speaker_of(self, passage: Passage) -> str:
        if passage.speaker:
            return passage.speaker
        names: list[str] = []
        for segment in self.segments:
            if segment.speaker and segment.end > passage.start and segment.start < passage.end:
                if segment.speaker not in names:
                    names.append(segment.speaker)
        return join_list(names) or self.unknown

    def affiliation(self, name: str) -> str:
        """The role as it reads after a name: 'Claire Dubreuil, sociologue, Université de X'."""
        person = self.people.get(name)
        text = person.affiliation if person else ""
        # A common role word reads in lower case after a name; an acronym or a name stays as is.
        first_word = text.split(maxsplit=1)[0].strip(",").lower() if text else ""
        if first_word in self.role_words:
            text = text[0].lower() + text[1:]
        return french_text(text)


def _excerpt(quote: Quote, passage: Passage, speakers: _SpeakerDirectory, replay_url: str | None,
             wording: dict[str, Any], session_id: str = "", *,
             quoted: bool = False, session_label: str = "") -> Excerpt:
    """A quote (or, `quoted`, a key sentence set in guillemets) with who said it and when."""
    speaker = speakers.speaker_of(passage)
    stamp = timestamp(quote.start)
    lang = passage.lang or ""
    # French typography is for French: a passage said in English keeps its own punctuation.
    text = quote.text.strip() if lang else french_text(quote.text)
    return Excerpt(
        passage_id=passage.id,
        text=guillemets(text) if quoted else text,
        speaker=speaker,
        affiliation=speakers.affiliation(speaker),
        start_s=quote.start,
        end_s=quote.end,
        timestamp=stamp,
        link=replay_link(replay_url, quote.start),
        link_label=wording["listen_at"].format(time=stamp),
        session_id=session_id,
        lang=lang,
        session_label=session_label,
    )


def _groups(theme: _ThemeInfo, quotes: Sequence[Quote], excerpts: Sequence[Excerpt],
            wording: dict[str, Any]) -> list[ExcerptGroup]:
    """The chapter's quotes under the codebook's sub-themes, in its order, then the others;
    one untitled group when the theme has no sub-theme or no quote matches one."""
    if not theme.subthemes or not any(q.subtheme for q in quotes):
        return [ExcerptGroup("", list(excerpts))]
    titles = {label: french_text(label) for label in theme.subtheme_labels}
    groups = []
    for label in [*theme.subtheme_labels, ""]:
        members = [e for q, e in zip(quotes, excerpts) if (q.subtheme if q.subtheme in titles else "") == label]
        if members:
            groups.append(ExcerptGroup(titles.get(label) or wording["other_subtheme"], members))
    return groups


def _no_excerpt(tags: Tags, theme_id: str, wording: dict[str, Any]) -> str:
    """Why a chapter with tagged passages quotes none of them."""
    if int(tags.options.get("excerpts_per_theme", 1) or 0) == 0:
        return wording["no_excerpt_disabled"]
    if any(held.theme == theme_id for held in tags.held):
        return wording["no_excerpt_held"]
    return wording["no_excerpt_reason"].format(low=tags.options.get("quote_min_words", 15),
                                               high=tags.options.get("quote_max_words", 70))


def _share_chart(stem: str, themes: list[_ThemeInfo], seconds: Mapping[str, float], counts: Mapping[str, int],
                 untagged: float, untagged_count: int, total_s: float, wording: dict[str, Any], *,
                 cycle: bool) -> Chart:
    total_s = total_s or 1.0
    # Every theme and the time no theme covers, each on the scale of the whole session (100 %).
    bars = [(t.label, seconds[t.id] / total_s) for t in themes] + [(wording["no_theme"], untagged / total_s)]
    rows = [[t.label, str(counts[t.id]), duration_text(seconds[t.id]), percent(seconds[t.id] / total_s)]
            for t in themes]
    rows.append([wording["no_theme"], str(untagged_count), duration_text(untagged), percent(untagged / total_s)])
    details = "; ".join(f"{label} {percent(share)}" for label, share in bars)
    return Chart(
        id="themes",
        kind="share",
        title=wording["cycle_share_title" if cycle else "share_title"],
        caption=wording["cycle_share_caption" if cycle else "share_caption"],
        alt=wording["share_alt"].format(details=details),
        image=f"{stem}-themes.png",
        image_narrow=f"{stem}-themes-narrow.png",
        table=Table(wording["share_table_caption"],
                    [wording["col_theme"], wording["col_passages"], wording["col_duration"],
                     wording["col_share"]], rows),
        data={"labels": [b[0] for b in bars], "values": [b[1] for b in bars],
              "percent_labels": [percent(b[1]) for b in bars], "muted_last": True},
    )


def _timeline_chart(stem: str, themes: list[_ThemeInfo], passages: Sequence[Passage],
                    total_s: float, wording: dict[str, Any]) -> Chart:
    spans: dict[str, list[tuple[float, float]]] = {t.id: [] for t in themes}
    untagged: list[tuple[float, float]] = []
    for passage in passages:
        for tagged in passage.themes:
            if tagged.id in spans:
                spans[tagged.id].append((passage.start, max(0.0, passage.end - passage.start)))
        if not passage.themes:
            untagged.append((passage.start, max(0.0, passage.end - passage.start)))
    total_s = max(total_s, 1.0)
    step = timeline_step(total_s)
    bounds = [(a, min(a + step, total_s)) for a in range(0, math.ceil(total_s), step) if a < total_s]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < step / 2:  # a short tail joins the slice before
        bounds[-2:] = [(bounds[-2][0], total_s)]
    # Under an hour, 'MM:SS' keeps the column headers short.
    clock = timestamp if total_s >= 3600 else (lambda s: timestamp(s)[3:])
    header = [wording["col_theme"]] + [f"{clock(a)}–{clock(b)}" for a, b in bounds]
    rows = []
    labelled = [(theme.label, spans[theme.id]) for theme in themes] + [(wording["no_theme"], untagged)]
    for label, theme_spans in labelled:
        minutes = []
        for low, high in bounds:
            overlap = sum(max(0.0, min(high, s + w) - max(low, s)) for s, w in theme_spans)
            minutes.append(decimal(overlap / 60))
        rows.append([label, *minutes])
    return Chart(
        id="timeline",
        kind="timeline",
        title=wording["timeline_title"],
        caption=wording["timeline_caption"],
        alt=wording["timeline_alt"].format(duration=duration_text(total_s)),
        image=f"{stem}-timeline.png",
        image_narrow=f"{stem}-timeline-narrow.png",
        table=Table(wording["timeline_table_caption"], header, rows),
        data={"labels": [label for label, _ in labelled], "spans": [theme_spans for _, theme_spans in labelled],
              "duration_s": total_s, "muted_last": True,
              "ticks": [(t, clock(t)) for t in range(0, int(total_s) + 1, step)]},
    )


def timeline_step(total_s: float) -> int:
    """The round step (seconds) of the timeline's ticks and slices: at most TIMELINE_SLICES whole
    steps (a short remainder joins the last slice)."""
    step = next((step for step in TIMELINE_STEPS_S if total_s // step <= TIMELINE_SLICES), None)
    # Beyond the longest step's slices (a session is at most limits.MAX_SESSION_SECONDS, but a
    # hand-edited artefact may say anything): whole hours, so that the chart and its table keep
    # TIMELINE_SLICES columns whatever the duration.
    return step or math.ceil(total_s / TIMELINE_SLICES / 3600) * 3600


def _index(entries: Sequence[tuple[str, str, list[IndexRef]]], wording: dict[str, Any]) -> list[IndexGroup]:
    """Group named entities (text, kind, refs) by kind, merge duplicates, sort them the French way."""
    merged: dict[tuple[str, str], list[IndexRef]] = {}
    names: dict[tuple[str, str], str] = {}
    for text, kind, refs in entries:
        if kind not in ENTITY_GROUPS or not text.strip():
            continue
        key = (kind, sort_key(text))
        names.setdefault(key, french_text(text.strip()))
        known = merged.setdefault(key, [])
        known.extend(r for r in refs if r not in known)
    groups = []
    for kind in ENTITY_GROUPS:
        keys = sorted((k for k in merged if k[0] == kind), key=lambda k: k[1])
        if keys:
            groups.append(IndexGroup(kind, wording["index_groups"][kind],
                                     [IndexEntry(names[k], merged[k]) for k in keys]))
    return groups


def _refs(passage_ids: Sequence[str], by_id: dict[str, Passage], replay_url: str | None,
          session: str = "") -> list[IndexRef]:
    """Where passages start ('00:12:05', or 'S2 00:12:05' with the session), linked to the replay."""
    return [IndexRef(f"{session} {timestamp(by_id[p].start)}".strip(), replay_link(replay_url, by_id[p].start),
                     by_id[p].start)
            for p in passage_ids if p in by_id]


def _references(entries: list[tuple[str, list[IndexRef]]]) -> list[IndexEntry]:
    """References cited (text, refs), merged when written alike, in French alphabetical order."""
    merged: dict[str, tuple[str, list[IndexRef]]] = {}
    for text, refs in entries:
        name, known = merged.setdefault(sort_key(text), (french_text(text), []))
        known.extend(r for r in refs if r not in known)
    return [IndexEntry(name, refs) for _, (name, refs) in sorted(merged.items())]


def _glossary(entries: list[tuple[str, str]]) -> list[GlossaryItem]:
    """The acronyms said (term, expansion), each once, in alphabetical order."""
    found: dict[str, GlossaryItem] = {}
    for term, expansion in entries:
        found.setdefault(term, GlossaryItem(term, french_text(expansion)))
    return [found[term] for term in sorted(found, key=sort_key)]


def _annex(transcript: Transcript | None, passages: Sequence[Passage], replay_url: str | None,
           wording: dict[str, Any]) -> list[AnnexParagraph]:
    """The full text, one paragraph per turn of speech (long turns split at pauses, and where the
    language changes), with a bracketed marker where speech was heard but not transcribed."""
    rows: Sequence[Any] = transcript.segments if transcript else passages
    unknown = wording["unknown_speaker"]
    mending = Mending.from_wording(wording) if transcript is None or (transcript.language or "fr") == "fr" else None
    paragraphs: list[tuple[float, AnnexParagraph]] = []
    current: list[Any] = []

    def flush() -> None:
        if current:
            start = current[0].start
            lang = current[0].lang or ""
            # The recogniser's case and false stops mended where its segments meet, as in the quotes.
            text = mend_turn([row.text for row in current if row.text.strip()], None if lang else mending)[0]
            paragraphs.append((start, AnnexParagraph(timestamp(start), current[0].speaker or unknown,
                                                     text if lang else french_text(text),
                                                     replay_link(replay_url, start), lang=lang, start_s=start)))
            current.clear()

    words = 0
    for row in rows:
        if current:
            same_voice = (row.speaker, row.lang) == (current[0].speaker, current[0].lang)
            pause = row.start - current[-1].end
            if not same_voice or words > 120 or (pause > 2.0 and words > 40):
                flush()
                words = 0
        current.append(row)
        words += len(row.text.split())
    flush()
    for gap in transcript.gaps if transcript else []:
        marker = wording["annex_gap"].format(start=timestamp(gap.start), end=timestamp(gap.end))
        paragraphs.append((gap.start, AnnexParagraph(timestamp(gap.start), "", marker,
                                                     replay_link(replay_url, gap.start), gap=True,
                                                     start_s=gap.start)))
    # Each turn's anchor is the second it starts (a link to it keeps its meaning when the text
    # is corrected), made unique where two turns start within the same second.
    taken: set[str] = set()
    annex = []
    for _, paragraph in sorted(paragraphs, key=lambda item: item[0]):
        anchor = base = f"t-{int(paragraph.start_s)}"
        suffix = 1
        while anchor in taken:
            suffix += 1
            anchor = f"{base}-{suffix}"
        taken.add(anchor)
        annex.append(dataclasses.replace(paragraph, anchor=anchor))
    return annex


def provenance(tags: Sequence[Tags]) -> dict[str, str]:
    """What made the document: the tool, the transcription and language models, the codebook's
    version (several sessions' distinct values joined). For the files' metadata and site.json."""
    def values(found: Sequence[str]) -> str:
        return "; ".join(dict.fromkeys(v for v in found if v))

    asr = []
    for tagged in tags:
        model = tagged.models.asr or {}
        name, engine = str(model.get("name", "")), str(model.get("engine", ""))
        asr.append(f"Whisper {name}" + (f" ({engine})" if engine else "") if name else "")
    return {key: value for key, value in (
        ("generator", f"Synthèse {__version__}"),
        ("transcription", values(asr)),
        ("language_model", values([t.models.nlp for t in tags])),
        ("codebook", values([t.codebook.version for t in tags])),
    ) if value}


def review_mark(approval: Approval, wording: dict[str, Any]) -> ReviewMark:
    """The mark and the note a document carries for its review state."""
    words = wording["review_mark"]
    at = dt.datetime.fromisoformat(approval.at) if approval.at else None
    approved_on = french_date(at.date()) if at else ""
    if approval.state == "approved":
        return ReviewMark("approved", "", "", approval.by, approved_on, approval.at)
    note = words["changed_note" if approval.state == "changed" else "draft_note"]
    return ReviewMark(approval.state, words["mark"], french_text(note.format(by=approval.by, date=approved_on)),
                      approval.by, approved_on, approval.at)


def _review_details(tags: Tags, wording: dict[str, Any]) -> str:
    """What the review did: 'corrigé 12 mots, nommé 2 voix et pris 5 décisions…', '' for nothing."""
    words = wording["review_mark"]
    parts = [counted(words["corrected"], tags.review.corrections) if tags.review.corrections else "",
             counted(words["named"], len(tags.review.speakers)) if tags.review.speakers else "",
             counted(words["decided"], tags.review.decisions_applied) if tags.review.decisions_applied else ""]
    return join_list([p for p in parts if p])


def _colophon(tags: Sequence[Tags], mark: ReviewMark, wording: dict[str, Any], config: Config, *,
              cycle: bool, draft_sessions: Sequence[str] = ()) -> list[str]:
    """The colophon in plain French: what was done automatically, what was reviewed, by whom and
    when; the licence follows it in every format. No tool or model names (they are metadata)."""
    words = wording["review_mark"]
    imported = all(not t.models.asr for t in tags)
    lines = [words["automated_cycle" if cycle else ("automated_imported" if imported else "automated")]]
    if cycle:
        approved = len(tags) - len(draft_sessions)
        lines.append(words["reviewed_cycle"].format(approved=approved,
                                                    total=counted(wording["sessions_count"], len(tags))))
        if draft_sessions:
            lines.append(words["drafts_cycle"].format(sessions=join_list(list(draft_sessions))))
    else:
        details = _review_details(tags[0], wording)
        if mark.state == "approved":
            lines.append(words["reviewed"].format(by=mark.approved_by, date=mark.approved_on))
        elif mark.state == "changed":
            lines.append(words["reviewed_then_changed"].format(by=mark.approved_by, date=mark.approved_on))
        elif not details:
            lines.append(words["not_reviewed"])
        if details:
            lines.append(words["review_details" if mark.state != "draft" else "review_in_progress"].format(
                details=details))
    lines.append(wording["colophon_disclaimer"])
    if config.render.author:
        lines.append(wording["colophon_author"].format(author=config.render.author))
    return [french_text(line) for line in lines]


def _voices_note(names: Sequence[str], wording: dict[str, Any]) -> str:
    """What 'Intervenant 1' means, for the voices not named yet that the document shows."""
    pattern = voice_pattern(wording["speaker_label"])
    unnamed = list(dict.fromkeys(n for n in names if pattern.fullmatch(n)))
    if not unnamed:
        return ""
    forms = wording["review_mark"]["voices_note"]
    labels = join_list([guillemets(n) for n in unnamed])
    return french_text(forms["one" if len(unnamed) == 1 else "many"].format(labels=labels))


def publication(config: Config, wording: dict[str, Any], *, title: str, kind: str, session: str = "",
                approved: dt.date | None = None) -> Publication:
    """The publication details of config.yaml, with the suggested citation filled in. A document
    is published once approved, on the day it was (or config.yaml's publication.date): a draft
    has no publication date and no suggested citation."""
    options = config.publication
    date = options.date or approved
    date = date or dt.date.today()
    fields = {"title": title, "kind": kind, "cycle": config.cycle.title, "session": session,
              "date": french_date(date), "year": str(date.year), "organiser": config.cycle.organiser}
    template = options.citation or wording["citation_default" if session else "citation_default_cycle"]
    logo = options.logo
    return Publication(
        date=french_date(date) if approved else "",
        date_iso=date.isoformat() if approved else "",
        licence=french_text(options.licence),
        licence_url=options.licence_url,
        citation=french_text(" ".join(template.format(**fields).split())) if approved else "",
        contact=options.contact.strip(),
        contact_url=options.contact_url,
        logo=f"logo{logo.suffix.lower()}" if logo else "",
        logo_alt=french_text(options.logo_alt or config.cycle.organiser),
        logo_source=config.resolve(logo) if logo else None,
    )


def _speaking_times(transcript: Transcript | None, passages: Sequence[Passage], wording: dict[str, Any]) -> str:
    """'François Ménard (12 min 05 s, 54 %) et Intervenant 2 (10 min 20 s, 46 %)': each voice's
    time of speech, longest first, from the transcript's segments (the passages without it); ""
    when no segment has a speaker."""
    rows: Sequence[Any] = transcript.segments if transcript else passages
    seconds: Counter = Counter()
    for row in rows:
        if row.speaker:
            seconds[row.speaker] += max(0.0, row.end - row.start)
    total = sum(seconds.values())
    if not total:
        return ""
    return join_list([f"{name} ({duration_text(s)}, {percent(s / total)})" for name, s in seconds.most_common()])


def replay_of(session: Session) -> str | None:
    """Where the documents' times lead: the replay's page, else the replay's file (media_url),
    which a browser opens at the moment asked (#t=90)."""
    return session.replay_url or session.media_url


def session_label(session: Session, wording: dict[str, Any]) -> str:
    """'Séance 2', or '' when the session has no number."""
    return wording["session_number"].format(number=session.number) if session.number is not None else ""


def _chapter_summary(seconds: float, total_s: float, count: int, wording: dict[str, Any]) -> str:
    return french_text(" · ".join([f"{wording['col_duration']} : {duration_text(seconds)}",
                                   percent(seconds / (total_s or 1)),
                                   counted(wording["passages_count"], count)]))


# --- what staff write the synthesis from -----------------------------------------------------------

def _key_messages(tags: Tags, by_id: dict[str, Passage], speakers: _SpeakerDirectory, replay: str | None,
                  wording: dict[str, Any]) -> KeyMessages | None:
    """« À retenir »: the messages staff wrote, each with the moments of its passages; until they
    write some, the proposals, marked as not reviewed (as chosen automatically once the session
    is approved as it is); None when there is neither."""
    written = tags.key_messages.written
    if written:
        return KeyMessages(wording["key_messages"], [
            KeyMessage(french_text(message.text), _refs(message.passages, by_id, replay)) for message in written],
            proposed=False)
    # Tags made before « À retenir » had the session's key points: the same kind of sentences.
    proposals = [p.quote for p in tags.key_messages.proposals] or list(tags.key_points.session)
    proposals = [q for q in proposals if q.passage in by_id]
    if not proposals:
        return None
    excerpts = [_excerpt(q, by_id[q.passage], speakers, replay, wording, quoted=True) for q in proposals]
    # Once a reviewer approved the session as it is, the proposals are what they approved:
    # chosen automatically, no longer unreviewed.
    kind = "key_messages_chosen" if tags.review.approval.final else "key_messages_proposed"
    return KeyMessages(wording["key_messages"], [KeyMessage(e.text, excerpt=e) for e in excerpts], proposed=True,
                       subtitle=wording[kind], note=french_text(wording[f"{kind}_note"]))


def _speech_seconds(transcript: Transcript | None, passages: Sequence[Passage]) -> float:
    """The time of speech of every voice together (the transcript's turns, else the passages')."""
    rows: Sequence[Any] = transcript.segments if transcript else passages
    return sum(max(0.0, row.end - row.start) for row in rows if row.speaker)


def _speaker_paragraphs(session: Session, tags: Tags, by_id: dict[str, Passage], speakers: _SpeakerDirectory,
                        replay: str | None, themes: Sequence[_ThemeInfo], speech_s: float,
                        wording: dict[str, Any]) -> list[SpeakerParagraph]:
    """« Les intervenants »: one paragraph per named voice, the most time of speech first."""
    labels = {t.id: t.label for t in themes}
    paragraphs = []
    for number, summary in enumerate(tags.speakers, start=1):
        person = speakers.people.get(summary.name)
        details = " · ".join([wording["speaker_details"].format(
            duration=duration_text(summary.seconds), share=percent(summary.seconds / (speech_s or 1))),
            counted(wording["passages_count"], summary.passages)])
        spoken = [labels[t] for t in summary.themes if t in labels]
        paragraphs.append(SpeakerParagraph(
            name=french_text(summary.name),
            affiliation=french_text(person.affiliation) if person else "",
            presentation=french_text(summary.presentation),
            details=french_text(details),
            themes=french_text(wording["speaker_themes"].format(themes=join_list(spoken))) if spoken else "",
            quotes=[_excerpt(q, by_id[q.passage], speakers, replay, wording, quoted=True)
                    for q in summary.quotes if q.passage in by_id],
            anchor=f"speaker-{number}",
        ))
    return paragraphs


def _exchanges(tags: Tags, by_id: dict[str, Passage], speakers: _SpeakerDirectory, replay: str | None,
               wording: dict[str, Any]) -> Exchanges | None:
    """Questions and answers: those staff marked, else those proposed (marked as such)."""
    found = [e for e in tags.exchanges if e.question.passage in by_id]
    if not found:
        return None
    proposed = all(e.source == "proposed" for e in found)

    def excerpt(quote: Quote | None) -> Excerpt | None:
        if quote is None or quote.passage not in by_id:
            return None
        return _excerpt(quote, by_id[quote.passage], speakers, replay, wording, quoted=True)

    items = [ExchangeItem(excerpt(e.question), excerpt(e.answer)) for e in found]  # type: ignore[arg-type]
    return Exchanges(items, proposed, french_text(wording["exchanges_proposed_note" if proposed else "exchanges_note"]))


def _codebook(themes: Sequence[_ThemeInfo]) -> list[CodebookEntry]:
    """The themes, described once (the chapters do not repeat their descriptions)."""
    return [CodebookEntry(f"codebook-{t.id}", t.label, t.description, list(t.subthemes)) for t in themes]


def _codebook_axes(config: Config) -> list[CodebookEntry]:
    return [CodebookEntry(f"codebook-axis-{a.id}", french_text(a.label), french_text(a.description))
            for a in config.cycle.axes]


# --- the cycle's synthesis: across sessions ---------------------------------------------------------

RECURRING_IDEAS = 8  # at most, the ideas shared by the most sessions first
TABLE_SPEAKERS = 4  # speakers named in a chapter's table, per session (the most time first)


def _theme_table(themes: Sequence[_ThemeInfo], sessions: Sequence[SessionInputs], wording: dict[str, Any]) -> Table:
    """Themes × sessions: in each cell the passages tagged with the theme and their time."""
    per_session = [_theme_seconds(i.tags.passages)[:2] for i in sessions]
    rows = []
    for theme in themes:
        if not any(counts[theme.id] for _, counts in per_session):
            continue
        rows.append([theme.label, *(french_text(wording["theme_table_cell"].format(
            passages=counted(wording["passages_count"], counts[theme.id]), duration=duration_text(seconds[theme.id])))
            if counts[theme.id] else "—" for seconds, counts in per_session)])
    header = [wording["col_theme"], *(session_label(i.session, wording) or french_text(i.session.title)
                                      for i in sessions)]
    return Table(wording["theme_table_caption"], header, rows)


def _theme_sessions_table(theme: _ThemeInfo, sessions: Sequence[SessionInputs], wording: dict[str, Any]) -> Table:
    """A chapter's table in the cycle's synthesis: the sessions that addressed the theme, who
    spoke to it there (their time on it), its passages and their time."""
    rows = []
    for inputs in sessions:
        directory = _SpeakerDirectory(inputs.session, inputs.transcript, wording)
        tagged = [p for p in inputs.tags.passages if p.theme(theme.id) is not None]
        if not tagged:
            continue
        voices: defaultdict[str, float] = defaultdict(float)
        for passage in tagged:
            voices[directory.speaker_of(passage)] += max(0.0, passage.end - passage.start)
        # Longest first; among equal times, the first to speak (as Counter.most_common orders them).
        longest = sorted(voices.items(), key=lambda item: item[1], reverse=True)[:TABLE_SPEAKERS]
        named = [f"{name} ({duration_text(time)})" for name, time in longest]
        if len(voices) > TABLE_SPEAKERS:
            named.append(counted(wording["more_speakers"], len(voices) - TABLE_SPEAKERS))
        rows.append([session_label(inputs.session, wording) or french_text(inputs.session.title),
                     french_text(join_list(named)), str(len(tagged)),
                     duration_text(sum(max(0.0, p.end - p.start) for p in tagged))])
    return Table(wording["chapter_table_caption"],
                 [wording["col_session"], wording["col_speakers"], wording["col_passages"], wording["col_duration"]],
                 rows, numeric_from=2)


def _recurring_ideas(sessions: Sequence[SessionInputs], wording: dict[str, Any]
                     ) -> tuple[list[RecurringIdea], set[tuple[str, str, int]]]:
    """The ideas said in several sessions: each session's statements (the tags' `statements`,
    with their sentence vectors) grouped when they say the same thing (core/ideas.py); and the
    sentences they print, (session id, passage id, sentence index)."""
    import numpy as np

    rows = []
    for inputs in sessions:
        by_id = {p.id: p for p in inputs.tags.passages}
        rows += [(inputs, statement) for statement in inputs.tags.statements if statement.passage in by_id]
    if len({inputs.session.id for inputs, _ in rows}) < 2:
        return [], set()
    vectors = [unpack_vector(statement.vector) for _, statement in rows]
    dims = {len(v) for v in vectors}
    if len(dims) != 1:
        log.warning("recurring ideas: the sessions' sentence vectors differ in size (another encoder); none found")
        return [], set()
    groups = recurring_groups(np.array(vectors), [inputs.session.id for inputs, _ in rows], limit=len(rows))
    # An idea is printed when one of its sentences at least can be (the others are pointed to).
    groups = [g for g in groups if any(not rows[k][1].doubtful for k in g)][:RECURRING_IDEAS]
    ideas = []
    printed = {(rows[k][0].session.id, rows[k][1].passage, rows[k][1].sentence) for g in groups for k in g
               if not rows[k][1].doubtful}
    for group in groups:
        excerpts = []
        for k in sorted(group, key=lambda k: ([i.session.id for i in sessions].index(rows[k][0].session.id),
                                              rows[k][1].start)):
            inputs, statement = rows[k]
            passage = next(p for p in inputs.tags.passages if p.id == statement.passage)
            quote = Quote(passage=statement.passage, start=statement.start, end=statement.end, text=statement.text,
                          sentences=[statement.sentence])
            excerpt = _excerpt(quote, passage, _SpeakerDirectory(inputs.session, inputs.transcript, wording),
                               replay_of(inputs.session), wording, session_id=inputs.session.id, quoted=True,
                               session_label=session_label(inputs.session, wording) or french_text(inputs.session.title))
            if statement.doubtful:
                excerpt = replace(excerpt, text=wording["recurring_held"], held=True, lang="")
            excerpts.append(excerpt)
        ideas.append(RecurringIdea(excerpts))
    return ideas, printed


def _tensions(review: CycleReview, sessions: Sequence[SessionInputs], wording: dict[str, Any]) -> list[Tension]:
    """The tensions staff point out, each with the moments of the passages they name (a passage
    that names no session or passage of the cycle is reported and left out)."""
    by_session = {i.session.id: i for i in sessions}
    found = []
    for tension in review.tensions:
        refs = []
        for session_id, key in tension.passages:
            inputs = by_session.get(session_id)
            passage = find_passage(key, inputs.tags.passages) if inputs is not None else None
            if inputs is None or passage is None:
                log.warning("cycle review: %s: passage \"%s %s\" not found in the cycle's sessions; left out",
                            tension.describe(), session_id, key)
                continue
            # Who said it, where and when, as the recurring ideas attribute their sentences: a
            # tension opposes people, so the reader sees who holds each side.
            speaker = _SpeakerDirectory(inputs.session, inputs.transcript, wording).speaker_of(passage)
            where = session_label(inputs.session, wording) or french_text(inputs.session.title)
            refs.append(IndexRef(" · ".join([speaker, where, timestamp(passage.start)]),
                                 replay_link(replay_of(inputs.session), passage.start), passage.start))
        found.append(Tension(french_text(tension.text), refs))
    return found


def _axis_sections(config: Config, sessions: Sequence[SessionInputs], themes: Sequence[_ThemeInfo],
                   printed: set[tuple[str, str, int]], wording: dict[str, Any]) -> list[AxisSection]:
    """One section per transversal axis: how many passages of which sessions and themes it
    crosses, and its sentences session by session (those printed as recurring ideas left out)."""
    labels = {t.id: t.label for t in themes}
    sections = []
    for axis in config.cycle.axes:
        passages = 0
        in_sessions: list[str] = []
        theme_count: Counter = Counter()
        groups = []
        for inputs in sessions:
            tagged = [p for p in inputs.tags.passages if any(a.id == axis.id for a in p.axes)]
            if tagged:
                passages += len(tagged)
                in_sessions.append(inputs.session.id)
                theme_count.update(t.id for p in tagged for t in p.themes if t.id in labels)
            by_id = {p.id: p for p in inputs.tags.passages}
            directory = _SpeakerDirectory(inputs.session, inputs.transcript, wording)
            label = session_label(inputs.session, wording)
            excerpts = [_excerpt(q, by_id[q.passage], directory, replay_of(inputs.session), wording,
                                 session_id=inputs.session.id)
                        for q in inputs.tags.axis_quotes.get(axis.id, [])
                        if q.passage in by_id and not any((inputs.session.id, q.passage, i) in printed
                                                          for i in q.sentences)]
            if excerpts:
                heading = f"{label} — {french_text(inputs.session.title)}" if label else french_text(inputs.session.title)
                groups.append(ExcerptGroup(heading, excerpts))
        themes_text = join_list([f"{labels[t]} ({n})" for t, n in theme_count.most_common(3)])
        numbers = {"passages": counted(wording["passages_count"], passages),
                   "sessions": counted(wording["sessions_count"], len(in_sessions)), "themes": themes_text}
        summary = wording["axis_summary" if themes_text else "axis_summary_no_theme"].format(**numbers)
        sections.append(AxisSection(
            axis.id, french_text(axis.label), french_text(axis.description),
            french_text(summary) if passages else "", groups,
            empty="" if groups else wording["axis_no_excerpt" if passages else "axis_none"]))
    return sections


# --- the two documents -----------------------------------------------------------------------

def build_document(inputs: SessionInputs, config: Config, *, stem: str | None = None) -> SynthesisDocument:
    """The synthesis of one session."""
    wording = config.templates.wording()
    session, tags, transcript = inputs.session, inputs.tags, inputs.transcript
    stem = stem or session.id
    passages = tags.passages
    by_id = {p.id: p for p in passages}
    themes = _themes(config, [tags])
    total_s = _duration_of(tags)
    seconds, counts, untagged = _theme_seconds(passages)
    speakers = _SpeakerDirectory(session, transcript, wording)
    replay = replay_of(session)

    def excerpts_of(quotes: Sequence[Quote], *, quoted: bool = False) -> list[Excerpt]:
        return [_excerpt(q, by_id[q.passage], speakers, replay, wording, quoted=quoted) for q in quotes]

    chapters: list[ThemeChapter] = []
    for theme in themes:
        quoted = sorted((q for q in tags.excerpts.get(theme.id, []) if q.passage in by_id), key=lambda q: q.start)
        if not counts[theme.id] and not quoted:
            continue  # not discussed: named in the overview rather than given an empty chapter
        excerpts = excerpts_of(quoted)
        key_points = [q for q in tags.key_points.themes.get(theme.id, []) if q.passage in by_id]
        chapters.append(ThemeChapter(
            id=theme.id,
            number=len(chapters) + 1,
            label=theme.label,
            description=theme.description,
            subthemes=theme.subthemes,
            key_terms=_key_terms(passages, theme),
            summary=_chapter_summary(seconds[theme.id], total_s, counts[theme.id], wording),
            excerpts=excerpts,
            groups=_groups(theme, quoted, excerpts, wording),
            key_points=excerpts_of(key_points, quoted=True),
            no_excerpt="" if excerpts else _no_excerpt(tags, theme.id, wording),
        ))

    tagged = sum(1 for p in passages if p.themes)
    overview = [french_text(wording["overview_text"].format(
        duration=duration_text(total_s), passages=counted(wording["passages_count"], len(passages)),
        tagged=counted(wording["tagged_count"], tagged), themes=counted(wording["themes_count"], len(themes))))]
    ranked = sorted((t for t in themes if seconds[t.id]), key=lambda t: -seconds[t.id])[:3]
    if ranked:
        top = join_list([f"{t.label} ({percent(seconds[t.id] / (total_s or 1))})" for t in ranked])
        overview.append(french_text(wording["overview_top"].format(top=top)))
    absent = [t.label for t in themes if not counts[t.id]]
    if absent:
        overview.append(french_text(wording["overview_absent"].format(labels=join_list(absent))))
    speaking = _speaking_times(transcript, passages, wording)
    if speaking:
        overview.append(french_text(wording["overview_speaking"].format(speakers=speaking)))
    # Where the voices first appear: what "Intervenant 1" means until the review names it.
    voices = [speakers.speaker_of(p) for p in passages]
    voices += [s.speaker for s in transcript.segments if s.speaker] if transcript else []
    note = _voices_note(voices, wording)
    if note:
        overview.append(note)

    # What staff write the synthesis from (tag/synthesis.py): « À retenir », the speakers, the
    # questions; the themes described once, in the annex.
    key_messages = _key_messages(tags, by_id, speakers, replay, wording)
    speaker_paragraphs = _speaker_paragraphs(session, tags, by_id, speakers, replay, themes,
                                             _speech_seconds(transcript, passages), wording)
    exchanges = _exchanges(tags, by_id, speakers, replay, wording)

    index_input = [(entity.text, entity.label, _refs(entity.passages, by_id, replay))
                   for entity in tags.entities if entity.listed]

    references = [(r.text, _refs(r.passages, by_id, replay)) for r in tags.references]

    mark = review_mark(tags.review.approval, wording)
    colophon = _colophon([tags], mark, wording, config, cycle=False)

    label = session_label(session, wording)
    approval = tags.review.approval
    return SynthesisDocument(
        key_messages=key_messages,
        speaker_paragraphs=speaker_paragraphs,
        exchanges=exchanges,
        codebook=_codebook(themes),
        codebook_axes=_codebook_axes(config),
        publication=publication(config, wording, title=session.title, kind=wording["document_kind"],
                                session=label, approved=approval.date if approval.final else None),
        review=mark,
        provenance=provenance([tags]),
        speakers_label=wording["speakers"],
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
            _share_chart(stem, themes, seconds, counts, untagged, len(passages) - tagged, total_s, wording,
                         cycle=False),
            _timeline_chart(stem, themes, passages, total_s, wording),
        ],
        chapters=chapters,
        index=_index(index_input, wording),
        references=_references(references),
        glossary=_glossary([(g.term, g.expansion) for g in tags.glossary]),
        annex=_annex(transcript, passages, replay, wording) if config.render.transcript_annex else [],
        sessions=[],
        colophon=colophon,
        wording=wording,
    )


def build_cycle_document(config: Config, sessions: Sequence[SessionInputs], *, stem: str = "cycle",
                         review: CycleReview | None = None) -> SynthesisDocument:
    """The cycle's synthesis: the introduction staff wrote (`review`, the cycle's review file),
    which sessions and speakers addressed each theme, the ideas that recur from one session to
    another, the tensions staff point out, every session's excerpts gathered theme by theme, and
    one section per transversal axis of the programme."""
    review = review or CycleReview()
    wording = config.templates.wording()
    themes = _themes(config, [inputs.tags for inputs in sessions])
    total_s = 0.0
    seconds: defaultdict[str, float] = defaultdict(float)
    counts: Counter[str] = Counter()
    untagged = 0.0
    untagged_count = 0
    heat_rows: list[list[str]] = []
    heat_values: list[list[float]] = []
    heat_labels: list[str] = []
    excerpts: dict[str, list[Excerpt]] = {t.id: [] for t in themes}
    # Each chapter's quotes under their session, named once: (session heading, its excerpts).
    by_session: dict[str, list[ExcerptGroup]] = {t.id: [] for t in themes}
    index_input = []
    references: list[tuple[str, list[IndexRef]]] = []
    glossary: list[tuple[str, str]] = []
    summaries = []
    drafts: list[str] = []  # the sessions not approved, as the cycle's synthesis names them
    approved_dates: list[Approval] = []
    voices: list[str] = []
    # The ideas that recur first: a sentence they print is not quoted again in a chapter (unless
    # it is the chapter's only quote of the session).
    recurring, in_ideas = _recurring_ideas(sessions, wording)
    for session, tags, transcript in ((i.session, i.tags, i.transcript) for i in sessions):
        passages = tags.passages
        by_id = {p.id: p for p in passages}
        duration = _duration_of(tags)
        s_seconds, s_counts, s_untagged = _theme_seconds(passages)
        total_s += duration
        for theme_id, theme_s in s_seconds.items():
            seconds[theme_id] += theme_s
        counts.update(s_counts)
        untagged += s_untagged
        untagged_count += sum(1 for p in passages if not p.themes)
        label = session_label(session, wording) or french_text(session.title)
        short = f"S{session.number}" if session.number is not None else label
        heat_labels.append(label)
        shares = [s_seconds[t.id] / (duration or 1) for t in themes] + [s_untagged / (duration or 1)]
        heat_values.append(shares)
        heat_rows.append([label, *(percent(v) for v in shares)])
        speakers = _SpeakerDirectory(session, transcript, wording)
        heading = f"{label} — {french_text(session.title)}" if session_label(session, wording) else label
        for theme in themes:
            quotes = [q for q in sorted(tags.excerpts.get(theme.id, []), key=lambda q: q.start) if q.passage in by_id]
            fresh = [q for q in quotes if not any((session.id, q.passage, i) in in_ideas for i in q.sentences)]
            group = [_excerpt(quote, by_id[quote.passage], speakers, replay_of(session), wording,
                              session_id=session.id)
                     for quote in (fresh or quotes)]
            if group:
                excerpts[theme.id] += group
                voices += [excerpt.speaker for excerpt in group]
                by_session[theme.id].append(ExcerptGroup(heading, group))
        for entity in [e for e in tags.entities if e.listed]:
            index_input.append((entity.text, entity.label, _refs(entity.passages, by_id, replay_of(session), short)))
        references += [(r.text, _refs(r.passages, by_id, replay_of(session), short)) for r in tags.references]
        glossary += [(g.term, g.expansion) for g in tags.glossary]
        final = tags.review.approval.final
        summaries.append(SessionSummary(label, french_text(session.title), french_date(session.date),
                                        replay_of(session), "" if final else wording["review_mark"]["draft_session"]))
        if not final:
            drafts.append(f"{label} ({french_text(session.title)})" if label != french_text(session.title) else label)
        else:
            approved_dates.append(tags.review.approval)

    all_passages = [p for inputs in sessions for p in inputs.tags.passages]
    chapters: list[ThemeChapter] = []
    for theme in themes:
        if not excerpts[theme.id]:
            continue
        chapters.append(ThemeChapter(theme.id, len(chapters) + 1, theme.label, theme.description,
                                     theme.subthemes, _key_terms(all_passages, theme),
                                     _chapter_summary(seconds[theme.id], total_s, counts[theme.id], wording),
                                     excerpts[theme.id], groups=by_session[theme.id],
                                     table=_theme_sessions_table(theme, sessions, wording)))

    heatmap = Chart(
        id="sessions", kind="heatmap", title=wording["sessions_title"], caption=wording["sessions_caption"],
        alt=wording["sessions_alt"], image=f"{stem}-sessions.png", image_narrow=f"{stem}-sessions-narrow.png",
        table=Table(wording["sessions_table_caption"],
                    [wording["col_session"], *(t.label for t in themes), wording["no_theme"]], heat_rows),
        data={"rows": heat_labels, "columns": [*(t.label for t in themes), wording["no_theme"]], "values": heat_values,
              "legend": wording["sessions_legend"]},
    )
    # The cycle's synthesis is final once every session is; it is published when the last was approved.
    if drafts:
        mark = ReviewMark("draft", wording["review_mark"]["mark"], french_text(
            wording["review_mark"]["cycle_draft_note"].format(sessions=join_list(drafts))))
        last_approval = None
    else:
        latest = max(approved_dates, key=lambda a: a.at)
        mark = ReviewMark("approved", approved_on=french_date(latest.date), approved_iso=latest.at)
        last_approval = latest.date
    colophon = _colophon([i.tags for i in sessions], mark, wording, config, cycle=True, draft_sessions=drafts)
    overview = [french_text(wording["cycle_overview_text"].format(
        sessions=counted(wording["sessions_count"], len(sessions)), duration=duration_text(total_s)))]
    if drafts:
        overview.append(mark.note)
    note = _voices_note(voices, wording)
    if note:
        overview.append(note)
    dates = sorted(i.session.date for i in sessions if i.session.date)
    return SynthesisDocument(
        introduction=[french_text(paragraph) for paragraph in review.introduction],
        theme_table=_theme_table(themes, sessions, wording),
        recurring=recurring,
        tensions=_tensions(review, sessions, wording),
        axes=_axis_sections(config, sessions, themes, in_ideas, wording),
        codebook=_codebook(themes),
        codebook_axes=_codebook_axes(config),
        publication=publication(config, wording, title=config.cycle.title, kind=wording["cycle_document_kind"],
                                approved=last_approval),
        review=mark,
        provenance=provenance([i.tags for i in sessions]),
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
        overview=overview,
        charts=[_share_chart(stem, themes, seconds, counts, untagged, untagged_count, total_s, wording, cycle=True),
                heatmap],
        chapters=chapters,
        index=_index(index_input, wording),
        references=_references(references),
        glossary=_glossary(glossary),
        annex=[],
        sessions=summaries,
        colophon=colophon,
        wording=wording,
    )
