"""`synthese serve`: a preview of the published site on this machine."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from synthese import serve
from synthese.errors import SyntheseError
from synthese.serve import serve_site


@pytest.fixture
def site(tmp_path):
    outputs = tmp_path / "outputs"
    (outputs / "seances" / "seance-2").mkdir(parents=True)
    (outputs / "index.html").write_text("<!DOCTYPE html><title>Accueil</title>", encoding="utf-8")
    (outputs / "seances" / "seance-2" / "seance-2.pdf").write_bytes(b"%PDF-1.7\n")
    return outputs


def test_serve_site_serves_index_on_localhost(site, monkeypatch):
    outputs = site
    servers = []

    class RecordingServer(serve.ThreadingHTTPServer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            servers.append(self)

    monkeypatch.setattr(serve, "ThreadingHTTPServer", RecordingServer)
    thread = threading.Thread(target=serve_site, args=(outputs, 0), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not servers and time.monotonic() < deadline:
        time.sleep(0.02)
    server = servers[0]
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert response.read() == (outputs / "index.html").read_bytes()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/seances/seance-2/seance-2.pdf", timeout=10) as response:
            assert response.read()[:4] == b"%PDF"
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_serve_without_a_site_says_to_publish(tmp_path):
    with pytest.raises(SyntheseError) as error:
        serve_site(tmp_path / "outputs", 8000)
    assert str(error.value) == f"{tmp_path / 'outputs'}: no published site there. Run `synthese publish` first."
