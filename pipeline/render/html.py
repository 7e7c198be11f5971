"""The synthesis as HTML: a standalone page (the HTML download, and the source of the PDF) and a
fragment for the readers' site. Jinja2 templates from the template set, autoescaped and strict:
transcript text is always data, never template code."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Callable
from pathlib import Path

from ..core.resources import TemplateSet
from .document import SynthesisDocument

STYLESHEET = "synthese.css"


def _asset_links(asset_prefix: str, embed_from: Path | None) -> Callable[[str], str]:
    """How the page names an image beside the documents (a chart, the logo): its file name after
    `asset_prefix`, or, `embed_from` given, the image itself as a data: URI read from that folder,
    so that the page needs no other file."""
    if embed_from is None:
        return lambda name: asset_prefix + name

    def embedded(name: str) -> str:
        path = embed_from / Path(name).name
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    return embedded


def render_html(doc: SynthesisDocument, templates: TemplateSet, *, asset_prefix: str = "",
                embed_from: Path | None = None) -> str:
    """The document as one standalone HTML page, stylesheet inlined; its charts and logo at
    asset_prefix + name, or embedded as data: URIs read from `embed_from` (the HTML download,
    which opens alone wherever it is saved)."""
    from markupsafe import Markup

    css = Markup(templates.read_text(STYLESHEET))  # our stylesheet, not user text
    return templates.environment(keep_trailing_newline=True).get_template("synthese.html.j2").render(
        doc=doc, css=css, asset_prefix=asset_prefix, asset=_asset_links(asset_prefix, embed_from))


def render_html_body(doc: SynthesisDocument, templates: TemplateSet, *, asset_prefix: str = "") -> str:
    """The document's content as an HTML fragment (no <html>/<head>) to embed in a site page;
    its classes are styled by synthese.css."""
    return templates.environment(keep_trailing_newline=True).get_template("synthese_body.html.j2").render(
        doc=doc, asset_prefix=asset_prefix, asset=_asset_links(asset_prefix, None))


class HtmlWriter:
    extension = "html"

    def write(self, doc: SynthesisDocument, target, assets_dir, templates: TemplateSet, html: str) -> None:
        # The download stands alone: its charts and logo inside it, not beside it.
        target.write_text(render_html(doc, templates, embed_from=Path(assets_dir)), encoding="utf-8")
