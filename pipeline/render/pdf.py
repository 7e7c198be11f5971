"""The synthesis as tagged PDF/UA-1: the standalone HTML laid out by WeasyPrint, which may read
only the templates folders and the folder of the charts."""

from __future__ import annotations

import logging
import mimetypes
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ..core.resources import TemplateSet
from .document import SynthesisDocument

log = logging.getLogger(__name__)


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


def _tag_languages() -> None:
    """Give the PDF's structure elements the language of their HTML element where it has one
    (`lang="en"` on a quote said in English), as PDF/UA asks for text in another language than
    the document's: screen readers then read it with the right voice. WeasyPrint tags the
    document's language only; its tag builder is wrapped once to add the others. Without that
    builder (another WeasyPrint), the PDF keeps the document's language alone."""
    try:
        import pydyf
        from weasyprint.pdf import tags
    except ImportError:
        return
    build = getattr(tags, "_build_box_tree", None)
    if build is None or getattr(build, "tags_languages", False):
        return

    local = threading.local()  # per thread: two documents laid out at once keep their own stack

    def build_with_languages(box, *args, **kwargs):
        inherited = local.__dict__.setdefault("languages", [])  # of the elements being tagged, innermost last
        element = getattr(box, "element", None)
        lang = element.get("lang") if element is not None and getattr(box, "element_tag", None) not in (
            "html", "body") else None
        # Only where the language changes: the boxes inside an element inherit it.
        if not lang or (inherited and inherited[-1] == lang):
            yield from build(box, *args, **kwargs)
            return
        inherited.append(lang)
        try:
            for node in build(box, *args, **kwargs):
                if isinstance(node, dict) and node.get("Type") == "/StructElem":
                    node["Lang"] = pydyf.String(lang)
                yield node
        finally:
            inherited.pop()

    # Marks the wrapper so that it is not wrapped twice; mypy does not model attributes set on a function.
    build_with_languages.tags_languages = True  # type: ignore[attr-defined]
    tags._build_box_tree = build_with_languages


def write_pdf(html: str, target: Path, image_dir: Path, fetcher, info: dict[str, str] | None = None) -> None:
    """Lay out the HTML as a tagged PDF/UA-1 file (fonts embedded, bookmarks from headings,
    passages in another language tagged with it); `info` adds entries to the PDF's document
    information (the review state, what made the document)."""
    from ..core.environment import load_weasyprint

    HTML = load_weasyprint().HTML  # checks the fonts first: without any, Pango crashes the process
    _tag_languages()
    document = HTML(string=html, base_url=image_dir.resolve().as_uri() + "/", url_fetcher=fetcher)

    def add_info(_document, pdf) -> None:
        import pydyf

        for name, value in (info or {}).items():
            pdf.info[name] = pydyf.String(value)

    document.write_pdf(target, pdf_variant="pdf/ua-1", pdf_tags=True, finisher=add_info)


class PdfWriter:
    extension = "pdf"

    def write(self, doc: SynthesisDocument, target: Path, assets_dir: Path, templates: TemplateSet, html: str) -> None:
        # The generator is the PDF's Creator already (the HTML's <meta name="generator">).
        info = {name: value for name, value in doc.metadata.items() if name != "Generator"}
        write_pdf(html, target, assets_dir, restricted_fetcher([*templates.folders, assets_dir]), info)
