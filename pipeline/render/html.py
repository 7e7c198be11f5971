"""The synthesis as HTML: a standalone page (the HTML download, and the source of the PDF) and a
fragment for the readers' site. Jinja2 templates from the template set, autoescaped and strict:
transcript text is always data, never template code."""

from __future__ import annotations

from ..core.resources import TemplateSet
from .document import SynthesisDocument

STYLESHEET = "synthese.css"


def render_html(doc: SynthesisDocument, templates: TemplateSet, *, asset_prefix: str = "") -> str:
    """The document as one standalone HTML page (stylesheet inlined; charts at asset_prefix+name)."""
    from markupsafe import Markup

    css = Markup(templates.read_text(STYLESHEET))  # our stylesheet, not user text
    return templates.environment(keep_trailing_newline=True).get_template("synthese.html.j2").render(
        doc=doc, css=css, asset_prefix=asset_prefix)


def render_html_body(doc: SynthesisDocument, templates: TemplateSet, *, asset_prefix: str = "") -> str:
    """The document's content as an HTML fragment (no <html>/<head>) to embed in a site page;
    its classes are styled by synthese.css."""
    return templates.environment(keep_trailing_newline=True).get_template("synthese_body.html.j2").render(
        doc=doc, asset_prefix=asset_prefix)


class HtmlWriter:
    extension = "html"

    def write(self, doc: SynthesisDocument, target, assets_dir, templates: TemplateSet, html: str) -> None:
        target.write_text(html, encoding="utf-8")
