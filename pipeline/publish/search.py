"""The site's search index, built by Pagefind (MIT; the binary of the `pagefind_bin` wheel) into
the folder the site is built in, offline.

Pagefind reads the session pages (the region marked data-pagefind-body), stems their words in
French (the pages' lang="fr") and writes `pagefind/`: a WebAssembly search and the index in
fragments the reader's browser fetches from the site itself, as needed. The index leaves out
what repeats or is not speech: the contents, the charts and their tables, the index of names, the
colophon, the banners. Every element with an id is an anchor in the index, so a result opens the
quote (figure.excerpt) or the transcript's turn (div.turn, 't-754') that matched.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from ..core.errors import SyntheseError

__all__ = ["SEARCH_FOLDER", "build_search_index"]

log = logging.getLogger(__name__)

SEARCH_FOLDER = "pagefind"
INDEXED_PAGES = "seances/*.html"  # a session's page; its downloads (seances/<id>/…) are not pages
LEFT_OUT = ", ".join((
    "nav", ".toc", ".download-bar", ".session-panel", ".draft-banner", ".cover-draft", "figure.chart",
    ".table-scroll", ".scroll-hint", "#index", "#references", "#glossary", "#colophon", ".citation",
))
# The bundle's parts this site uses: the search (pagefind.js, its worker and WebAssembly), the
# index and its fragments. Pagefind's own ready-made interfaces are not used: they are removed.
UNUSED = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-component-ui.js", "pagefind-component-ui.css",
          "pagefind-modular-ui.js", "pagefind-modular-ui.css", "pagefind-highlight.js")
TIMEOUT_S = 600


def _executable() -> Path:
    try:
        from pagefind.service import get_executable
    except ImportError:
        get_executable = None  # type: ignore[assignment]
    binary = get_executable() if get_executable is not None else None
    if binary is None or not Path(binary).is_file():
        raise SyntheseError("the site's search needs Pagefind, which is not installed: pip install 'pagefind[bin]' "
                            "(or set publish.search: false in config.yaml to publish without search).")
    return Path(binary)


def build_search_index(site_dir: Path) -> list[Path]:
    """Index the session pages of the site being built in `site_dir` into `site_dir/pagefind/`;
    return the files written. Raise SyntheseError with what to do when Pagefind fails."""
    binary = _executable()
    # Run where no pagefind.yml of the user's can change what it does, and with none of the
    # PAGEFIND_* settings of the environment but the binary's own path.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PAGEFIND_")}
    command = [str(binary), "--site", ".", "--output-subdir", SEARCH_FOLDER, "--glob", INDEXED_PAGES,
               "--exclude-selectors", LEFT_OUT, "--silent"]
    try:
        result = subprocess.run(command, cwd=site_dir, env=environment, capture_output=True, text=True,
                                timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SyntheseError(f"the site's search index could not be built ({exc}). Reinstall Pagefind "
                            "(pip install --force-reinstall 'pagefind[bin]'), or set publish.search: false.") from None
    output = site_dir / SEARCH_FOLDER
    if result.returncode != 0 or not (output / "pagefind.js").is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise SyntheseError(f"the site's search index could not be built (Pagefind: "
                            f"{detail[-1] if detail else f'exit code {result.returncode}'}). "
                            "Set publish.search: false in config.yaml to publish without search.")
    for name in UNUSED:
        (output / name).unlink(missing_ok=True)
    playground = output / "playground"
    if playground.is_dir():
        shutil.rmtree(playground)
    files = sorted(p for p in output.rglob("*") if p.is_file())
    log.debug("search: %d files in %s", len(files), output)
    return files
