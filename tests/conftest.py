"""Shared fixtures: paths to the repository and the evaluation material, and a CLI runner.

Plain `pytest` runs the fast tests (under 3 minutes on 2 cores, on two workers); tests marked
`slow` (Whisper on real clips, whole runs of the pipeline, the browser) run only with `--slow`, as
the README's test command and CI do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run the slow tests (Whisper, whole runs, browser)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The fast tests are many short ones: they run on two workers (pytest-xdist, in the test
    extras) unless told otherwise (`-n 0`, or `-p no:xdist`). The slow ones keep one process:
    Whisper and the diarization already use every core, and the browser tests drive a server."""
    if (config.getoption("--slow") or not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput")
            or config.getoption("numprocesses", None) is not None or (os.cpu_count() or 1) < 2):
        return
    config.option.numprocesses = 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords or "browser" in item.keywords:
            item.add_marker(skip)


SHARED_EVAL = REPO.parent / "shared" / "eval"
SAMPLE_MEDIA = REPO / "transcripts" / "seance-introductive" / "seance-introductive.ogg"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared_eval() -> Path:
    if not SHARED_EVAL.is_dir():
        pytest.skip(f"evaluation material not found at {SHARED_EVAL}")
    return SHARED_EVAL


@pytest.fixture(scope="module")
def tags():
    """The tags of the rendering tests' sample session (tests/data/render_sample.tags.json)."""
    from synthese.core.artefacts import Tags

    return Tags.load(REPO / "tests" / "data" / "render_sample.tags.json")


@pytest.fixture(scope="module")
def transcript():
    """Its transcript (tests/data/render_sample.transcript.json)."""
    from synthese.core.artefacts import Transcript

    return Transcript.load(REPO / "tests" / "data" / "render_sample.transcript.json")


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m synthese ARGS` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "synthese", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


def repository_config() -> dict:
    """The repository's config.yaml as data, its paths made absolute so that a test can write it
    into another folder (the codebook's weights file stays where it is)."""
    import yaml

    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    weights = data.get("tag", {}).get("weights_file")
    if weights:
        data["tag"]["weights_file"] = str(REPO / weights)
    return data


def transcribe_session(source, config, session, *, out_dir: Path, stem: str, checkpoint: Path, quiet: bool = True):
    """The transcribe stage on one replay, saved as `synthese run` saves it (JSON and captions);
    returns the JSON's path."""
    from synthese.stages import save_transcript
    from synthese.transcribe import transcription
    from synthese.workspace import SessionPaths

    transcript = transcription.transcribe(source, config, session, checkpoint=checkpoint, quiet=quiet)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = save_transcript(transcript, SessionPaths(out_dir, stem))
    checkpoint.unlink(missing_ok=True)
    return path
