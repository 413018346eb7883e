"""Result folders written whole: checked up front, locked, staged, then swapped in at once.

A run writes into a staging folder beside its output folder (``.NAME.partial``) and, when
every file is there, exchanges the two in one ``renameat2(RENAME_EXCHANGE)`` call (Linux), so
a reader, or a run killed at any moment, sees the previous complete folder or the new complete
one, never a mix of old and new files. Where the exchange is not available the folder is
swapped with two renames, and an interrupted swap is undone by the next run.

Two runs into one folder are kept apart by an advisory lock (``flock``) on ``.NAME.lock``
beside it: the second is refused at once. The lock dies with its process, even on SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


#: files that mark a folder dcsim wrote (every result folder has metadata.json); dcsim
#: replaces only such folders, or empty ones
_RESULT_FILES = ("metadata.json", "summary.json", "sweep.json", "compare.json", "points")


def _is_result_folder(path: Path) -> bool:
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    return not names or bool(names & set(_RESULT_FILES))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class OutputError(Exception):
    """The output folder cannot be used (the CLI exits 2 with the message)."""


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def save_into(write: Callable[[Path], None], directory: str | Path,
              keep: Callable[[Path, Path], object] | None = None) -> Path:
    """Call ``write(stage)`` and make the stage ``directory``, all at once; ``keep(final,
    stage)`` first brings over what the folder keeps from before. Returns the folder."""
    out = Path(directory)
    with OutputFolder(out) as folder:
        if keep is not None:
            keep(folder.final, folder.stage)
        write(folder.stage)
        folder.commit()
    return out


class OutputFolder:
    """The output folder of one command: ``stage`` is where its files go until :meth:`commit`.

    Use as a context manager: entering checks and locks the folder and makes an empty stage;
    leaving without a commit (an error, Ctrl-C, SIGTERM) deletes the stage and leaves the
    previous folder as it was.

    Args:
        final: the output folder the user named.
        keep_partial: keep an uncommitted stage (a sweep's finished points, for resuming).
    """

    def __init__(self, final: Path, keep_partial: bool = False):
        self.shown = final
        final = Path(os.path.abspath(final))
        self.final = final
        self.stage = final.parent / f".{final.name}.partial"
        self._old = final.parent / f".{final.name}.old"
        self._lock_path = final.parent / f".{final.name}.lock"
        self._lock: int | None = None
        self.keep_partial = keep_partial
        self.committed = False

    def __enter__(self) -> OutputFolder:
        final, shown = self.final, self.shown
        if final.exists() and not final.is_dir():
            raise OutputError(f"{shown}: output path exists and is not a folder")
        cwd = Path(os.path.abspath(os.getcwd()))
        if final == cwd or final in cwd.parents:
            raise OutputError(f"{shown}: is the current folder or holds it; the output folder "
                              f"is replaced as a whole, so name a folder of its own")
        if final.is_dir() and not _is_result_folder(final):
            raise OutputError(f"{shown}: folder is not empty and holds no dcsim results; the "
                              f"output folder is replaced as a whole, so name a new or a "
                              f"result folder")
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{shown}: cannot create the output folder here: "
                              f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(f"{shown}: another dcsim command is writing this folder (its lock "
                              f"{self._lock_path.name} is held); wait for it, or use another "
                              f"-o") from None
        self._lock = fd
        try:
            self._recover()
            if not self.keep_partial:
                shutil.rmtree(self.stage, ignore_errors=True)
            elif self.stage.is_dir():  # keep finished points only; other files are rewritten
                for entry in self.stage.iterdir():
                    if entry.name != "points":
                        _remove(entry)
            self.stage.mkdir(exist_ok=True)
            probe = self.stage / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            self._unlock()
            raise OutputError(f"{shown}: cannot write the output folder: "
                              f"{exc.strerror or exc}") from None
        return self

    def _recover(self) -> None:
        """Undo a two-rename swap cut short: the previous folder comes back."""
        if self._old.exists() and not self.final.exists():
            os.rename(self._old, self.final)
        shutil.rmtree(self._old, ignore_errors=True)

    def commit(self) -> None:
        """Put the stage in place of the output folder, in one step where the OS allows."""
        if self.final.exists():
            if _exchange(self.stage, self.final):
                shutil.rmtree(self.stage, ignore_errors=True)  # now the previous folder
            else:
                os.rename(self.final, self._old)
                os.rename(self.stage, self.final)
                shutil.rmtree(self._old, ignore_errors=True)
        else:
            os.rename(self.stage, self.final)
        self.committed = True

    def _unlock(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if not self.committed and not self.keep_partial:
                shutil.rmtree(self.stage, ignore_errors=True)
        finally:
            self._unlock()
