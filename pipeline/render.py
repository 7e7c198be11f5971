"""Stage 3, render: a tagged session (or the whole cycle) as PDF, DOCX and HTML.

One SynthesisDocument (pipeline/document.py) feeds every format. HTML comes from the Jinja2
templates in templates/ (autoescaped, strict: transcript text is always data, never template
code); the PDF is that HTML laid out by WeasyPrint as tagged PDF/UA-1, reading only the
templates folder and the output folder; the DOCX is built by pipeline/render_docx.py.
Documents are written atomically and together; the manifest `<stem>.render.json` comes last.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pipeline import render_docx
from pipeline.artefacts import artefact, atomic_path, read_json, write_json
from pipeline.charts import write_charts
from pipeline.config import Config, Session
from pipeline.document import SynthesisDocument, build_cycle_document, build_document, sort_key
from pipeline.errors import SyntheseError
from pipeline.workspace import TEMPLATES_DIR, render_inputs_hash

__all__ = [
    "VALID_FORMATS", "build_document", "build_cycle_document", "render_session", "render_cli",
    "render_cycle", "render_html", "render_html_body", "load_session_inputs",
]

log = logging.getLogger(__name__)

VALID_FORMATS = ("pdf", "docx", "html")
SCHEMA = "synthese.render/1"
STYLESHEET = "synthese.css"


# --- inputs ----------------------------------------------------------------------------------

def check_formats(formats: list[str]) -> list[str]:
    """The formats asked for, lower-cased and de-duplicated; an unknown one is an error."""
    chosen: list[str] = []
    for name in formats:
        name = name.strip().lower()
        if name not in VALID_FORMATS:
            raise SyntheseError(
                f"unknown format {name!r}: choose among {', '.join(VALID_FORMATS)} (e.g. --formats pdf,html)."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise SyntheseError(f"no format chosen: choose among {', '.join(VALID_FORMATS)} (e.g. --formats pdf,html).")
    return chosen


def load_session_inputs(tags_path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Read a tags artefact and the transcript it names (None when that file is missing)."""
    tags = read_json(tags_path, "synthese.tags/")
    name = tags.get("transcript")
    transcript = None
    if name:
        path = tags_path.parent / Path(str(name)).name  # a file name beside the tags, never elsewhere
        if path.is_file():
            transcript = read_json(path, "synthese.transcript/")
        else:
            log.warning("%s: transcript %s not found; the annex is built from the passages", tags_path, path)
    return tags, transcript


def _stem_of(tags_path: Path) -> str:
    name = tags_path.name
    return name[: -len(".tags.json")] if name.endswith(".tags.json") else tags_path.stem


def _session_for(tags: dict[str, Any], tags_path: Path, config: Config) -> Session:
    """The config session the tags belong to, or a minimal one named after the file."""
    session_id = tags.get("session_id")
    for session in config.sessions:
        if session.id == session_id:
            return session
    # A folder-safe id: accents dropped ('Séance 4' -> 'seance-4'), anything else to '-'.
    plain = sort_key(session_id or _stem_of(tags_path))
    safe_id = re.sub(r"[^a-z0-9_-]+", "-", plain).strip("-_")[:64] or "seance"
    return Session(id=safe_id, title=session_id or _stem_of(tags_path), transcript=tags_path)


# --- HTML --------------------------------------------------------------------------------------

def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # Autoescape every template, whatever its extension: all values are text from the document.
    return Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True,
                       undefined=StrictUndefined, keep_trailing_newline=True)


def render_html(doc: SynthesisDocument, *, asset_prefix: str = "") -> str:
    """The document as one standalone HTML page (stylesheet inlined; charts at asset_prefix+name)."""
    from markupsafe import Markup

    css = Markup((TEMPLATES_DIR / STYLESHEET).read_text(encoding="utf-8"))  # our file, not user text
    return _environment().get_template("synthese.html.j2").render(doc=doc, css=css, asset_prefix=asset_prefix)


def render_html_body(doc: SynthesisDocument, *, asset_prefix: str = "") -> str:
    """The document's content as an HTML fragment (no <html>/<head>), to embed in a site page.
    Its classes are styled by templates/synthese.css."""
    return _environment().get_template("synthese_body.html.j2").render(doc=doc, asset_prefix=asset_prefix)


# --- PDF ---------------------------------------------------------------------------------------

