"""Atomic file writes, and clear errors for the machine's own faults.

A reader never sees a half-written file: data goes to a temporary file in the target's
directory, is flushed to disk, then renamed over the target with :func:`os.replace`.
A write that fails (disk full, read-only filesystem, permission denied) leaves the
target as it was and raises :class:`~candlekit.errors.StoreError` naming the path and
what to do (:func:`os_error`), never a bare :class:`OSError`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import CandlekitError, StoreError

__all__ = ["atomic_path", "atomic_write_text", "os_error", "translate_os_errors"]


def os_error(exc: OSError, path: str | os.PathLike[str], *, doing: str = "write"
             ) -> StoreError:
    """A :class:`StoreError` for an operating-system failure, saying what to do.

    Parameters
    ----------
    exc : OSError
        The failure (its ``errno`` decides the advice; its ``filename`` is named when set).
    path : str or os.PathLike
        What was being written (or read) when it happened.
    doing : str, default "write"
        ``"write"`` or ``"read"``, for the message.

    Returns
    -------
    StoreError
        With ``errno`` and ``__cause__`` from ``exc``, and ``path`` (what failed).

    Examples
    --------
    >>> import errno
    >>> str(os_error(OSError(errno.ENOSPC, "No space left on device"), "/data/x"))[:48]
    'Could not write /data/x: the disk is full (No sp'
    """
    named = getattr(exc, "filename", None)
    temp = named is not None and ".tmp" in os.path.basename(str(named))
    where = named if named is not None and not temp else path  # a temp file: its target
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        advice = ("the disk is full ({r}). Free space on that filesystem and run the command "
                  "again: it continues from what is stored; candles already stored are "
                  "intact.")
    elif code == errno.EROFS:
        advice = ("the filesystem is read-only ({r}). Reading the store still works; to "
                  "write, use a writable store (--data DIR or CANDLEKIT_DATA) or remount it "
                  "read-write. Candles already stored are intact.")
    elif code in (errno.EACCES, errno.EPERM):
        advice = ("permission denied ({r}). Give this user access to it (or its "
                  "directory), or use a store you own (--data DIR). Candles already "
                  "stored are intact.")
    else:
        advice = ("an I/O error of the machine ({r}). Check the disk and filesystem, then run "
                  "the command again; candles already stored are intact.")
    err = StoreError(f"Could not {doing} {where}: " + advice.format(r=reason))
    err.errno = code
    err.path = str(where)  # type: ignore[attr-defined]
    err.__cause__ = exc
    return err


@contextlib.contextmanager
def translate_os_errors(path: str | os.PathLike[str], *, doing: str = "write"
                        ) -> Iterator[None]:
    """Turn a bare :class:`OSError` raised inside the block into :func:`os_error`'s
    :class:`StoreError` (candlekit's own errors pass through unchanged)."""
    try:
        yield
    except CandlekitError:
        raise
    except OSError as exc:
        raise os_error(exc, path, doing=doing) from exc


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The final file. Its directory is created if missing.

    Yields
    ------
    pathlib.Path
        Where to write. If the block raises, the temporary file is removed and ``path``
        is left as it was.

    Raises
    ------
    StoreError
        For a bare :class:`OSError` (disk full, read-only, permission denied), with the
        path and what to do.
    """
    target = Path(path).expanduser().absolute()
    with translate_os_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}",
                                   dir=target.parent)
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        with translate_os_errors(target):
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; files are shareable
            os.replace(tmp_path, target)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the final path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "a.csv", "x\\n1\\n")
    >>> p.read_text()
    'x\\n1\\n'
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path).expanduser().absolute()
