"""Files on disk: atomic writes, JSON reading with clear errors, content hashes.

Every file the pipeline writes goes through `atomic_path`, so a reader (or a later run) sees either
the previous file or the complete new one, never a part. Hashes of inputs decide whether a stage
is up to date (see workspace.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import limits
from .environment import STORAGE_ERRNOS, describe_os_error
from .errors import InputError, StorageError, SyntheseError

_UMASK = os.umask(0)
os.umask(_UMASK)


# The temporary files this process is writing now: another thread clearing a killed run's
# leftovers (Workspace.clear_partial_files) must leave them alone.
_WRITING: set[str] = set()
_WRITING_LOCK = threading.Lock()
# What tempfile.mkstemp names a part file of ours: '.<target name>.<8 random characters>.part'.
_PART_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")


def remove_leftover_part_files(folder: Path) -> list[Path]:
    """Remove the temporary files a killed write left in `folder`: named as ours, and not being
    written by this process now (the lock keeps a write from starting meanwhile); return them."""
    with _WRITING_LOCK:
        leftovers = [p for p in folder.glob(".*.part") if _PART_FILE.match(p.name) and str(p) not in _WRITING
                     and not p.is_symlink() and p.is_file()]
        for path in leftovers:
            path.unlink(missing_ok=True)
    return leftovers


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it over `target` only if the block succeeds.

    A reader (or a later run) sees either the old file or the complete new one, never a part.
    A full disk, a read-only folder or a refused permission while writing is a StorageError
    naming the folder. No link is ever followed or replaced: a `target` that is a symbolic link
    is refused (the rename would put our file in place of the link, the file it leads to never
    being the one meant), and the temporary file (created with O_EXCL, which never follows a
    link) must still be the file created when it is renamed.
    """
    _refuse_link(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _WRITING_LOCK:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            _WRITING.add(tmp)
    except OSError as exc:
        raise _storage_error(exc, target) from exc
    created = os.fstat(fd)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        now = os.lstat(tmp_path)
        if (now.st_dev, now.st_ino) != (created.st_dev, created.st_ino) or not stat.S_ISREG(now.st_mode):
            raise StorageError(f"{tmp_path}: the temporary file was replaced (by a link or another file) while "
                               f"{target.name} was written; nothing was written. Check who writes in "
                               f"{target.parent}, then run again.")
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes private files; artefacts and documents are meant to be read by others.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        _refuse_link(target)
        os.replace(tmp_path, target)
    except OSError as exc:
        # Only errors about this file are worded here (a write names no file): an error reading
        # some input inside the block keeps its own file name for the command line to report.
        if exc.errno in STORAGE_ERRNOS and exc.filename in (None, str(tmp_path), str(target)):
            raise _storage_error(exc, target) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)
        with _WRITING_LOCK:
            _WRITING.discard(tmp)


def _refuse_link(target: Path) -> None:
    if os.path.islink(target):
        raise StorageError(f"{target}: is a symbolic link (to {os.readlink(target)}); Synthèse never writes through "
                           "a link nor replaces one. Remove the link (the file it leads to stays as it is), or move "
                           "the file it leads to in its place, then run again.")


def _storage_error(exc: OSError, target: Path) -> Exception:
    message = describe_os_error(exc, target) if exc.errno in STORAGE_ERRNOS else None
    if message is None:
        return exc
    return StorageError(f"writing {target.name}: {message}")


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o600)


def write_text(target: Path, text: str) -> Path:
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", opener=_no_follow) as handle:
        handle.write(text)
    return target


def write_bytes(target: Path, data: bytes) -> Path:
    with atomic_path(target) as tmp, open(tmp, "wb", opener=_no_follow) as handle:
        handle.write(data)
    return target


def write_json(target: Path, data: dict[str, Any]) -> Path:
    return write_text(target, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def read_json(path: Path) -> Any:
    """Parse a JSON file within limits.loads_json's bounds (nesting, finite numbers); a missing,
    unreadable or broken file is an error that names it, a named pipe is refused."""
    try:
        limits.input_file(path)
        return limits.loads_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SyntheseError(f"{path}: file not found. Run the previous stage first.") from None
    except IsADirectoryError:
        raise SyntheseError(f"{path}: is a folder, not a JSON file. Pass the file the previous stage wrote.") from None
    except OSError as exc:
        message = describe_os_error(exc, path)
        if message:
            raise StorageError(f"reading {path.name}: {message}") from None
        raise SyntheseError(f"{path}: cannot read it ({exc.strerror}). Check the file, or re-run the stage "
                            "that writes it.") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise SyntheseError(f"{path}: not a readable JSON file ({limits.shorten(exc, 200)}). Re-run the stage "
                            "that writes it.") from None


def read_jsonl(path: Path, rows: str) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a JSONL file with their line numbers, read within limits.loads_json's
    bounds; `rows` says what a row holds ('{"id", "text"}'), for the messages, which name the
    file and the line to fix."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found. Pass a JSONL file of {rows} rows.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc}). Save it as UTF-8 JSONL.") from None
    found = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = limits.loads_json(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path.name}, line {number}: not valid JSON ({exc.msg}). Fix that line.") from None
        except ValueError as exc:
            raise InputError(f"{path.name}, line {number}: {exc}. Fix that line.") from None
        if not isinstance(row, dict):
            raise InputError(f"{path.name}, line {number}: each row must be a JSON object {rows}. Fix that line.")
        found.append((number, row))
    return found


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_of(*parts: Any) -> str:
    """Stable hash of JSON-able values and files (a Path is hashed by content)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            digest.update(file_hash(part).encode() if part.is_file() else b"<missing>")
        else:
            digest.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:32]
