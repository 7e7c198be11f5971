"""Run a `synthese` command and measure it: wall time, peak memory, and when each stage began.

Shared by bench_end_to_end.py and bench_memory.py. The command runs as a child process, as staff
run it; its log lines are time-stamped as they arrive, which gives per-stage times without any
change to the pipeline's log format.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from synthese.core.storage import read_jsonl, write_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
SYNTHESE = REPO / ".venv" / "bin" / "synthese"

# "<session>: transcribe…" and "publish: 1 session(s) into …": the stage markers synthese.run logs.
STAGE_LINE = re.compile(r"^(?P<session>[a-z0-9][a-z0-9_-]*): (?P<stage>transcribe|tag|render)…")
PUBLISH_LINE = re.compile(r"^publish: ")


@dataclass
class Measurement:
    """What one command cost."""

    command: list[str]
    returncode: int
    wall_s: float
    peak_rss_bytes: int  # largest sum of RSS over the process tree, sampled
    max_rss_bytes: int  # the kernel's high-water mark of the largest process (wait4)
    cpu_s: float  # user + system CPU time of the process (wait4): less sensitive to other load
    samples: int
    load_avg_1m: float = 0.0  # the machine's load when the command ended: other work competing
    lines: list[tuple[float, str]] = field(default_factory=list)  # (seconds since start, log line)

    @property
    def peak_bytes(self) -> int:
        """The peak memory: the sampled tree peak, or the exact high-water mark if higher."""
        return max(self.peak_rss_bytes, self.max_rss_bytes)

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def stage_times(self) -> dict[str, float]:
        """Seconds per stage, from the time-stamped stage markers: 'startup' (imports and config
        until the first stage), then each stage until the next marker or the end."""
        marks = []
        for at, line in self.lines:
            if match := STAGE_LINE.match(line):
                marks.append((at, match["stage"]))
            elif PUBLISH_LINE.match(line):
                marks.append((at, "publish"))
        if not marks:
            return {}
        times = {"startup": round(marks[0][0], 3)}
        for (at, stage), (next_at, _) in zip(marks, [*marks[1:], (self.wall_s, "")]):
            times[stage] = round(times.get(stage, 0.0) + next_at - at, 3)
        return times

    def to_json(self) -> dict:
        return {"command": self.command, "returncode": self.returncode, "wall_s": round(self.wall_s, 3),
                "cpu_s": round(self.cpu_s, 3), "load_avg_1m": round(self.load_avg_1m, 2),
                "peak_rss_mb": round(self.peak_bytes / 2**20, 1),
                "peak_tree_rss_mb": round(self.peak_rss_bytes / 2**20, 1),
                "max_rss_mb": round(self.max_rss_bytes / 2**20, 1), "rss_samples": self.samples,
                "stage_s": self.stage_times(),
                "log_tail": [f"{at:8.2f}s  {line}" for at, line in self.lines[-25:]]}


def run_measured(command: list[str], *, cwd: Path = REPO, sample_s: float = 0.2) -> Measurement:
    """Run command to its end; sample the RSS of its process tree every sample_s seconds and
    time-stamp each line it writes (stdout and stderr together)."""
    import psutil

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, encoding="utf-8", errors="replace")
    lines: list[tuple[float, str]] = []

    def read_output() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.perf_counter() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    peak, samples = 0, 0
    finished = threading.Event()

    def sample() -> None:
        nonlocal peak, samples
        root = psutil.Process(process.pid)
        while not finished.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                total = 0
                for proc in tree:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass  # a child that ended between the listing and the reading
                peak = max(peak, total)
                samples += 1
            except psutil.Error:
                break
            finished.wait(sample_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 gives the child's own resource usage, whose ru_maxrss is the exact peak (in KiB).
    _, status, usage = os.wait4(process.pid, 0)
    wall_s = time.perf_counter() - started
    finished.set()
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    sampler.join()
    return Measurement(command=[str(c) for c in command], returncode=process.returncode, wall_s=wall_s,
                       peak_rss_bytes=peak, max_rss_bytes=usage.ru_maxrss * 1024,
                       cpu_s=usage.ru_utime + usage.ru_stime, samples=samples, load_avg_1m=os.getloadavg()[0],
                       lines=lines)


def machine() -> dict:
    """The machine the figures were measured on."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1), "load_avg_1m": os.getloadavg()[0],
            "python": sys.version.split()[0], "platform": platform.platform()}


def write_results(name: str, payload: dict, results_dir: Path = RESULTS) -> Path:
    """Write bench/results/<name>.json (with the machine and the time of measurement)."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    payload = {"benchmark": name, "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), **payload}
    return write_json(path, payload)


def load_truth(session_dir: Path) -> dict:
    """The ground truth written by make_long_session.py, or a clear message to generate it."""
    path = session_dir / "ground-truth.json"
    if not path.is_file():
        sys.exit(f"{path}: not found. Generate the session first: "
                 f".venv/bin/python bench/make_long_session.py --minutes 30 -o {session_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def passages_by_source(path: Path, seed: int) -> list[dict]:
    """The labelled passages of a JSONL file grouped by source, the sources in an order shuffled
    by `seed`: a text that changes topic where the sources change, as a session does."""
    by_source: dict[str, list[dict]] = {}
    for _, row in read_jsonl(path, '{"id", "source", "text", "themes"}'):
        by_source.setdefault(row["source"], []).append(row)
    sources = list(by_source)
    random.Random(seed).shuffle(sources)
    return [row for source in sources for row in by_source[source]]


def print_table(rows: list[tuple], header: tuple) -> None:
    """A plain aligned table on stdout."""
    cells = [tuple(str(c) for c in header), *[tuple(str(c) for c in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if index == 0:
            print("  ".join("-" * w for w in widths))
