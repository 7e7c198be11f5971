"""`synthese review`: the review page of one session, served on this computer.

Staff listen to the replay, correct misheard words, name the voices, judge themes and quotes,
see the synthèse as it will read, then publish it. Every action is written at once to the
session's review file (`<id>.review.yaml`, see review_edits.py: line by line, comments and hand
edits kept), which stays the one record of the review: closing the page or stopping the server
loses nothing that was acknowledged, and `synthese run` reads the same file.

A small WSGI application on waitress (already the preview server's), with server-side Jinja2
templates (templates/review/) and one plain script, no build step. Why not a framework: a dozen
routes, and the checks that matter here (host, origin, token, the version of the file, the
workspace lock) are easier to read in one place than spread over a framework's hooks.

Safety:
- it listens on 127.0.0.1 only and answers only requests whose Host is that address (or
  localhost) and port, so a web page cannot reach it through a DNS name it rebinds;
- every request that changes something carries the page's token (random, made at start, written
  in the page) in a header, comes from the page's own origin and is JSON: another site can
  neither forge one nor read the page to learn the token;
- it serves only its own page and scripts, the session's replay and the documents the render
  stage listed in the session's render manifest: no path from the request reaches the disk;
- the page escapes all text (Jinja2 autoescape; the script sets text, never markup from text)
  and forbids any script but its own (Content-Security-Policy);
- each change names the version of the review file it was made on (a hash of its bytes): a file
  changed since (by hand, in another tab) is never overwritten, the change is refused (409);
  a review file that does not parse is reported with its line and never written;
- it writes only while it holds the workspace lock (`synthese run` holds it too), and runs the
  stages (tag, render, publish) in one background thread under that lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import logging
import mimetypes
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..core import limits
from ..core.artefacts import RenderManifest, Tags
from ..core.config import Config, Session
from ..core.errors import LockError, ReviewError, StorageError, SyntheseError, unforeseen
from ..core.glossary import GLOSSARY_FILE, glossary_path, parse_glossary
from ..core.resources import REVIEW_FOLDER as TEMPLATE_FOLDER
from ..core.review_file import Correction, find_passage, parse_review, revise
from ..core.storage import write_text
from ..core.typography import french_text, timestamp
from ..serve import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from ..workspace import Workspace, voices_file
from .approve import approval_text
from .edits import (
    EXCERPT_KINDS,
    THEME_KINDS,
    ReviewEditError,
    add_confirmation,
    add_correction,
    add_key_message,
    reject_name,
    remove_confirmation,
    remove_corrections,
    remove_glossary_entry,
    remove_key_message,
    set_decision,
    set_glossary_entry,
    set_key_message,
    set_presentation,
    set_question,
    set_speaker,
    version_of,
)
from .view import (
    CorrectionError,
    ReviewState,
    TagsSummary,
    corrections_for,
    effect_of,
    find_words,
    read_state,
    replace_words,
    summarise,
)

__all__ = ["ReviewApp", "serve_review"]

log = logging.getLogger(__name__)

STATIC_FILES = {"review.js": "application/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8"}
FRAGMENTS = ("avis", "voix", "passages", "chapitres", "approbation", "apercu", "historique", "glossaire", "retenir",
             "intervenants", "questions")
GLOSSARY_TEMPLATE = "glossary.fr.yaml"  # in templates/review/: the glossary the page creates
MAX_BODY_BYTES = 262_144  # a passage's text and a few fields
MAX_FOUND = 500  # occurrences listed by a search
MAX_QUERY_CHARS = 500
MEDIA_CHUNK_BYTES = 65_536
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
               "connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
# The preview shows the rendered document inside the page: the site's policy, framed by it.
PREVIEW_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
STATUS = {200: "200 OK", 202: "202 Accepted", 206: "206 Partial Content", 400: "400 Bad Request",
          403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed", 409: "409 Conflict",
          413: "413 Payload Too Large", 416: "416 Range Not Satisfiable", 422: "422 Unprocessable Entity",
          423: "423 Locked", 500: "500 Internal Server Error"}
MEDIA_TYPES = {".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg", ".mp3": "audio/mpeg",
               ".m4a": "audio/mp4", ".aac": "audio/aac", ".wav": "audio/wav", ".flac": "audio/flac",
               ".webm": "video/webm", ".mp4": "video/mp4", ".mkv": "video/x-matroska", ".mov": "video/quicktime"}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class PageError(Exception):
    """An answer other than success: its status and the page's message for it."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


# --- the workspace lock, shared by the threads of this server ---------------------------------------

class WorkspaceHold:
    """The workspace lock (workspace.Workspace.lock), held while any thread of this server needs
    it: taken by the first, released by the last. Another process holding it is a LockError."""

    def __init__(self, ws: Workspace):
        self._ws = ws
        self._mutex = threading.Lock()
        self._count = 0
        self._held: contextlib.AbstractContextManager | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._mutex:
            if self._count == 0:
                held = self._ws.lock()
                held.__enter__()  # LockError when a `synthese run` holds it
                self._held = held
            self._count += 1
        try:
            yield
        finally:
            with self._mutex:
                self._count -= 1
                if self._count == 0 and self._held is not None:
                    releasing, self._held = self._held, None
                    releasing.__exit__(None, None, None)


