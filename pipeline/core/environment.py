"""The machine the pipeline runs on: fonts, system libraries, disks. Each problem becomes one
message saying what to install or free, instead of a crash or a traceback.

WeasyPrint lays out the PDF with Pango, which finds fonts through fontconfig: with no font at
all, Pango crashes the process (a segmentation fault, no message), so the fonts are checked
before the first PDF. A missing Pango library makes `import weasyprint` fail with an OSError.
A full disk, a read-only folder or a folder without permission can happen in any stage; the
command line turns those OSErrors into plain messages (describe_os_error).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import importlib
import logging
import os
from pathlib import Path
from typing import Any

from .errors import DependencyError

log = logging.getLogger(__name__)

FONT_PACKAGE = "fonts-dejavu-core"
PANGO_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0"


class _FcFontSet(ctypes.Structure):
    _fields_ = [("nfont", ctypes.c_int), ("sfont", ctypes.c_int), ("fonts", ctypes.c_void_p)]


def font_count() -> int | None:
    """How many fonts fontconfig finds (as Pango will), or None when fontconfig is missing."""
    name = ctypes.util.find_library("fontconfig") or "libfontconfig.so.1"
    try:
        fc = ctypes.CDLL(name)
    except OSError:
        return None
    fc.FcInitLoadConfigAndFonts.restype = ctypes.c_void_p
    fc.FcPatternCreate.restype = ctypes.c_void_p
    fc.FcObjectSetCreate.restype = ctypes.c_void_p
    fc.FcObjectSetAdd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    fc.FcFontList.restype = ctypes.POINTER(_FcFontSet)
    fc.FcFontList.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    for function in ("FcFontSetDestroy", "FcObjectSetDestroy", "FcPatternDestroy", "FcConfigDestroy"):
        getattr(fc, function).argtypes = [ctypes.c_void_p]
    config = fc.FcInitLoadConfigAndFonts()
    if not config:
        return 0
    pattern, objects = fc.FcPatternCreate(), fc.FcObjectSetCreate()
    fc.FcObjectSetAdd(objects, b"file")
    fonts = fc.FcFontList(config, pattern, objects)
    count = fonts.contents.nfont if fonts else 0
    if fonts:
        fc.FcFontSetDestroy(ctypes.cast(fonts, ctypes.c_void_p))
    fc.FcObjectSetDestroy(objects)
    fc.FcPatternDestroy(pattern)
    fc.FcConfigDestroy(config)
    return count


@functools.cache
def check_fonts() -> None:
    """Raise DependencyError when no font is installed (Pango would crash the process)."""
    count = font_count()
    if count is None:
        raise DependencyError("the fontconfig library is missing, so the PDF cannot be laid out. Install it: "
                              f"`apt-get install libfontconfig1 {FONT_PACKAGE}`, then run again.")
    if count == 0:
        raise DependencyError("no font is installed on this computer, so the PDF cannot be laid out. Install "
                              f"one: `apt-get install {FONT_PACKAGE}` (Debian, Ubuntu), then run again.")
    log.debug("fontconfig: %d fonts", count)


def load_weasyprint() -> Any:
    """The weasyprint module, after the font check; a missing Pango is explained."""
    check_fonts()
    try:
        return importlib.import_module("weasyprint")
    except OSError as exc:
        # cffi's message names the library it could not load, e.g. "cannot load library 'libpango-1.0-0'".
        raise DependencyError(
            f"WeasyPrint cannot load the Pango library it lays out the PDF with ({str(exc).splitlines()[0][:200]}). "
            f"Install it: `apt-get install {PANGO_PACKAGES}`, then run again."
        ) from None


# --- disks -------------------------------------------------------------------------------------

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
READ_ONLY = (errno.EROFS,)
NO_PERMISSION = (errno.EACCES, errno.EPERM)
STORAGE_ERRNOS = (*DISK_FULL, *READ_ONLY, *NO_PERMISSION)


def _folder_of(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def describe_os_error(exc: OSError, target: Path | None = None) -> str | None:
    """A plain message for a full disk, a read-only folder or a permission refused, naming the
    folder (from the error, else `target`, the file being written); None for other errors."""
    name = exc.filename if exc.filename is not None else target
    path = Path(os.fsdecode(name)) if name is not None else None
    # A temporary file beside its target (.name.<random>.part) means little to staff: name the folder.
    folder = _folder_of(path) if path is not None else None
    where = f" in {folder}" if folder is not None else ""
    if exc.errno in DISK_FULL:
        check = f" (`df -h {folder}` shows it)" if folder is not None else ""
        return (f"no space left on the disk{where}{check}. Free some space, then run the same command "
                "again: finished stages are kept.")
    if exc.errno in READ_ONLY:
        return (f"cannot write{where}: it is on a read-only file system. Run from a folder you can write to "
                "(or make that disk writable), then run again.")
    if exc.errno in NO_PERMISSION:
        subject = path if path is not None else "a file"
        return (f"permission denied on {subject}. Give your user the right to read and write "
                f"{folder if folder is not None else 'that folder'}, or run from a folder you own.")
    return None
