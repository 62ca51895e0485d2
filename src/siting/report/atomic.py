"""Write a run's outputs into a folder atomically.

Everything is written into a temporary folder beside the target and moved into place at the
end, so an interrupted run leaves the previous outputs untouched and never half-written.
Only a folder that siting wrote (or an empty one) is ever replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from siting._version import __version__
from siting.errors import OutputError
from siting.files import fsync_dir

#: Written into every output folder: marks it as siting's own, so that it may be replaced.
MARKER = ".siting-output"
#: Files whose presence also marks a folder as a siting output (written before the marker existed).
LEGACY_MARKERS = ("summary.json",)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def output_folder(root: Path, name: str) -> Path:
    """The output folder ``root/name``, checked to stay inside ``root``.

    Parameters
    ----------
    root
        The folder outputs go to (``out`` by default).
    name
        The scenario's name.

    Raises
    ------
    OutputError
        When ``name`` would lead outside ``root`` (``..``, a path separator, an absolute path).
    """
    root = Path(root).resolve()
    target = (root / name).resolve()
    if target.parent != root or name in ("", ".", "..") or Path(name).name != name:
        raise OutputError(f"scenario name {name!r} would write outside the output folder {root}; "
                          f"give the scenario a plain name (letters, digits, '_', '-', '.')")
    return target


def check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is not a siting output.

    Raises
    ------
    OutputError
        When ``target`` is a file, or a folder holding files siting did not write.
    """
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputError(f"output folder {target} exists and is a file; choose another folder with --out")
    entries = sorted(p.name for p in target.iterdir())
    if not entries or MARKER in entries or any(m in entries for m in LEGACY_MARKERS):
        return
    shown = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
    raise OutputError(f"output folder {target} holds files siting did not write ({shown}); siting replaces "
                      f"its output folder as a whole, so choose a new or an empty folder with --out")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove temporary folders left beside ``target`` by runs that were killed.

    A run killed between moving the previous output aside and moving the new one in leaves
    the previous output in a ``.old`` folder: it is put back when ``target`` is missing.

    Returns
    -------
    list
        The folders removed or restored.
    """
    handled: list[Path] = []
    parent = target.parent
    if not parent.is_dir():
        return handled
    for kind in ("old", "tmp"):
        for p in sorted(parent.glob(f".{glob.escape(target.name)}.{kind}-*")):
            pid_text = p.name[len(target.name) + len(kind) + 3:].split("-", 1)[0]
            if not pid_text.isdigit() or (_pid_alive(int(pid_text)) and int(pid_text) != os.getpid()):
                continue
            if kind == "old" and not target.exists():
                p.rename(target)
            else:
                shutil.rmtree(p, ignore_errors=True)
            handled.append(p)
    return handled


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk."""
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(folder)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return bool(renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0)


def _move_into_place(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target``; the previous ``target`` is removed only once ``tmp`` is in place."""
    if not target.exists():
        tmp.rename(target)
        fsync_dir(target.parent)
        return
    if _exchange(tmp, target):  # tmp now holds the previous output
        fsync_dir(target.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    old.rmdir()
    target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        old.rename(target)
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)

@contextlib.contextmanager
def atomic_output_dir(target: Path) -> Iterator[Path]:
    """A temporary folder that replaces ``target`` when the block ends without error.

    The temporary folder lives beside ``target`` (so that the final move is a rename on one
    file system); its files are flushed to disk before the move, and the previous output is
    removed only once the new one is in place (an atomic exchange on Linux). An error, Ctrl-C
    or a kill leaves the previous output as it was; temporaries left by a killed run are
    removed by the next one.

    Parameters
    ----------
    target
        The output folder. Its parent is created if needed.

    Raises
    ------
    OutputError
        When ``target`` is a file or a folder holding files siting did not write.
    """
    target = Path(target).resolve()
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    prefix = f".{target.name}.tmp-{os.getpid()}-"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
        yield tmp
        (tmp / MARKER).write_text(f"written by siting {__version__}; siting may replace this folder\n",
                                  encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; an output folder is an ordinary one
        _fsync_tree(tmp)
        _move_into_place(tmp, target)
    except BaseException:
        # every temporary folder of this process for this target (Ctrl-C can land between the folder's
        # creation and the name being bound)
        for stale in target.parent.glob(f"{glob.escape(prefix)}*"):
            shutil.rmtree(stale, ignore_errors=True)
        raise