# --- the background work: bring the documents up to date, publish ------------------------------------

class Jobs:
    """One thread that runs the stages for the page, one job at a time: `refresh` (tag and
    render what the review changed) or `publish` (the same, then the site). The page polls
    `snapshot()` for the steps, the outcome and the generations of tags and documents."""

    RETRY_S = 3.0

    def __init__(self, app: ReviewApp):
        self._app = app
        self._cond = threading.Condition()
        self._queue: list[str] = []
        self._stopping = False
        self.kind: str | None = None
        self.steps: list[str] = []
        self.outcome = ""
        self.error = ""
        self.generations = {"tags": 0, "render": 0, "site": 0}
        self._thread = threading.Thread(target=self._loop, name="synthese-review-jobs", daemon=True)
        self._thread.start()

    def request(self, kind: str) -> None:
        with self._cond:
            if kind not in self._queue and not (kind == "refresh" and "publish" in self._queue):
                self._queue.append(kind)
            self._cond.notify()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {"running": self.kind, "queued": list(self._queue), "steps": list(self.steps),
                    "outcome": self.outcome, "error": self.error, "generations": dict(self.generations)}

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def step(self, message: str) -> None:
        with self._cond:
            self.steps.append(message)

    def bump(self, name: str) -> None:
        with self._cond:
            self.generations[name] += 1

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                kind = self._queue.pop(0)
                if kind == "publish" and "refresh" in self._queue:
                    self._queue.remove("refresh")  # publishing refreshes too
                self.kind, self.steps, self.error, self.outcome = kind, [], "", ""
            try:
                outcome = self._app.run_job(kind, self)
            except LockError:
                with self._cond:
                    self.steps.append(self._app.wording["step_waiting"])
                    self.kind = None
                threading.Timer(self.RETRY_S, self.request, (kind,)).start()
                continue
            except SyntheseError as exc:
                outcome, error = "", str(exc)
            except Exception as exc:  # noqa: BLE001 - the page must hear of any failure, and go on
                log.debug("review: %s failed", kind, exc_info=True)
                outcome, error = "", unforeseen(exc)
            else:
                error = ""
            if error:
                log.error("Error: %s", error)
            with self._cond:
                self.kind, self.outcome = None, outcome
                self.error = self._app.wording["job_failed"].format(error=error) if error else ""


# --- the application ---------------------------------------------------------------------------------

