"""`synthese serve`: the preview server answers GET and HEAD with security headers, lists no
folder, never leaves the site (through `..` or a symbolic link), closes idle connections and
stays quiet when clients hang up. The load test is bench/bench_serve.py."""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from synthese.core.errors import SyntheseError
from synthese.serve import CONTENT_SECURITY_POLICY, SITE_POLICY, PreviewServer, serve_site


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A published site (the publish tests' fixture workspace), with traps added to outputs/."""
    from test_publish import make_workspace

    from synthese.stages import publish_workspace

    ws = make_workspace(tmp_path_factory.mktemp("serve"))
    publish_workspace(ws)
    outputs = ws.outputs_dir
    secret = ws.root / "secret.txt"
    secret.write_text("hors du site", encoding="utf-8")
    (outputs / "leak.txt").symlink_to(secret)  # a file link out of the site
    (outputs / "leak-dir").symlink_to(ws.root)  # a folder link out of the site
    (outputs / "style-link.css").symlink_to(outputs / "style.css")  # a link inside the site
    os.mkfifo(outputs / "pipe.html")
    (outputs / "large.pdf").write_bytes(b"%PDF" + os.urandom(20_000_000))
    return ws.root


@pytest.fixture(scope="module")
def outputs(workspace: Path) -> Path:
    return workspace / "outputs"


@contextlib.contextmanager
def served(site: Path, **options):
    server = PreviewServer(site, port=0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def server(outputs: Path):
    with served(outputs) as running:
        yield running


def request(server: PreviewServer, path: str, method: str = "GET",
            headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_pages_carry_the_security_headers(server, outputs):
    response, body = request(server, "/")
    assert response.status == 200
    assert body == (outputs / "index.html").read_bytes()
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert response.getheader("Content-Security-Policy") == SITE_POLICY
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "no-referrer"
    # Scripts of the site only, and no JavaScript eval: WebAssembly compiles (the search), nothing else.
    directives = dict(d.strip().split(" ", 1) for d in SITE_POLICY.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["connect-src"] == directives["worker-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    # A document (the review page's preview) still runs no script.
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY


def test_downloads_are_served_whole_with_their_type(server, outputs):
    response, body = request(server, "/seances/seance-2/seance-2.pdf")
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/pdf"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Content-Security-Policy") is None  # a PDF is shown by the browser's viewer
    assert body == (outputs / "seances" / "seance-2" / "seance-2.pdf").read_bytes()
    response, _ = request(server, "/seances/seance-2/seance-2.vtt")
    assert response.getheader("Content-Type") == "text/vtt; charset=utf-8"


@pytest.mark.parametrize("asked, first, last", [
    ("bytes=0-99", 0, 99), ("bytes=19000000-", 19_000_000, None), ("bytes=-1000", -1000, None),
    ("bytes=19999990-30000000", 19_999_990, None),
])
def test_a_byte_range_is_answered_with_that_part(server, outputs, asked, first, last):
    """A player seeks in a replay by asking for the bytes from there on (Range), as from any web
    server."""
    whole = (outputs / "large.pdf").read_bytes()
    response, body = request(server, "/large.pdf", headers={"Range": asked})
    assert response.status == 206
    expected = whole[first:] if last is None else whole[first:last + 1]
    assert body == expected
    start = first % len(whole)
    assert response.getheader("Content-Range") == f"bytes {start}-{start + len(expected) - 1}/{len(whole)}"
    assert response.getheader("Content-Length") == str(len(expected))
    assert response.getheader("Accept-Ranges") == "bytes"


def test_a_range_past_the_end_is_refused_and_a_strange_one_gets_the_whole_file(server, outputs):
    size = (outputs / "large.pdf").stat().st_size
    response, body = request(server, "/large.pdf", headers={"Range": f"bytes={size}-"})
    assert (response.status, body) == (416, b"")
    assert response.getheader("Content-Range") == f"bytes */{size}"
    for strange in ("bytes=0-1,5-9", "lines=1-2", "bytes=9-2"):
        response, body = request(server, "/style.css", headers={"Range": strange})
        assert (response.status, body) == (200, (outputs / "style.css").read_bytes()), strange


def test_head_gives_the_headers_without_the_body(server, outputs):
    response, body = request(server, "/seances/seance-2.html", "HEAD")
    assert response.status == 200
    assert body == b""
    assert response.getheader("Content-Length") == str((outputs / "seances" / "seance-2.html").stat().st_size)
    assert response.getheader("Content-Security-Policy") == SITE_POLICY


def test_only_get_and_head(server):
    response, _ = request(server, "/", "POST")
    assert response.status == 405
    assert response.getheader("Allow") == "GET, HEAD"


def test_a_folder_serves_its_index_and_is_never_listed(server, outputs):
    response, body = request(server, "/seances")
    assert response.status == 301
    assert response.getheader("Location").endswith("/seances/")
    response, body = request(server, "/seances/")
    assert response.status == 404  # no index.html there, and no listing
    assert b"seance-2" not in body
    assert request(server, "/")[1] == (outputs / "index.html").read_bytes()


@pytest.mark.parametrize("path", [
    "/nothing-here.html", "/leak.txt", "/leak-dir/secret.txt", "/leak-dir/config.yaml", "/../secret.txt",
    "/%2e%2e/secret.txt", "/seances/..%2f..%2fsecret.txt", "/.gitkeep", "/pipe.html", "/index.html%00.pdf",
])
def test_nothing_outside_the_site_nor_hidden_nor_special(server, path):
    started = time.monotonic()
    response, body = request(server, path)
    assert time.monotonic() - started < 5  # a named pipe must not block the server
    assert response.status in (400, 404)
    assert b"hors du site" not in body
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_a_link_inside_the_site_is_followed(server, outputs):
    response, body = request(server, "/style-link.css")
    assert response.status == 200
    assert body == (outputs / "style.css").read_bytes()


def test_idle_connections_are_closed(outputs):
    with served(outputs, idle_timeout_s=1) as server:
        idle = socket.create_connection((server.host, server.port), timeout=10)
        started = time.monotonic()
        assert idle.recv(1) == b""  # the server closed it
        assert time.monotonic() - started < 8
        idle.close()
        assert request(server, "/")[0].status == 200


def test_clients_that_hang_up_are_not_errors(server, caplog):
    with caplog.at_level(logging.DEBUG, logger="synthese"):
        for _ in range(5):
            connection = socket.create_connection((server.host, server.port), timeout=10)
            connection.sendall(b"GET /large.pdf HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.recv(1000)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            connection.close()  # a reset, in the middle of 20 MB
        time.sleep(0.5)
        assert request(server, "/")[0].status == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_serve_without_a_site_says_to_publish(tmp_path):
    with pytest.raises(SyntheseError) as error:
        serve_site(tmp_path / "outputs", 8000)
    assert str(error.value) == f"{tmp_path / 'outputs'}: no published site there. Run `synthese publish` first."


def test_the_command_serves_then_stops_quietly_on_ctrl_c(workspace):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "synthese", "--config", str(workspace / "config.yaml"), "serve", "--port", str(port)]
    # Ctrl-C as a terminal sends it, even when the suite itself runs in the background (where the
    # shell starts every command with SIGINT ignored, and a child would inherit that).
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert stderr.splitlines() == [
        f"Serving {workspace / 'outputs'} on http://127.0.0.1:{port}/ (Ctrl-C to stop). This is a preview: the site "
        "is static, any web server can host that folder.",
        "Stopped.",
    ]
