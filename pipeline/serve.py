"""`synthese serve`: preview the published site on this computer.

The site in outputs/ is static (HTML, CSS, images, downloads and the site's own scripts), so any
web server can host that folder as it is; this command is a preview that still holds up when
many readers, or a careless or hostile client, connect at once:

- waitress (a pure-Python WSGI server) does the HTTP: one I/O thread multiplexes every
  connection, a request is read whole before one of a fixed pool of worker threads handles it,
  and files are sent from that I/O thread, so an idle or slow client costs a socket, never a
  thread; idle connections are closed after IDLE_TIMEOUT_S; clients that hang up are not errors.
- `SiteFiles`, the application, serves GET and HEAD only; a folder serves its index.html (never a
  listing); a path that leads out of the site (through `..` or a symbolic link), a hidden file
  or anything but a regular file is "not found". A byte range (`Range: bytes=…`) is answered
  with that part of the file, as every web server does: a player seeks in a replay that way.
- every answer carries X-Content-Type-Options and Referrer-Policy, and pages a
  Content-Security-Policy that allows only the site's own stylesheets, images and scripts (and
  the WebAssembly of its search), and media from the site or, for a session's media_url, https.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import mimetypes
import os
import re
import resource
import socket
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .core.errors import SyntheseError

__all__ = ["CONTENT_SECURITY_POLICY", "SITE_POLICY", "PreviewServer", "SiteFiles", "serve_site"]

log = logging.getLogger(__name__)

THREADS = 8  # workers only open files and write headers; sending happens in the I/O thread
CONNECTION_LIMIT = 2000  # open connections at once (idle ones included); more wait to be accepted
IDLE_TIMEOUT_S = 15  # a connection with no request for this long is closed
MAX_REQUEST_HEADER_BYTES = 16_384
MAX_REQUEST_BODY_BYTES = 16_384  # GET and HEAD carry none
# waitress reads a file in pieces the size of the socket's send buffer, which Linux grows to
# ~4 MB on a fast link: a fixed buffer keeps each download's share of memory small.
SEND_BUFFER_BYTES = 262_144
# A document (the synthesis, the review page's preview of it) runs no script and loads nothing
# from elsewhere: only its own stylesheets (the standalone HTML downloads inline theirs) and images.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The site's pages also run the site's own two scripts: the search (Pagefind) compiles its
# WebAssembly ('wasm-unsafe-eval', which allows no JavaScript eval), fetches its index from the
# site and may run in a worker; the search form goes to the site's own search page; a session's
# player plays its replay from the site or, for a media_url, from an https address.
SITE_POLICY = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; media-src 'self' https:; style-src 'self' 'unsafe-inline'; font-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".xml": "application/atom+xml; charset=utf-8",  # the site's only XML file is its feed
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".aac": "audio/aac", ".oga": "audio/ogg", ".ogg": "audio/ogg",
    ".opus": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac",
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".ogv": "video/ogg",
}
STATUS = {200: "200 OK", 206: "206 Partial Content", 301: "301 Moved Permanently", 304: "304 Not Modified",
          400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed",
          416: "416 Range Not Satisfiable", 500: "500 Internal Server Error"}
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
MESSAGES = {400: "Requête invalide.", 404: "Page introuvable.", 405: "Méthode non autorisée.",
            500: "Erreur du serveur de prévisualisation."}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class SiteFiles:
    """The WSGI application: the files of the site folder, read-only."""

    def __init__(self, site_dir: Path):
        self.site_dir = Path(site_dir)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method not in ("GET", "HEAD"):
                return self._error(405, method, start_response, [("Allow", "GET, HEAD")])
            return self._serve(environ, method, start_response)
        except Exception:  # noqa: BLE001 - one bad request must not stop the preview
            log.error("serve: error while answering %s (run with --debug for the traceback)",
                      environ.get("PATH_INFO"))
            log.debug("serve: traceback", exc_info=True)
            return self._error(500, method, start_response)

    def _serve(self, environ: dict[str, Any], method: str, start_response: StartResponse) -> Iterable[bytes]:
        try:
            # WSGI hands the percent-decoded path as latin-1; the site's names are UTF-8.
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self._error(400, method, start_response)
        if "\x00" in path:
            return self._error(400, method, start_response)
        parts = [part for part in path.split("/") if part not in ("", ".")]
        # '..' never climbs out of the site, and hidden files (.gitkeep, temporary files) are not
        # part of it.
        if any(part == ".." or part.startswith(".") for part in parts):
            return self._error(404, method, start_response)
        try:
            root = self.site_dir.resolve(strict=True)
        except OSError:
            return self._error(404, method, start_response)
        target = self._inside(root, root.joinpath(*parts))
        if target is not None and target.is_dir():
            if not path.endswith("/"):
                # Relative links in the folder's index.html need the trailing slash.
                location = quote(environ.get("SCRIPT_NAME", "") + path) + "/"
                if environ.get("QUERY_STRING"):
                    location += "?" + environ["QUERY_STRING"]
                return self._respond(301, method, start_response, [("Location", location)])
            target = self._inside(root, target / "index.html")
        if target is None:
            return self._error(404, method, start_response)
        return self._file(target, environ, method, start_response)

    @staticmethod
    def _inside(root: Path, candidate: Path) -> Path | None:
        """The real path of `candidate` if it exists inside the site, else None (a symbolic link
        that leads out of the site is treated as missing)."""
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(root):
            log.debug("serve: refused %s: it leads out of the site (%s)", candidate, real)
            return None
        return real if real.exists() else None

    def _file(self, target: Path, environ: dict[str, Any], method: str,
              start_response: StartResponse) -> Iterable[bytes]:
        try:
            # O_NOFOLLOW: the real path was checked; a link swapped in since is refused. O_NONBLOCK:
            # opening a named pipe must not wait for a writer.
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return self._error(404, method, start_response)
        handle = os.fdopen(fd, "rb")
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                handle.close()
                return self._error(404, method, start_response)
            modified = email.utils.formatdate(info.st_mtime, usegmt=True)
            since = environ.get("HTTP_IF_MODIFIED_SINCE")
            if since and _not_modified(since, info.st_mtime):
                handle.close()
                return self._respond(304, method, start_response, [("Last-Modified", modified)])
            kind = TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0] or \
                "application/octet-stream"
            asked = _byte_range(environ.get("HTTP_RANGE", ""), info.st_size)
            if asked == "unsatisfiable":
                handle.close()
                return self._respond(416, method, start_response, [("Content-Range", f"bytes */{info.st_size}")])
            first, last = asked if isinstance(asked, tuple) else (0, info.st_size - 1)
            length = max(0, last - first + 1)
            headers = [("Content-Type", kind), ("Content-Length", str(length)), ("Accept-Ranges", "bytes"),
                       ("Last-Modified", modified), ("Cache-Control", "no-cache")]
            if isinstance(asked, tuple):
                headers.append(("Content-Range", f"bytes {first}-{last}/{info.st_size}"))
            code = 206 if isinstance(asked, tuple) else 200
            start_response(STATUS[code], headers + _security_headers(kind))
            handle.seek(first)
        except BaseException:
            handle.close()
            raise
        log.debug("serve: %s %s %d", method, target, code)
        if method == "HEAD":
            handle.close()
            return []
        wrapper = environ.get("wsgi.file_wrapper")
        # waitress sends from the handle's position as many bytes as Content-Length says.
        return wrapper(handle, 65536) if wrapper else _chunks(handle, length)

    def _respond(self, code: int, method: str, start_response: StartResponse,
                 headers: list[tuple[str, str]]) -> Iterable[bytes]:
        start_response(STATUS[code], [*headers, ("Content-Length", "0"), *SECURITY_HEADERS])
        return []

    def _error(self, code: int, method: str, start_response: StartResponse,
               headers: Iterable[tuple[str, str]] = ()) -> Iterable[bytes]:
        body = (f'<!doctype html><html lang="fr"><meta charset="utf-8"><title>{MESSAGES[code]}</title>'
                f'<p>{MESSAGES[code]} <a href="/">Accueil du site</a></p></html>\n').encode()
        kind = TYPES[".html"]
        start_response(STATUS[code], [*headers, ("Content-Type", kind), ("Content-Length", str(len(body))),
                                      *_security_headers(kind)])
        return [] if method == "HEAD" else [body]


def _security_headers(kind: str) -> list[tuple[str, str]]:
    # The policy governs documents; a PDF is shown by the browser's own viewer, which a page's
    # policy could only get in the way of.
    if kind.startswith(("text/html", "image/svg+xml")):
        return [("Content-Security-Policy", SITE_POLICY), *SECURITY_HEADERS]
    return list(SECURITY_HEADERS)


def _not_modified(since: str, mtime: float) -> bool:
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    return when is not None and int(mtime) <= when.timestamp()


def _byte_range(header: str, size: int) -> tuple[int, int] | str | None:
    """The bytes a Range header asks for, (first, last) inclusive; None for the whole file (no
    header, or one this server does not answer with a part: several ranges, another unit);
    "unsatisfiable" for a range that starts past the end."""
    match = RANGE.fullmatch(header.strip())
    if not match or not any(match.groups()):
        return None
    start, end = match.groups()
    if not start:  # the last N bytes
        length = int(end)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(start)
    if first >= size:
        return "unsatisfiable"
    last = min(int(end), size - 1) if end else size - 1
    return (first, last) if last >= first else None


def _chunks(handle, length: int) -> Iterable[bytes]:
    with handle:
        while length > 0 and (block := handle.read(min(65536, length))):
            length -= len(block)
            yield block


# --- the server ------------------------------------------------------------------------------------

class _ToDebug(logging.Handler):
    """waitress's own messages (client disconnects, queue depth) go to the debug log; an error in
    serving is one line on the log, its traceback at debug level."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.ERROR and not _is_disconnect(record.exc_info):
            log.error("serve: %s (run with --debug for details)", message)
            log.debug("serve: traceback", exc_info=record.exc_info)
        else:
            log.debug("serve: %s", message, exc_info=record.exc_info if log.isEnabledFor(logging.DEBUG) else None)


