"""`synthese serve`: preview the published site on this machine."""

from __future__ import annotations

import contextlib
import functools
import logging
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from synthese.errors import SyntheseError

log = logging.getLogger(__name__)


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files; requests go to the debug log rather than to stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("serve: " + format, *args)


def serve_site(outputs_dir: Path, port: int) -> None:
    """Serve the published site on http://127.0.0.1:PORT/ (this machine only) until Ctrl-C."""
    if not (outputs_dir / "index.html").is_file():
        raise SyntheseError(f"{outputs_dir}: no published site there. Run `synthese publish` first.")
    handler = functools.partial(_QuietHandler, directory=str(outputs_dir))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise SyntheseError(f"cannot serve on port {port} ({exc.strerror}). Choose another with --port.") from None
    with server:
        host, bound_port = server.server_address[:2]
        log.info("Serving %s on http://%s:%d/ (Ctrl-C to stop)", outputs_dir, host, bound_port)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    log.info("Stopped.")
