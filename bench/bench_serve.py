"""Load test of `synthese serve`: 200 concurrent requests with 1,000 idle connections held open.

    .venv/bin/python bench/bench_serve.py [--site OUTPUTS_DIR] [--baseline]

Serves a real published site: OUTPUTS_DIR, or one built first with `synthese run` on a
40-minute synthetic transcript (bench_render's sentences) in a temporary folder. The real
`synthese serve` runs as a child process; this script opens IDLE idle connections (connected,
sending nothing) and keeps them open, then fires CONCURRENT requests at once (half the site's HTML
pages, half its PDFs), each checked whole (status 200, the file's exact length), while the
server's resident memory is sampled every 0.1 s. Then HANG_UPS clients ask for a 20 MB download
and reset the connection after the first bytes (readers who close the tab). It then waits for
the idle timeout and counts the idle connections the server closed, stops the server with Ctrl-C
(SIGINT) and reads its stderr. With --baseline the same load also goes to Python's `http.server` (a thread per
connection, what `serve` was before), for comparison.

Prints a table and writes bench/results/serve.json. It never fails on time: it measures.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from synthese.core.artefacts import write_json  # noqa: E402

SYNTHESE = REPO / ".venv" / "bin" / "synthese"
RESULTS = REPO / "bench" / "results"
CONCURRENT = 200
IDLE = 1000
HANG_UPS = 50
LARGE_DOWNLOAD = "telechargements/grand-fichier.pdf"  # added to a site this script builds
REQUEST_TIMEOUT_S = 30


def build_site(folder: Path, segments: int = 240) -> Path:
    """A published site from `synthese run` on a synthetic transcript; returns outputs/."""
    import yaml
    from bench_render import synthetic_session

    from synthese.core.typography import format_timestamp

    _, transcript = synthetic_session()
    cues = ["WEBVTT", ""]
    for segment in transcript["segments"][:segments]:
        cues += [f"{format_timestamp(segment['start'])} --> {format_timestamp(segment['end'])}",
                 f"<v {segment['speaker']}>{segment['text']}", ""]
    (folder / "seance-bench.vtt").write_text("\n".join(cues), encoding="utf-8")
    config = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    config["sessions"] = [{"id": "seance-bench", "number": 1, "date": "2022-03-17",
                           "title": "Séance de mesure", "transcript": "seance-bench.vtt",
                           "replay_url": "https://www.urbanisme-puca.gouv.fr/replay"}]
    (folder / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                                        encoding="utf-8")
    started = time.monotonic()
    subprocess.run([str(SYNTHESE), "--quiet", "--config", str(folder / "config.yaml"), "run"], check=True)
    print(f"site built with `synthese run` in {time.monotonic() - started:.1f} s")
    large = folder / "outputs" / LARGE_DOWNLOAD
    large.parent.mkdir()
    large.write_bytes(b"%PDF-1.7\n" + random.Random(2).randbytes(20_000_000))
    return folder / "outputs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class RssSampler(threading.Thread):
    """Peak resident memory of a process, sampled every 0.1 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.start_rss = self.process.memory_info().rss
        self.threads_peak = self.process.num_threads()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
                self.threads_peak = max(self.threads_peak, self.process.num_threads())
            except psutil.Error:
                return


def fetch(port: int, path: str, size: int, results: list, barrier: threading.Barrier) -> None:
    barrier.wait()
    started = time.monotonic()
    outcome = "ok"
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        if response.status != 200:
            outcome = f"status {response.status}"
        elif len(body) != size:
            outcome = "short body"
    except TimeoutError:
        outcome = "timeout"
    except OSError as exc:
        outcome = type(exc).__name__
    results.append((path, outcome, time.monotonic() - started))