def _is_disconnect(exc_info: Any) -> bool:
    return bool(exc_info) and isinstance(exc_info[1], (ConnectionError, TimeoutError))


def _open_files_for(connections: int) -> int:
    """Raise the soft limit of open files so that `connections` sockets fit; return how many fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 64  # the listening socket, files being sent, the logs
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return connections if soft == resource.RLIM_INFINITY else max(16, min(connections, soft - 64))


class PreviewServer:
    """The site folder (or another WSGI application) served on host:port (port 0: any free
    port) until shutdown()."""

    def __init__(self, site_dir: Path | None, host: str = "127.0.0.1", port: int = 8000, *,
                 threads: int = THREADS, idle_timeout_s: int = IDLE_TIMEOUT_S,
                 connection_limit: int = CONNECTION_LIMIT, app: Callable[..., Iterable[bytes]] | None = None,
                 max_request_body_bytes: int = MAX_REQUEST_BODY_BYTES):
        """Serve `site_dir` read-only, or the WSGI application `app` (the review page) with the
        same limits, bodies up to max_request_body_bytes."""
        from waitress import wasyncore
        from waitress.server import create_server

        waitress_log = logging.getLogger("waitress")
        waitress_log.handlers[:] = [_ToDebug()]
        waitress_log.propagate = False
        waitress_log.setLevel(logging.DEBUG)
        self._wasyncore = wasyncore
        self._map: dict[int, Any] = {}
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        if app is None:
            if site_dir is None:
                raise TypeError("PreviewServer serves a site folder or an application: give one")
            app = SiteFiles(site_dir)
        self._server = create_server(
            app, map=self._map, host=host, port=port, threads=threads,
            connection_limit=_open_files_for(connection_limit), channel_timeout=idle_timeout_s,
            cleanup_interval=max(1, idle_timeout_s // 3), asyncore_use_poll=True, asyncore_loop_timeout=1,
            max_request_header_size=MAX_REQUEST_HEADER_BYTES, max_request_body_size=max_request_body_bytes,
            log_socket_errors=False, expose_tracebacks=False, ident="synthese",
        )
        # Applied to every accepted connection (no keyword for it in create_server).
        adjustments = self._server.adj
        adjustments.socket_options = [*adjustments.socket_options,
                                      (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)]
        self.host, self.port = self._server.effective_host, self._server.effective_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def serve_forever(self) -> None:
        """Answer requests until shutdown() (or Ctrl-C)."""
        try:
            while not self._stopping.is_set():
                self._wasyncore.loop(timeout=1, map=self._map, use_poll=True, count=1)
        finally:
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            self._wasyncore.close_all(self._map)
            self._stopped.set()

    def shutdown(self, timeout_s: float = 10) -> None:
        """Stop serve_forever (from another thread) and close every connection."""
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._server.trigger.pull_trigger()  # wakes the I/O loop at once
        self._stopped.wait(timeout_s)


def serve_site(outputs_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    """Serve the published site on http://HOST:PORT/ (this computer only by default) until Ctrl-C."""
    if not (outputs_dir / "index.html").is_file():
        raise SyntheseError(f"{outputs_dir}: no published site there. Run `synthese publish` first.")
    try:
        server = PreviewServer(outputs_dir, host, port)
    except OSError as exc:
        raise SyntheseError(f"cannot serve on port {port} ({exc.strerror}). Choose another with --port.") from None
    log.info("Serving %s on %s (Ctrl-C to stop). This is a preview: the site is static, any web server "
             "can host that folder.", outputs_dir, server.url)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    log.info("Stopped.")
