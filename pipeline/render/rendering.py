"""Stage 3, render: a tagged session (or the whole cycle) as PDF, DOCX, ODT and HTML.

One SynthesisDocument (compose.py) feeds every format; each format is a writer with an
`extension` and one `write()` (html.py, pdf.py, docx.py, odt.py). The documents are
written to temporary files and renamed into place together, so a failure leaves neither a part
file nor a mix of old and new documents. The stage returns the RenderManifest that describes
them, including what the readers' site shows of the document, so publishing never rebuilds it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..core.artefacts import Approval, PageSummary, RenderKind, RenderManifest, SiteExcerpt, Tags, ThemeCount, Transcript
from ..core.config import Config, Speaker
from ..core.errors import SyntheseError
from ..core.resources import TemplateSet
from ..core.review_file import CycleReview
from ..core.storage import atomic_path, write_bytes, write_text
from ..core.typography import duration_text, french_date, french_text
from .charts import write_charts
from .compose import SessionInputs, build_cycle_document, build_document, session_label
from .document import SynthesisDocument
from .docx import DocxWriter
from .html import HtmlWriter, render_html, render_html_body
from .odt import OdtWriter
from .pdf import PdfWriter

__all__ = ["VALID_FORMATS", "WRITERS", "check_formats", "render_cycle", "render_session", "write_documents",
           "write_subtitles"]

log = logging.getLogger(__name__)

WRITERS = {writer.extension: writer for writer in (PdfWriter(), DocxWriter(), OdtWriter(), HtmlWriter())}
VALID_FORMATS = ("pdf", "docx", "odt", "html")


def check_formats(formats: Sequence[str]) -> list[str]:
    """The formats asked for, lower-cased and de-duplicated; an unknown one is an error."""
    chosen: list[str] = []
    for name in formats:
        name = name.strip().lower()
        if name not in WRITERS:
            raise SyntheseError(
                f"unknown format {name!r}: choose among {', '.join(VALID_FORMATS)} (e.g. --formats pdf,html)."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise SyntheseError(f"no format chosen: choose among {', '.join(VALID_FORMATS)} (e.g. --formats pdf,html).")
    return chosen


def write_documents(doc: SynthesisDocument, out_dir: Path, formats: Sequence[str],
                    templates: TemplateSet) -> tuple[dict[str, Path], list[Path]]:
    """Write the charts (and the logo), then every document; the documents appear together or
    not at all. Returns the documents and the images beside them."""
    if "pdf" in formats:
        from ..core.environment import load_weasyprint

        load_weasyprint()  # a missing font or Pango is reported before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = write_charts(doc.charts, out_dir)
    logo = doc.publication.logo_source
    if logo is not None:  # beside the charts: the PDF reads images from that folder only
        charts.append(write_bytes(out_dir / doc.publication.logo, logo.read_bytes()))
    html = render_html(doc, templates)
    targets = {fmt: out_dir / f"{doc.stem}.{fmt}" for fmt in formats}
    with contextlib.ExitStack() as stack:
        temporary = {fmt: stack.enter_context(atomic_path(target)) for fmt, target in targets.items()}
        for fmt in formats:
            log.info("render: %s", targets[fmt].name)
            WRITERS[fmt].write(doc, temporary[fmt], out_dir, templates, html)
    return targets, charts


def _manifest(doc: SynthesisDocument, config: Config, out_dir: Path, formats: list[str], page: PageSummary,
              *, kind: RenderKind, session_id: str | None, sources: list[str]) -> RenderManifest:
    """Write the documents and the site's fragment; return the manifest describing them."""
    templates = config.templates
    targets, charts = write_documents(doc, out_dir, formats, templates)
    fragment = write_text(out_dir / f"{doc.stem}.site.html",
                          render_html_body(doc, templates, asset_prefix=f"{doc.stem}/"))
    review = doc.review
    return RenderManifest(
        approval=Approval(state=review.state, by=review.approved_by, at=review.approved_iso),
        provenance=doc.provenance,
        options={"formats": formats, "transcript_annex": config.render.transcript_annex,
                 "author": config.render.author, "publication": config.publication.model_dump(mode="json")},
        kind=kind,
        session_id=session_id,
        stem=doc.stem,
        sources=sources,
        files={fmt: path.name for fmt, path in targets.items()},
        sizes={fmt: path.stat().st_size for fmt, path in targets.items()},
        charts=[path.name for path in charts],
        fragment=fragment.name,
        page=page,
    )


def _theme_counts(config: Config, tags: Sequence[Tags]) -> list[ThemeCount]:
    """Every codebook theme with the number of passages tagged with it, most present first
    (ties keep the codebook's order)."""
    counts: Counter[str] = Counter()
    for tagged in tags:
        for passage in tagged.passages:
            counts.update({t.id for t in passage.themes})
    themes = [ThemeCount(id=t.id, label=french_text(t.label), passages=counts.get(t.id, 0)) for t in config.themes]
    return sorted(themes, key=lambda t: -t.passages)