def restricted_fetcher(allowed_dirs: list[Path]):
    """A WeasyPrint URL fetcher that reads files under `allowed_dirs` only and refuses any other
    URL (other files, http, data:...). It records what was asked (`requested`, `refused`)."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    roots = [d.resolve() for d in allowed_dirs]

    class FolderFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols=("file",))
            self.requested: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            self.requested.append(url)
            parts = urlsplit(url)
            if parts.scheme == "file" and parts.netloc in ("", "localhost"):
                path = Path(url2pathname(parts.path)).resolve()
                if path.is_file() and any(path.is_relative_to(root) for root in roots):
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": kind})
            self.refused.append(url)
            log.warning("PDF: refused to read %s (only the templates and output folders are read)", url)
            raise ValueError(f"refused: {url}")

    return FolderFetcher()


def write_pdf(html: str, target: Path, image_dir: Path, fetcher=None) -> None:
    """Lay out the HTML as a tagged PDF/UA-1 file (fonts embedded, bookmarks from headings)."""
    from pipeline.environment import load_weasyprint

    HTML = load_weasyprint().HTML  # checks the fonts first: without any, Pango crashes the process
    fetcher = fetcher or restricted_fetcher([TEMPLATES_DIR, image_dir])
    document = HTML(string=html, base_url=image_dir.resolve().as_uri() + "/", url_fetcher=fetcher)
    document.write_pdf(target, pdf_variant="pdf/ua-1", pdf_tags=True)


# --- writing a set of documents -----------------------------------------------------------------

def _write_html(doc: SynthesisDocument, html: str, tmp: Path, out_dir: Path) -> None:
    tmp.write_text(html, encoding="utf-8")


def _write_pdf(doc: SynthesisDocument, html: str, tmp: Path, out_dir: Path) -> None:
    write_pdf(html, tmp, out_dir)


def _write_docx(doc: SynthesisDocument, html: str, tmp: Path, out_dir: Path) -> None:
    render_docx.write_docx(doc, tmp, out_dir)


WRITERS = {"html": _write_html, "docx": _write_docx, "pdf": _write_pdf}


def write_documents(doc: SynthesisDocument, out_dir: Path, formats: list[str]) -> tuple[dict[str, Path], list[Path]]:
    """Write the charts, then every document; the documents appear together or not at all."""
    if "pdf" in formats:
        from pipeline.environment import load_weasyprint

        load_weasyprint()  # a missing font or Pango is reported before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = write_charts(doc.charts, out_dir)
    html = render_html(doc)
    targets = {fmt: out_dir / f"{doc.stem}.{fmt}" for fmt in formats}
    # Each document goes to a temporary file; all are renamed into place only when the last one
    # is complete, so a failure leaves neither a part file nor a mix of old and new documents.
    with contextlib.ExitStack() as stack:
        temporary = {fmt: stack.enter_context(atomic_path(target)) for fmt, target in targets.items()}
        for fmt in formats:
            log.info("render: %s", targets[fmt].name)
            WRITERS[fmt](doc, html, temporary[fmt], out_dir)
    return targets, charts


def render_session(tags_path: Path, session: Session, config: Config, *, out_dir: Path, stem: str,
                   inputs_hash: str, formats: list[str]) -> Path:
    """Render one session's synthesis as `<stem>.pdf/.docx/.html` (+ chart PNGs) in out_dir, then
    write the manifest `<stem>.render.json` last; return the manifest's path."""
    formats = check_formats(formats)
    tags, transcript = load_session_inputs(tags_path)
    doc = build_document(tags, transcript, session, config, stem=stem)
    targets, charts = write_documents(doc, out_dir, formats)
    manifest = artefact(
        SCHEMA, inputs_hash,
        {"formats": formats, "transcript_annex": config.render.transcript_annex, "author": config.render.author},
        session_id=session.id,
        tags=tags_path.name,
        files={fmt: path.name for fmt, path in targets.items()},
        sizes={fmt: path.stat().st_size for fmt, path in targets.items()},
        charts=[path.name for path in charts],
    )
    return write_json(out_dir / f"{stem}.render.json", manifest)


def render_cli(tags: Path, config: Config, *, output_dir: Path | None, formats: list[str] | None) -> Path:
    """`synthese render TAGS.json`: render the session the tags belong to (default output folder:
    `render/` beside the tags); return the manifest's path."""
    chosen = check_formats(formats if formats is not None else list(config.render.formats))
    tags_data = read_json(tags, "synthese.tags/")
    session = _session_for(tags_data, tags, config)
    inputs_hash = render_inputs_hash(tags, session, config)
    out_dir = output_dir if output_dir is not None else tags.parent / "render"
    manifest = render_session(tags, session, config, out_dir=out_dir, stem=_stem_of(tags),
                              inputs_hash=inputs_hash, formats=chosen)
    log.info("Rendered %s into %s", ", ".join(chosen), out_dir)
    return manifest


def render_cycle(config: Config, sessions: list[tuple[Session, Path]], *, out_dir: Path,
                 formats: list[str]) -> dict[str, Path]:
    """The cycle's synthesis, gathering the rendered sessions (session, tags path) theme by theme,
    as `cycle.pdf/.docx/.html` in out_dir; return {format: path}."""
    formats = check_formats(formats)
    if not sessions:
        raise SyntheseError("no rendered session to gather into the cycle synthesis: run `synthese run` first.")
    inputs = [(session, *load_session_inputs(path)) for session, path in sessions]
    doc = build_cycle_document(config, inputs, stem="cycle")
    targets, _ = write_documents(doc, out_dir, formats)
    return targets

