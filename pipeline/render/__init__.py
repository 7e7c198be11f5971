"""Stage 3, render: `Tags` (with the reviewed transcript) -> the documents and a `RenderManifest`.

    rendering.py   the stage: a session's or the cycle's documents, written atomically
    compose.py     the one document model (document.py) built from the tags
    html.py, pdf.py, docx.py   one writer per format, laying out the same document
    charts.py      the charts the documents show
"""

from .compose import SessionInputs
from .rendering import check_formats, render_cycle, render_session

__all__ = ["SessionInputs", "check_formats", "render_cycle", "render_session"]