def hang_up(port: int, path: str) -> None:
    """Ask for a large download and reset the connection after the first bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=REQUEST_TIMEOUT_S) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        connection.recv(4096)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def load(name: str, command: list[str], port: int, site: Path, idle_wait_s: float) -> dict:
    pages = sorted(p for p in site.rglob("*.html"))
    pdfs = sorted(p for p in site.rglob("*.pdf") if p != site / LARGE_DOWNLOAD)
    targets = [(f"/{p.relative_to(site).as_posix()}", p.stat().st_size) for p in pages]
    pdf_targets = [(f"/{p.relative_to(site).as_posix()}", p.stat().st_size) for p in pdfs]
    rng = random.Random(1)
    plan = [rng.choice(targets) for _ in range(CONCURRENT // 2)] + \
           [rng.choice(pdf_targets) for _ in range(CONCURRENT - CONCURRENT // 2)]

    stderr_path = Path(tempfile.mkstemp(prefix=f"serve-{name}-", suffix=".log")[1])
    with open(stderr_path, "w") as stderr:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for_port(port)
        sampler = RssSampler(server.pid)
        sampler.start()
        idle = []
        for _ in range(IDLE):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            idle.append(sock)
        time.sleep(0.5)
        results: list = []
        barrier = threading.Barrier(len(plan))
        threads = [threading.Thread(target=fetch, args=(port, path, size, results, barrier)) for path, size in plan]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst_s = time.monotonic() - started
        hung_up = 0
        if (site / LARGE_DOWNLOAD).is_file():
            for _ in range(HANG_UPS):
                hang_up(port, f"/{LARGE_DOWNLOAD}")
                hung_up += 1
            time.sleep(2)
        cpu = sampler.process.cpu_times()
        # Idle connections: how many has the server closed after the wait?
        time.sleep(idle_wait_s)
        closed = 0
        for sock in idle:
            sock.settimeout(0.01)
            try:
                closed += sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:
                closed += 1
            sock.close()
        sampler.stop.set()
        sampler.join()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    stderr_text = stderr_path.read_text(errors="replace")
    stderr_path.unlink()
    latencies = sorted(latency for _, outcome, latency in results if outcome == "ok")
    by_kind = {}
    for kind, suffix in (("html", ".html"), ("pdf", ".pdf")):
        mine = [outcome for path, outcome, _ in results if path.endswith(suffix)]
        by_kind[kind] = {"requests": len(mine), "answered": mine.count("ok"),
                         "failures": sorted({o for o in mine if o != "ok"})}

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3) if latencies else None

    return {
        "server": name,
        "requests": len(results), "answered": sum(o == "ok" for _, o, _ in results), "by_kind": by_kind,
        "burst_s": round(burst_s, 2), "latency_p50_s": pct(0.5), "latency_p95_s": pct(0.95),
        "latency_max_s": round(latencies[-1], 3) if latencies else None,
        "idle_connections": IDLE, "idle_closed_after_s": idle_wait_s, "idle_closed": closed,
        "rss_start_mb": round(sampler.start_rss / 2**20, 1), "rss_peak_mb": round(sampler.peak / 2**20, 1),
        "threads_peak": sampler.threads_peak, "cpu_s": round(cpu.user + cpu.system, 2), "hang_ups": hung_up,
        "stderr_lines": len(stderr_text.splitlines()), "tracebacks": stderr_text.count("Traceback"),
        "exit_code": server.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a published outputs/ folder (default: build one)")
    parser.add_argument("--baseline", action="store_true", help="also load Python's http.server")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * (IDLE + CONCURRENT))), hard))

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        site = args.site.resolve() if args.site else build_site(Path(tmp))
        config = site.parent / "config.yaml"
        runs = []
        port = free_port()
        runs.append(load("synthese serve", [str(SYNTHESE), "--config", str(config), "serve", "--port", str(port)],
                         port, site, idle_wait_s=20))
        if args.baseline:
            port = free_port()
            runs.append(load("python -m http.server", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                                      "--directory", str(site), str(port)],
                             port, site, idle_wait_s=20))
        sizes = {"html_pages": len(list(site.rglob("*.html"))),
                 "pdf_kb": [round(p.stat().st_size / 1024) for p in site.rglob("*.pdf") if p != site / LARGE_DOWNLOAD]}

    print(f"\n{CONCURRENT} concurrent requests (half HTML, half PDF) with {IDLE} idle connections open; "
          f"site: {sizes['html_pages']} pages, PDFs {sizes['pdf_kb']} KB")
    header = ("server", "answered", "html", "pdf", "burst s", "p50 s", "p95 s", "max s", "idle closed",
              "RSS MB start/peak", "threads", "server CPU s", "hang-ups", "stderr lines", "tracebacks")
    print(" | ".join(header))
    for run in runs:
        print(" | ".join(str(x) for x in (
            run["server"], f"{run['answered']}/{run['requests']}",
            f"{run['by_kind']['html']['answered']}/{run['by_kind']['html']['requests']}",
            f"{run['by_kind']['pdf']['answered']}/{run['by_kind']['pdf']['requests']}",
            run["burst_s"], run["latency_p50_s"], run["latency_p95_s"], run["latency_max_s"],
            f"{run['idle_closed']}/{IDLE} after {run['idle_closed_after_s']} s",
            f"{run['rss_start_mb']}/{run['rss_peak_mb']}", run["threads_peak"], run["cpu_s"], run["hang_ups"],
            run["stderr_lines"], run["tracebacks"])))
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "serve.json", {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
        "concurrent": CONCURRENT, "idle": IDLE, "site": sizes, "runs": runs,
    })
    print(f"written {RESULTS / 'serve.json'}")


if __name__ == "__main__":
    main()
