"""Stage 4, publish: the rendered documents -> the readers' site and its `SiteManifest`.

    publishing.py  the stage: the site built aside and swapped in, replacing only its own files
"""

from .publishing import PublishedSession, publish

__all__ = ["PublishedSession", "publish"]