def _speaker_line(speaker: Speaker) -> str:
    details = ", ".join(part for part in (speaker.role, speaker.organisation) if part)
    return french_text(f"{speaker.name} ({details})" if details else speaker.name)


def _site_excerpts(doc: SynthesisDocument) -> dict[str, list[SiteExcerpt]]:
    return {chapter.id: [SiteExcerpt(text=e.text, speaker=e.speaker, start_s=e.start_s, timestamp=e.timestamp,
                                     anchor=f"{chapter.id}-{e.anchor}", replay_href=e.link, lang=e.lang)
                         for e in chapter.excerpts]
            for chapter in doc.chapters}


def _summary_points(doc: SynthesisDocument) -> list[SiteExcerpt]:
    """What the site's feed says of the session: its « À retenir », the messages staff wrote (at
    the moment of their first passage) or the proposals (who said them, when)."""
    if doc.key_messages is None:
        return []
    points = []
    for message in doc.key_messages.messages:
        said = message.excerpt
        if said is not None:
            points.append(SiteExcerpt(text=said.text, speaker=said.speaker, start_s=said.start_s,
                                      timestamp=said.timestamp, anchor="", replay_href=said.link, lang=said.lang))
        else:
            first = message.refs[0] if message.refs else None
            points.append(SiteExcerpt(text=message.text, speaker="", start_s=first.start_s or 0.0 if first else 0.0,
                                      timestamp=first.label if first else "", anchor="",
                                      replay_href=first.link if first else None))
    return points


def render_session(inputs: SessionInputs, config: Config, *, out_dir: Path, stem: str,
                   formats: Sequence[str] | None = None) -> RenderManifest:
    """Render one session's synthesis as `<stem>.pdf/.docx/.html` (+ charts and the site's
    fragment) in out_dir; return its manifest (saving it is the caller's: it marks the stage done)."""
    chosen = check_formats(formats if formats is not None else config.render.formats)
    doc = build_document(inputs, config, stem=stem)
    session, wording = inputs.session, config.templates.wording()
    page = PageSummary(
        title=french_text(session.title),
        label=session_label(session, wording) or wording["site"]["session_fallback"],
        date=french_date(session.date),
        date_iso=session.date.isoformat() if session.date else "",
        duration=duration_text(inputs.tags.duration_s) if inputs.tags.duration_s else "",
        description=french_text(session.description),
        speakers=[_speaker_line(s) for s in session.speakers],
        replay_url=session.replay_url,
        theme_counts=_theme_counts(config, [inputs.tags]),
        excerpts=_site_excerpts(doc),
        citation=doc.publication.citation,
        review_mark=doc.review.mark,
        review_note=doc.review.note,
        summary_points=_summary_points(doc),
    )
    sources = [inputs.tags.path.name] if inputs.tags.path else []
    manifest = _manifest(doc, config, out_dir, chosen, page, kind="session", session_id=session.id, sources=sources)
    if inputs.transcript is not None:
        subtitles = write_subtitles(inputs.transcript, out_dir, stem)
        manifest.files["vtt"] = subtitles.name
        manifest.sizes["vtt"] = subtitles.stat().st_size
    return manifest


def write_subtitles(transcript: Transcript, out_dir: Path, stem: str) -> Path:
    """The readers' subtitles, `<stem>.vtt`, from the transcript the documents were made from:
    as reviewed (misheard words corrected, voices named), unlike the machine's captions beside
    the transcript."""
    from ..core.subtitles import to_vtt

    return write_text(out_dir / f"{stem}.vtt", to_vtt(transcript.segments))


def render_cycle(sessions: Sequence[SessionInputs], config: Config, *, out_dir: Path,
                 formats: Sequence[str] | None = None, stem: str = "cycle",
                 review: CycleReview | None = None) -> RenderManifest:
    """The cycle's synthesis, gathering the sessions theme by theme, as `cycle.pdf/.docx/.html`;
    `review`: what staff wrote in the cycle's review file (introduction, tensions)."""
    chosen = check_formats(formats if formats is not None else config.render.formats)
    if not sessions:
        raise SyntheseError("no rendered session to gather into the cycle synthesis: run `synthese run` first.")
    doc = build_cycle_document(config, sessions, stem=stem, review=review)
    wording = config.templates.wording()
    page = PageSummary(
        title=french_text(config.cycle.title),
        label=wording["cycle_document_kind"],
        date=doc.date,
        date_iso=doc.date_iso,
        duration=doc.duration,
        description=doc.description,
        theme_counts=_theme_counts(config, [i.tags for i in sessions]),
        excerpts=_site_excerpts(doc),
        citation=doc.publication.citation,
        review_mark=doc.review.mark,
        review_note=doc.review.note,
    )
    sources = [f"{i.session.id}/{i.tags.path.name}" for i in sessions if i.tags.path]
    return _manifest(doc, config, out_dir, chosen, page, kind="cycle", session_id=None, sources=sources)