class ReviewApp:
    """The WSGI application of one session's review page."""

    def __init__(self, config: Config, session: Session, *, token: str | None = None, start_jobs: bool = True):
        self.config = config
        self.session = session
        self.ws = Workspace(config)
        self.paths = self.ws.paths(session)
        self.token = token or secrets.token_urlsafe(32)
        self.hosts: set[str] = set()
        self.origins: set[str] = set()
        self.templates = config.templates
        self.wording = config.templates.wording()["review_page"]
        self.env = self.templates.environment(TEMPLATE_FOLDER, trim_blocks=True, lstrip_blocks=True)
        self.env.globals.update(w=self.wording, stamp=timestamp, count=_count)
        self.media = self._media_file()
        self._edit_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._state_key: tuple[Any, ...] | None = None
        self._state: ReviewState | None = None
        self.hold = WorkspaceHold(self.ws)
        self._ensure_review_file()
        self._seen_version = self._file_version()
        self._seen_glossary = self._glossary_version()
        # Each action is numbered; its undo (the inverse edit) is kept until used, and the page
        # is told what it changed once the tags follow it (`effect`).
        self.instance = secrets.token_hex(8)  # tells the page this server is the one that served it
        self._effect_lock = threading.Lock()
        self._actions = 0
        self._undo: dict[str, tuple[str, Callable[[str, ReviewState], str]]] = {}
        self._effect_base: TagsSummary | None = None  # the tags before the action awaiting its effect
        self._effect_for = ""
        self.effect: dict[str, Any] | None = None
        self.unpublished = self._unpublished()
        self.jobs = Jobs(self)
        if start_jobs:
            self.jobs.request("refresh")

    def allow(self, host: str, port: int) -> None:
        """Answer requests addressed to host:port (and localhost:port) only."""
        for name in (host, "localhost"):
            self.hosts.add(f"{name}:{port}")
            self.origins.add(f"http://{name}:{port}")

    def close(self) -> None:
        self.jobs.stop()

    def _ensure_review_file(self) -> None:
        """The review file, from its template, before the page shows its version (a file the
        background job created later would make the page's first change look stale)."""
        from ..stages import ensure_review

        if self.paths.review.exists():
            return
        with contextlib.suppress(LockError), self.hold.held():
            self.paths.folder.mkdir(parents=True, exist_ok=True)
            ensure_review(self.config, self.paths.review)

    def _unpublished(self) -> bool:
        """Whether the site in the output folder is behind the session's documents."""
        from ..stages import CycleRun, stage, stage_state

        try:
            return stage_state(self.ws, self.session, stage("render")) != "done" or CycleRun(self.ws).publish_state() != "done"
        except (OSError, SyntheseError):
            return True

    def _media_file(self) -> Path | None:
        from ..core import limits

        if self.session.media is None:
            return None
        try:
            return Path(os.path.realpath(limits.input_file(self.config.resolve(self.session.media),
                                                           root=self.config.root)))
        except (OSError, SyntheseError) as exc:
            log.warning("review: the replay of %s cannot be played: %s", self.session.id, exc)
            return None

    # --- state ------------------------------------------------------------------------------------

    def state(self) -> ReviewState:
        """The page's state, read again when a file it comes from changed."""
        key = tuple(_stamp(p) for p in (self.paths.review, self.paths.transcript, self.paths.tags,
                                         voices_file(self.config), glossary_path(self.config.root)))
        with self._state_lock:
            if key != self._state_key or self._state is None:
                self._state = read_state(self.ws, self.session)
                self._state_key = key
            return self._state

    def _render_manifest(self) -> RenderManifest | None:
        try:
            return RenderManifest.load(self.paths.render) if self.paths.render.is_file() else None
        except SyntheseError:
            return None

    # --- WSGI -------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            try:
                path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
            except UnicodeError:
                raise PageError(404, self.wording["not_found"]) from None
            if environ.get("HTTP_HOST", "") not in self.hosts:
                # A name that is not this computer's: a page elsewhere reaching us through DNS.
                raise PageError(403, self.wording["wrong_host"])
            if method in ("GET", "HEAD"):
                return self._get(path, environ, method, start_response)
            if method == "POST":
                self._check_origin(environ)
                return self._post(path, environ, start_response)
            raise PageError(405, self.wording["bad_request"].format(detail=method))
        except PageError as exc:
            return self._json(exc.status, {"error": exc.message, **exc.extra}, start_response, method)
        except Exception:  # noqa: BLE001 - one bad request must not stop the page
            log.error("review: error while answering %s %s (run with --debug for the traceback)", method,
                      environ.get("PATH_INFO"))
            log.debug("review: traceback", exc_info=True)
            return self._json(500, {"error": "Erreur du serveur de relecture."}, start_response, method)

    def _check_origin(self, environ: dict[str, Any]) -> None:
        origin = environ.get("HTTP_ORIGIN")
        site = environ.get("HTTP_SEC_FETCH_SITE")
        token = environ.get("HTTP_X_SYNTHESE_TOKEN", "")
        if (origin is not None and origin not in self.origins) or site not in (None, "same-origin") \
                or not hmac.compare_digest(token.encode(), self.token.encode()):
            raise PageError(403, self.wording["forbidden"], reason="token")
        if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
            raise PageError(400, self.wording["bad_request"].format(detail="JSON attendu"))

    # --- GET ----------------------------------------------------------------------------------------

    def _get(self, path: str, environ: dict[str, Any], method: str, start_response: StartResponse) -> Iterable[bytes]:
        if path == "/":
            return self._html(self._page(), start_response, method, PAGE_POLICY)
        if path.startswith("/fragment/") and path.removeprefix("/fragment/") in FRAGMENTS:
            name = path.removeprefix("/fragment/")
            html = self.env.get_template(f"_{name}.html.j2").render(**self._context(name))
            return self._html(html, start_response, method, PAGE_POLICY)
        if path == "/api/state":
            return self._json(200, self._status(), start_response, method)
        if path == "/api/find":
            from urllib.parse import parse_qs

            query = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
            # Cleaned as every text the page sends: the words found are what a replacement names.
            return self._json(200, self.find(limits.strip_controls(query[:MAX_QUERY_CHARS])), start_response, method)
        if path.startswith("/static/") and path.removeprefix("/static/") in STATIC_FILES:
            name = path.removeprefix("/static/")
            body = self.templates.find(f"{TEMPLATE_FOLDER}/{name}").read_bytes()
            return self._bytes(200, body, STATIC_FILES[name], start_response, method)
        if path == "/media":
            return self._media(environ, method, start_response)
        if path.startswith("/preview/"):
            return self._preview(path.removeprefix("/preview/"), environ, method, start_response)
        raise PageError(404, self.wording["not_found"])

    def _context(self, fragment: str | None = None) -> dict[str, Any]:
        """What the page's templates show; the approval and the publication plan (which read every
        session's documents) only for the whole page and the fragments that show them."""
        state = self.state()
        manifest = self._render_manifest()
        return {"state": state, "session": self.session, "token": self.token, "manifest": manifest,
                "media_type": _media_type(self.media) if self.media else None, "jobs": self.jobs.snapshot(),
                "outputs": self.ws.outputs_dir.name, "config": self.config, "server": self.instance,
                "unpublished": self.unpublished,
                **(self._approval_context() if fragment in (None, "approbation", "apercu") else {})}

    def _approval_context(self) -> dict[str, Any]:
        """Where the session's review stands, who would approve it, and what publishing puts out."""
        from ..stages import describe_review, publication_plan, review_status
        from .approve import default_approver

        wording = self.templates.wording()
        status = review_status(self.ws, self.session)
        plan = publication_plan(self.ws, self.session)
        counts = {kind: len(sessions) for kind, sessions in plan.items()}
        parts = [_count(self.wording[f"plan_{kind}"], n) for kind, n in counts.items() if n]
        plan_text = french_text(self.wording["plan"].format(
            sessions=_count(wording["sessions_count"], sum(counts.values())), parts=", ".join(parts)))
        return {"review_status": status, "review_text": describe_review(status, wording),
                "approver": default_approver(), "plan_text": plan_text}

    def _page(self) -> str:
        return self.env.get_template("page.html.j2").render(**self._context())

    def _file_version(self) -> str:
        return version_of(self.paths.review.read_bytes() if self.paths.review.is_file() else b"")

    def _glossary_version(self) -> str:
        path = glossary_path(self.config.root)
        return version_of(path.read_bytes() if path.is_file() else b"")

    def _status(self) -> dict[str, Any]:
        data = self.paths.review.read_bytes() if self.paths.review.is_file() else b""
        version, error = version_of(data), None
        try:
            parse_review(data.decode("utf-8"), self.paths.review.name)
        except (UnicodeDecodeError, ReviewError) as exc:
            error = self.wording["malformed"].format(error=str(exc))
        glossary = self._glossary_version()
        if error is None and (version != self._seen_version or glossary != self._seen_glossary):
            # Edited by hand (or fixed), or the glossary changed: the preview follows the files.
            self._seen_version, self._seen_glossary = version, glossary
            self.jobs.request("refresh")
        with self._effect_lock:
            effect = dict(self.effect) if self.effect else None
        return {"version": version, "review_error": error, "jobs": self.jobs.snapshot(), "server": self.instance,
                "unpublished": self.unpublished, "effect": effect, "glossary_version": glossary}

    def _preview(self, name: str, environ: dict[str, Any], method: str, start_response: StartResponse) -> Iterable[bytes]:
        """A file the render stage listed for the session (documents, charts), from its folder."""
        manifest = self._render_manifest()
        listed = set(manifest.files.values()) | set(manifest.charts) if manifest else set()
        if name not in listed or "/" in name or name.startswith("."):
            raise PageError(404, self.wording["not_found"])
        target = self.paths.render_dir / name
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".html"):
            kind = "text/html; charset=utf-8"
        elif name.endswith(".vtt"):
            kind = "text/vtt; charset=utf-8"
        handle = _open_regular(target)
        if handle is None:
            raise PageError(404, self.wording["not_found"])
        with handle:
            body = handle.read()
        extra = [("Content-Security-Policy", PREVIEW_POLICY), ("X-Frame-Options", "SAMEORIGIN")] \
            if kind.startswith("text/html") else []
        return self._bytes(200, body, kind, start_response, method, extra)

    def _media(self, environ: dict[str, Any], method: str, start_response: StartResponse) -> Iterable[bytes]:
        """The session's replay, with byte ranges (the player seeks with them)."""
        if self.media is None:
            raise PageError(404, self.wording["not_found"])
        handle = _open_regular(self.media)
        if handle is None:
            raise PageError(404, self.wording["not_found"])
        size = os.fstat(handle.fileno()).st_size
        first, last, status = 0, size - 1, 200
        wanted = environ.get("HTTP_RANGE", "").strip()
        # One range of bytes (what players ask); anything else is answered with the whole file.
        if wanted.lower().startswith("bytes=") and "," not in wanted:
            span = _byte_range(wanted[6:], size)
            if span is None:
                handle.close()
                start_response(STATUS[416], [("Content-Range", f"bytes */{size}"), ("Content-Length", "0"),
                                             *SECURITY_HEADERS])
                return []
            (first, last), status = span, 206
        headers = [("Content-Type", _media_type(self.media)), ("Accept-Ranges", "bytes"),
                   ("Content-Length", str(max(0, last - first + 1))), ("Cache-Control", "no-cache"),
                   *SECURITY_HEADERS]
        if status == 206:
            headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        start_response(STATUS[status], headers)
        if method == "HEAD" or size == 0:
            handle.close()
            return []
        return _read_span(handle, first, last)

    # --- POST ---------------------------------------------------------------------------------------

    def _post(self, path: str, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self._body(environ)
        if path == "/api/action":
            return self._json(200, self.act(body), start_response, "POST")
        if path == "/api/refresh":
            self.jobs.request("refresh")
            return self._json(202, self.jobs.snapshot(), start_response, "POST")
        if path == "/api/publish":
            self.jobs.request("publish")
            return self._json(202, self.jobs.snapshot(), start_response, "POST")
        raise PageError(404, self.wording["not_found"])

    def _body(self, environ: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            raise PageError(413, self.wording["bad_request"].format(detail="requête trop longue"))
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            # Bounded like every JSON input: a body nested 100,000 deep is refused, not a crash.
            data = limits.loads_json(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            raise PageError(400, self.wording["bad_request"].format(detail="JSON illisible")) from None
        if not isinstance(data, dict):
            raise PageError(400, self.wording["bad_request"].format(detail="objet JSON attendu"))
        return data

    def act(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply one action of the page to the review file (or to the cycle's glossary); return
        the file's new version and the action's number, for its undo.

        Refused, with the file untouched: a version other than the file's (409), a file that
        does not parse (422), the workspace held by another command (423)."""
        action = body.get("action")
        glossary = action in ("glossary", "glossary_remove") or (
            action == "undo" and self._undo.get(str(body.get("id")), ("", None))[0] == "glossary")
        path = glossary_path(self.config.root) if glossary else self.paths.review
        version = body.get("glossary_version" if glossary else "version")
        with self._edit_lock:
            try:
                with self.hold.held():
                    data = path.read_bytes() if path.is_file() else b""
                    # Compared as bytes: compare_digest refuses str with other than ASCII characters.
                    if not isinstance(version, str) or not hmac.compare_digest(version.encode("utf-8", "replace"),
                                                                               version_of(data).encode()):
                        raise PageError(409, self.wording["stale"], version=version_of(data))
                    try:
                        text = data.decode("utf-8")
                        if glossary:
                            parse_glossary(text, path.name)
                            text = text or self.templates.read_text(f"{TEMPLATE_FOLDER}/{GLOSSARY_TEMPLATE}")
                        else:
                            parse_review(text, path.name)
                    except (UnicodeDecodeError, ReviewError) as exc:
                        raise PageError(422, self.wording["malformed"].format(error=str(exc))) from None
                    state = self.state()
                    if action == "undo":
                        target, undo = self._undo.pop(str(body.get("id")), ("", None))
                        if undo is None:
                            raise PageError(409, self.wording["undo_gone"])
                        new, again = undo(text, state), None
                    elif glossary:
                        new, again = self._glossary_edit(text, body, state)
                    else:
                        new, again = self._edit(text, body, state)
                    if new != text:
                        write_text(path, new)
                    if glossary:
                        self._seen_glossary = version_of(new.encode("utf-8"))
                    else:
                        self._seen_version = version_of(new.encode("utf-8"))
                    log.info("review: %s saved (%s)", path.name, action)
            except LockError:
                raise PageError(423, self.wording["locked"]) from None
            except StorageError as exc:  # a full disk, or the review file a link: said, not a server error
                raise PageError(409, self.wording["not_written"].format(error=exc)) from None
            except ReviewEditError:
                raise PageError(409, self.wording["unsafe_edit"]) from None
            except CorrectionError as exc:
                raise PageError(409 if exc.reason == "text_changed" else 400, self.wording[exc.reason]) from None
            number = self._remember(("glossary" if glossary else "review", again) if again else None, state)
        self.unpublished = True
        self.jobs.request("refresh")
        answer = {"message": self.wording["saved"], "id": number, "undo": again is not None}
        if glossary:
            answer["glossary_version"] = version_of(new.encode("utf-8"))
            answer["version"] = self._file_version()
        else:
            answer["version"] = version_of(new.encode("utf-8"))
            answer["glossary_version"] = self._glossary_version()
        return answer

    def _remember(self, undo: tuple[str, Callable[[str, ReviewState], str]] | None, state: ReviewState) -> str:
        """Number an action, keep its undo, and wait for the tagging after it to say its effect."""
        with self._effect_lock:
            self._actions += 1
            number = str(self._actions)
            if undo is not None:
                self._undo[number] = undo
            if self._effect_base is None:
                self._effect_base = summarise(state.tags)
            self._effect_for = number
        return number

    def _edit(self, text: str, body: dict[str, Any], state: ReviewState
              ) -> tuple[str, Callable[[str, ReviewState], str] | None]:
        """The review file changed by one action, and how to undo it (the inverse edit; None for
        an approval or a rejected name, which are undone by another action, not this one's inverse)."""
        name = self.paths.review.name
        action = body.get("action")
        if action == "approve":
            if state.transcript is None:
                raise PageError(409, self.wording["text_changed"])
            return approval_text(text, name, state.transcript, _text(body, "by", self.wording),
                                 glossary=state.review.glossary), None
        if action == "speaker":
            label = _text(body, "label", self.wording)
            if label not in {v.label for v in state.voices}:
                raise PageError(409, self.wording["text_changed"])
            before = state.review.speakers.get(label)
            return (set_speaker(text, name, label, _text(body, "name", self.wording, empty=True)),
                    lambda now, _: set_speaker(now, name, label, before))
        if action == "voice_reject":
            # "This voice is not X": only the name the page showed it recognised by.
            label, person = _text(body, "label", self.wording), _text(body, "name", self.wording)
            voice = next((v for v in state.voices if v.label == label), None)
            if voice is None or voice.recognised is None or voice.recognised.name != person:
                raise PageError(409, self.wording["voice_changed"])
            return reject_name(text, name, label, person), None
        if action == "replace":
            chosen = body.get("occurrences")
            if not isinstance(chosen, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in chosen):
                raise PageError(400, self.wording["bad_request"].format(detail="occurrences"))
            return self._corrections(text, replace_words(state, _text(body, "find", self.wording),
                                                         _text(body, "replace", self.wording, empty=True), chosen))
        if action == "remove_correction":
            return self._remove_correction(text, body, state)
        if action in ("message_add", "message_edit", "presentation"):
            return self._writing(text, body, state)
        view = state.passage_view(_text(body, "passage", self.wording))
        # Passage ids follow the order of the last tagging: the key says it is still the passage
        # the page showed, not another that took its number since.
        if view is None or view.passage.key != _text(body, "key", self.wording):
            raise PageError(409, self.wording["text_changed"])
        if action == "correct":
            return self._corrections(text, corrections_for(state, view, _text(body, "before", self.wording),
                                                           _text(body, "after", self.wording, empty=True)))
        if action == "confirm":
            chosen = body.get("sentences")
            count = len(view.passage.sentences)
            if not isinstance(chosen, list) or not chosen or not all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in chosen):
                raise PageError(400, self.wording["bad_request"].format(detail="phrases vérifiées"))
            key = view.passage.key
            return (add_confirmation(text, name, key, chosen),
                    lambda now, _: remove_confirmation(now, name, key, chosen))
        if action == "question":
            # A passage marked as a question from the audience (or unmarked).
            asked = body.get("decision") == "mark"
            key, same = view.passage.key, state.same_passage(view.passage)
            return (set_question(text, name, key, asked, same),
                    lambda now, _: set_question(now, name, key, not asked, same))
        theme = _text(body, "theme", self.wording)
        if theme not in state.theme_labels:
            raise PageError(400, self.wording["bad_request"].format(detail="thème inconnu"))
        decision = body.get("decision") or None
        family: tuple[str, ...]
        if action == "theme":
            family = THEME_KINDS
        elif action == "excerpt":
            family = EXCERPT_KINDS
        else:
            raise PageError(400, self.wording["bad_request"].format(detail="action inconnue"))
        if decision is not None and decision not in family:
            raise PageError(400, self.wording["bad_request"].format(detail="décision inconnue"))
        sentences: list[int] = []
        if decision == "pin" and body.get("sentences") is not None:
            chosen = body["sentences"]
            count = len(view.passage.sentences)
            if not isinstance(chosen, list) or not chosen or not all(
                    isinstance(i, int) and not isinstance(i, bool) and 0 <= i < count for i in chosen):
                raise PageError(400, self.wording["bad_request"].format(detail="phrases à garder"))
            sentences = sorted(set(chosen)) if len(set(chosen)) < count else []
        same = state.same_passage(view.passage)
        previous = next(((d.kind, d.sentences) for d in reversed(state.review.decisions)
                         if d.kind in family and d.theme == theme and same(d.passage)), (None, ()))
        key = view.passage.key

        def undo(now: str, _: ReviewState) -> str:
            return set_decision(now, name, family=family, kind=previous[0], passage_key=key, theme=theme,
                                same_passage=same, sentences=previous[1])

        return set_decision(text, name, family=family, kind=decision, passage_key=key, theme=theme,
                            same_passage=same, sentences=sentences), undo

    def _writing(self, text: str, body: dict[str, Any], state: ReviewState
                 ) -> tuple[str, Callable[[str, ReviewState], str] | None]:
        """What staff write for the documents: a message to retain added (written, or a proposal
        accepted with its passage), rewritten or removed; a speaker's presentation."""
        name = self.paths.review.name
        action = body.get("action")
        if action == "presentation":
            person = _text(body, "name", self.wording)
            if person not in {s.name for s in state.speakers}:
                raise PageError(409, self.wording["text_changed"])
            before = state.review.presentations.get(person)
            return (set_presentation(text, name, person, _text(body, "sentence", self.wording, empty=True)),
                    lambda now, _: set_presentation(now, name, person, before))
        if action == "message_add":
            message = " ".join(_text(body, "text", self.wording).split())
            key = " ".join(_text(body, "key", self.wording, empty=True).split())
            passages = state.tags.passages if state.tags else []
            if key and find_passage(key, passages) is None:
                raise PageError(409, self.wording["text_changed"])
            keys = (key,) if key else ()

            def undo_add(now: str, _: ReviewState) -> str:
                said = [(m.text, m.passages) for m in parse_review(now, name).key_messages]
                if (message, keys) not in said:
                    raise ReviewEditError(f"{name}: the message is no longer in the file")
                index = len(said) - 1 - said[::-1].index((message, keys))
                return remove_key_message(now, name, index, message)

            return add_key_message(text, name, message, keys), undo_add
        number, expected = body.get("number"), _text(body, "expected", self.wording)
        if not isinstance(number, int) or isinstance(number, bool):
            raise PageError(400, self.wording["bad_request"].format(detail="numéro du message"))
        if not 0 <= number < len(state.review.key_messages) or state.review.key_messages[number].text != expected:
            raise PageError(409, self.wording["text_changed"])
        supported_by = state.review.key_messages[number].passages
        if body.get("decision") == "remove":
            return (remove_key_message(text, name, number, expected),
                    lambda now, _: add_key_message(now, name, expected, supported_by))
        message = " ".join(_text(body, "text", self.wording).split())
        return (set_key_message(text, name, number, expected, message),
                lambda now, _: set_key_message(now, name, number, message, expected))

    def _corrections(self, text: str, corrections: list[Correction]) -> tuple[str, Callable[[str, ReviewState], str]]:
        name = self.paths.review.name
        new = text
        for correction in corrections:
            new = add_correction(new, name, correction.at_s, correction.original, correction.corrected)
        said = [(c.at_s, c.original, c.corrected) for c in corrections]
        return new, lambda now, _: remove_corrections(now, name, said)

    def _remove_correction(self, text: str, body: dict[str, Any], state: ReviewState
                           ) -> tuple[str, Callable[[str, ReviewState], str]]:
        """A correction of the history taken out of the file; refused when a later one stands on
        the words it wrote (undo that one first)."""
        import dataclasses

        number = body.get("number")
        corrections = state.review.corrections
        if not isinstance(number, int) or not 0 <= number < len(corrections) \
                or (corrections[number].original, corrections[number].corrected) != (
                    body.get("original"), body.get("corrected")):
            raise PageError(409, self.wording["text_changed"])
        doomed = corrections[number]
        if state.transcript is not None and state.revision is not None:
            without = revise(state.transcript, dataclasses.replace(
                state.review, corrections=[c for i, c in enumerate(corrections) if i != number]))
            kept = [applied for i, applied in enumerate(state.revision.applied) if i != number]
            if any(was and not now for was, now in zip(kept, without.applied)):
                raise PageError(409, self.wording["undo_depends"])
        name = self.paths.review.name
        return (remove_corrections(text, name, [(doomed.at_s, doomed.original, doomed.corrected)]),
                lambda now, _: add_correction(now, name, doomed.at_s, doomed.original, doomed.corrected))

    def _glossary_edit(self, text: str, body: dict[str, Any], state: ReviewState
                       ) -> tuple[str, Callable[[str, ReviewState], str]]:
        name = GLOSSARY_FILE
        heard = " ".join(_text(body, "heard", self.wording).split())
        previous = next((e for e in parse_glossary(text, name)
                         if [w.lower() for w in e.heard.split()] == [w.lower() for w in heard.split()]), None)
        if body.get("action") == "glossary_remove":
            if previous is None:
                raise PageError(409, self.wording["text_changed"])
            return (remove_glossary_entry(text, name, heard),
                    lambda now, _: set_glossary_entry(now, name, previous.heard, previous.written))
        written = _text(body, "written", self.wording)

        def undo(now: str, _: ReviewState) -> str:
            if previous is None:
                return remove_glossary_entry(now, name, heard)
            return set_glossary_entry(now, name, previous.heard, previous.written)

        return set_glossary_entry(text, name, heard, written), undo

    def find(self, query: str) -> dict[str, Any]:
        """Where these words are said in the session, for the page's find and replace."""
        state = self.state()
        found = find_words(state, query)
        return {"query": query, "count": len(found), "occurrences": [o.to_json() for o in found[:MAX_FOUND]]}

    def _settle_effect(self) -> None:
        """Once the tags follow the review file again: what the last actions changed, in words."""
        from ..stages import stage, stage_state

        with self._effect_lock:
            if self._effect_base is None or stage_state(self.ws, self.session, stage("tag")) != "done":
                return
            base, number = self._effect_base, self._effect_for
            self._effect_base = None
        try:
            tags = Tags.load(self.paths.tags)
        except SyntheseError:
            return
        labels = {t.id: french_text(t.label) for t in self.config.themes}
        message = effect_of(base, summarise(tags), labels, self.wording)
        with self._effect_lock:
            self.effect = {"id": number, "message": message, "undo": number in self._undo}

    # --- the background jobs -------------------------------------------------------------------------

    def run_job(self, kind: str, jobs: Jobs) -> str:
        """Bring the session's tags and documents up to date (and publish): what `synthese run
        SESSION` does, under the lock this server shares among its threads."""
        from ..stages import CycleRun, SessionRun

        ws, session, w = self.ws, self.session, self.wording
        generation = {"tag": "tags", "render": "render"}

        def done(stage: str) -> None:
            if stage == "tag":
                self._settle_effect()  # said before the documents are rendered again
            if stage in generation:
                jobs.bump(generation[stage])

        with self.hold.held():
            SessionRun(ws, session, quiet=True).bring_up_to_date(
                on_start=lambda stage: jobs.step(w[f"step_{stage}"]), on_done=done)
            self._settle_effect()
            if kind != "publish":
                self.unpublished = self._unpublished()
                return w["job_done"]
            cycle = CycleRun(ws)
            cycle.update_cycle(on_step=lambda step: jobs.step(w[f"step_{step}"]))
            cycle.publish_site(on_step=lambda step: jobs.step(w[f"step_{step}"]))
            self.unpublished = self._unpublished()
            jobs.bump("site")
        log.info("review: published %s to %s", session.id, ws.outputs_dir)
        return w["published"].format(time=dt.datetime.now().strftime("%H:%M:%S"), folder=ws.outputs_dir.name)

    # --- answers ------------------------------------------------------------------------------------

    def _html(self, html: str, start_response: StartResponse, method: str, policy: str) -> Iterable[bytes]:
        return self._bytes(200, html.encode("utf-8"), "text/html; charset=utf-8", start_response, method,
                           [("Content-Security-Policy", policy), ("X-Frame-Options", "DENY")])

    def _json(self, status: int, data: dict[str, Any], start_response: StartResponse, method: str) -> Iterable[bytes]:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        return self._bytes(status, body, "application/json; charset=utf-8", start_response, method)

    @staticmethod
    def _bytes(status: int, body: bytes, kind: str, start_response: StartResponse, method: str,
               extra: Iterable[tuple[str, str]] = ()) -> Iterable[bytes]:
        start_response(STATUS[status], [("Content-Type", kind), ("Content-Length", str(len(body))),
                                        ("Cache-Control", "no-store"), *extra, *SECURITY_HEADERS])
        return [] if method == "HEAD" else [body]


def _text(body: dict[str, Any], key: str, wording: dict[str, Any], *, empty: bool = False) -> str:
    """A text field of the page's request, without control characters (invisible, impossible in a
    Word file, and escape sequences on a terminal), as the importers clean a transcript."""
    value = body.get(key, "" if empty else None)
    if isinstance(value, str):
        value = limits.strip_controls(value)
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise PageError(400, wording["bad_request"].format(detail=f"« {key} » manquant"))
    return value


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _count(forms: dict[str, str], n: int, **values: Any) -> str:
    """A number with its words in agreement, as typography.counted, with more placeholders."""
    return forms["one" if abs(n) < 2 else "many"].format(n=n, **values)


def _media_type(path: Path) -> str:
    return MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _open_regular(path: Path):
    """A regular file opened for reading, or None (missing, a link swapped in, a pipe…)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        return None
    return handle


def _byte_range(spec: str, size: int) -> tuple[int, int] | None:
    """The bytes a range ("500-999", "500-", "-500") asks for, within the file; None if none."""
    first_text, _, last_text = spec.strip().partition("-")
    try:
        if not first_text.strip():  # the last N bytes
            length = int(last_text)
            return (max(0, size - length), size - 1) if length > 0 and size else None
        first = int(first_text)
        last = int(last_text) if last_text.strip() else size - 1
    except ValueError:
        return None
    if first < 0 or first >= size or last < first:
        return None
    return first, min(last, size - 1)


def _read_span(handle, first: int, last: int) -> Iterator[bytes]:
    with handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            block = handle.read(min(MEDIA_CHUNK_BYTES, remaining))
            if not block:
                return
            remaining -= len(block)
            yield block


# --- `synthese review` ---------------------------------------------------------------------------------

def choose_session(config: Config, session_id: str | None) -> Session:
    if session_id:
        return config.session(session_id)
    if len(config.sessions) == 1:
        return config.sessions[0]
    ids = ", ".join(s.id for s in config.sessions) or "none in config.yaml"
    raise SyntheseError(f"name the session to review: synthese review SESSION_ID (one of: {ids}).")


def serve_review(config: Config, session_id: str | None, *, port: int = 0, open_browser: bool = True) -> None:
    """Serve the review page of a session on http://127.0.0.1:PORT/ (a free port by default),
    open it in the browser, and answer until Ctrl-C."""
    import webbrowser

    from ..serve import PreviewServer

    session = choose_session(config, session_id)
    app = ReviewApp(config, session)
    try:
        server = PreviewServer(None, "127.0.0.1", port, app=app, max_request_body_bytes=MAX_BODY_BYTES)
    except OSError as exc:
        app.close()
        raise SyntheseError(f"cannot serve on port {port} ({exc.strerror}). Choose another with --port.") from None
    app.allow(server.host, server.port)
    log.info("Review of session %s on %s (Ctrl-C to stop). Every change is saved at once in %s.",
             session.id, server.url, app.paths.review)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        app.close()
    log.info("Stopped.")

