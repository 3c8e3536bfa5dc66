"""An exclusive per-series lock, so concurrent writers never interleave a read-modify-write.

The lock is an advisory ``fcntl.flock`` on ``{series_dir}/.lock`` (a dot file: parquet
readers skip it). The lock file is never deleted, so two processes can never hold locks
on two different files for the same series. The kernel drops the lock when its holder
dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .layout import LOCK_NAME

__all__ = ["exclusive_lock", "series_lock"]


@contextmanager
def series_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on the series in ``directory`` (which must exist).

    Blocks until every other writer of the series has finished.
    """
    with exclusive_lock(Path(directory) / LOCK_NAME):
        yield


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on the file ``path`` (created if missing, never
    deleted); blocks until every other holder has let go."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
