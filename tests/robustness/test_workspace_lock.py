"""One run per workspace: a second run is refused with a clear message; a dead run's lock is taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from synthese.core.config import load_config
from synthese.core.errors import LockError
from synthese.workspace import Workspace

CONFIG = """\
cycle: {title: "Cycle", organiser: "Organisme"}
sessions:
  - {id: s1, title: "Séance", transcript: s1.vtt}
themes:
  - {id: sobriete, label: "Sobriété", description: "Énergie.", keywords: ["énergie"]}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    (tmp_path / "s1.vtt").write_text("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nBonjour.\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    return Workspace(load_config(tmp_path / "config.yaml"))


def hold_lock_in_child(root: Path) -> subprocess.Popen:
    """Start a real process that takes the workspace lock and sleeps."""
    code = textwrap.dedent(f"""
        import sys, time
        from synthese.core.config import load_config
        from synthese.workspace import Workspace
        ws = Workspace(load_config({str(root / 'config.yaml')!r}))
        with ws.lock():
            print("locked", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "locked"
    return child


def test_second_run_is_refused_with_the_holder(workspace):
    child = hold_lock_in_child(workspace.root)
    try:
        with pytest.raises(LockError) as error:
            with workspace.lock():
                pass
        assert str(error.value) == (
            f"{workspace.root / '.synthese.lock'}: another synthese run (pid {child.pid}) is working "
            "in this folder. Wait for it to finish, then run again."
        )
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_run_is_taken_over(workspace):
    child = hold_lock_in_child(workspace.root)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    # The lock file is still there, naming the dead process; the lock itself died with it.
    assert (workspace.root / ".synthese.lock").read_text() == f"pid {child.pid}"
    started = time.monotonic()
    with workspace.lock():
        assert (workspace.root / ".synthese.lock").read_text() == f"pid {os.getpid()}"
    assert time.monotonic() - started < 5


def test_cli_reports_lock_in_one_line(workspace, cli):
    child = hold_lock_in_child(workspace.root)
    try:
        result = cli("--config", str(workspace.root / "config.yaml"), "run")
    finally:
        child.kill()
        child.wait()
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {workspace.root / '.synthese.lock'}: another synthese run (pid {child.pid}) is working "
        "in this folder. Wait for it to finish, then run again."
    ]


def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(workspace, tmp_path):
    victim = tmp_path.parent / f"{tmp_path.name}-notes.txt"
    victim.write_text("notes précieuses", encoding="utf-8")
    lock_path = workspace.root / ".synthese.lock"
    lock_path.symlink_to(victim)
    try:
        with pytest.raises(LockError) as error:
            with workspace.lock():
                pass
        assert str(error.value) == (f"{lock_path}: is a symbolic link (to {victim}). Synthèse writes only its own "
                                    f"lock file there: remove it (`rm {lock_path}`), then run again.")
        assert victim.read_text(encoding="utf-8") == "notes précieuses" and lock_path.is_symlink()
        lock_path.unlink()
        dangling = tmp_path.parent / f"{tmp_path.name}-absent"
        lock_path.symlink_to(dangling)  # a link to nothing would create a file where it leads
        with pytest.raises(LockError, match="is a symbolic link"):
            with workspace.lock():
                pass
        assert not dangling.exists()
        lock_path.unlink()
        os.link(victim, lock_path)  # a hard link reaches the same file
        with pytest.raises(LockError, match=r"is a hard link to another file\. Synthèse writes only its own"):
            with workspace.lock():
                pass
        assert victim.read_text(encoding="utf-8") == "notes précieuses"
        lock_path.unlink()
        os.mkfifo(lock_path)
        with pytest.raises(LockError, match=r"is not a regular file\."):
            with workspace.lock():
                pass
    finally:
        victim.unlink()
