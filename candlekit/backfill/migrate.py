"""Where the task registry lives, and moving it there from where older versions kept it.

The registry is ``<root>/_candlekit/tasks.sqlite`` (:meth:`candlekit.Store.meta_path`), so
that pandas, pyarrow, polars, DuckDB, Spark and Dask can read the store root as a parquet
dataset: they skip names that start with ``_`` or ``.``. Versions before it kept the file
at ``<root>/tasks.sqlite`` (with its ``-wal``/``-shm``), where those readers fail on it.

:func:`registry_path` moves such a legacy registry on first use, without losing a record:

* Migrations are serialised by a lock file (``_candlekit/.tasks-migrate.lock``), and the
  legacy database is copied inside a ``BEGIN IMMEDIATE`` transaction (SQLite's backup API
  reads through its write-ahead log), so no writer can change it between the copy and the
  move.
* While a task recorded in the legacy file is running or about to run (heartbeat or update
  younger than the registry's staleness limit) the file is left in place and used there: a
  process of an older candlekit may still be writing to it by name. A later open, once
  nothing runs, moves it.
* The copy is written next to its destination and renamed into place. If a registry
  already exists there (an older process re-created the legacy file afterwards), the legacy
  records are merged into it instead: tasks missing there are added, a task present in both
  keeps the more recently updated record, and availability records are added where absent.
* The legacy files are not deleted: they are renamed together (database, ``-wal``,
  ``-shm``) to ``_candlekit/tasks.legacy-<UTC time>.sqlite``, so a write by a process that
  still had them open lands in a file that is kept, not in a deleted one.
* A store that cannot be written (read-only, permission denied) or a legacy file that is
  not a readable database keeps using the legacy path as it is; the registry then reads it,
  or reports it as unusable, naming it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from ..store.lock import exclusive_lock
from ..store.store import META_DIR

__all__ = ["LEGACY_BACKUP_PREFIX", "migrate_registry", "registry_path"]

#: Name prefix of the kept copies of migrated legacy registries (under ``_candlekit/``).
LEGACY_BACKUP_PREFIX = "tasks.legacy-"
_LOCK_NAME = ".tasks-migrate.lock"
_SIDE_FILES = ("-wal", "-shm")


def registry_path(root: str | os.PathLike[str], name: str = "tasks.sqlite", *,
                  stale_after_s: float = 120.0) -> Path:
    """The task registry file of the store at ``root``, moving a legacy one there first.

    Parameters
    ----------
    root : str or os.PathLike
        The store root.
    name : str, default "tasks.sqlite"
        The registry's file name.
    stale_after_s : float, default 120
        A pending or running legacy task updated more recently than this is taken to be in
        use by another process, and the legacy file is then used where it is.

    Returns
    -------
    pathlib.Path
        ``<root>/_candlekit/<name>``, or ``<root>/<name>`` while a legacy registry there
        cannot be moved yet (see the module docstring).
    """
    root = Path(root)
    target = root / META_DIR / name
    legacy = root / name
    if not legacy.exists():
        return target
    return migrate_registry(legacy, target, stale_after_s=stale_after_s)


def migrate_registry(legacy: Path, target: Path, *, stale_after_s: float = 120.0) -> Path:
    """Move the registry ``legacy`` to ``target`` (merging when ``target`` exists).

    Returns
    -------
    pathlib.Path
        ``target`` when the records are there, else ``legacy`` (still in use, not
        writable, or not a database).
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(target.parent / _LOCK_NAME):
            return _migrate_locked(legacy, target, stale_after_s)
    except OSError:
        return target if target.exists() and not legacy.exists() else legacy


def _migrate_locked(legacy: Path, target: Path, stale_after_s: float) -> Path:
    if not legacy.exists():  # another process moved it while we waited for the lock
        return target
    try:
        con = sqlite3.connect(f"file:{legacy}?mode=rw", uri=True, timeout=60.0,
                              isolation_level=None)
    except sqlite3.Error:
        return legacy
    try:
        con.execute("PRAGMA busy_timeout=60000")
        # Fold the write-ahead log into the database first (a no-op when others read), so
        # the side files moved below are empty or hold only what the database already has.
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        con.execute("BEGIN IMMEDIATE")  # from here no other writer can change it
        if _in_use(con, stale_after_s):
            return legacy
        copy = target.parent / f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.migrating"
        try:
            # A second connection reads (WAL readers run beside the writer); it sees the
            # last commit, which no one can change while ``con`` holds the write lock.
            reader = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True, timeout=60.0)
            dst = sqlite3.connect(copy)
            try:
                reader.backup(dst)
            finally:
                dst.close()
                reader.close()
            _fsync(copy)
            if target.exists():
                _merge(copy, target)
            else:
                os.replace(copy, target)
            _fsync(target.parent)
        finally:
            for suffix in ("", "-journal", *_SIDE_FILES):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        kept = target.parent / f"{LEGACY_BACKUP_PREFIX}{stamp}-{os.urandom(2).hex()}.sqlite"
        # The database first, then its side files: a process that opens the old path in
        # between finds no registry there (and starts an empty one, merged on a later
        # open), never the database without its log.
        for suffix in ("", *_SIDE_FILES):
            side = Path(f"{legacy}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{kept}{suffix}"))
        _fsync(legacy.parent)
        _fsync(target.parent)
        return target
    except sqlite3.DatabaseError:
        return legacy  # not a database: the registry names the file when it opens it
    finally:
        with contextlib.suppress(sqlite3.Error):
            if con.in_transaction:
                con.execute("ROLLBACK")
        con.close()


def _in_use(con: sqlite3.Connection, stale_after_s: float) -> bool:
    """Whether a legacy task is running or about to run (recent heartbeat or update)."""
    cutoff = int(time.time() * 1000 - stale_after_s * 1000)
    try:
        row = con.execute(
            "SELECT COUNT(*) FROM tasks WHERE status IN ('pending', 'running') AND "
            "MAX(COALESCE(heartbeat_ms, 0), COALESCE(updated_ms, 0)) > ?", (cutoff,)).fetchone()
    except sqlite3.OperationalError:  # no tasks table: an empty registry
        return False
    return bool(row[0])


def _columns(con: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in con.execute(f'PRAGMA "{schema}".table_info("{table}")')]


def _merge(src: Path, dst: Path) -> None:
    """Add the records of registry ``src`` to registry ``dst`` (see the module docstring)."""
    con = sqlite3.connect(dst, timeout=60.0, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=60000")
        con.execute("ATTACH DATABASE ? AS legacy", (str(src),))
        con.execute("BEGIN IMMEDIATE")
        tables = [r[0] for r in con.execute(
            "SELECT name FROM legacy.sqlite_master WHERE type='table' "
            "AND name NOT LIKE 'sqlite_%'")]
        main_tables = {r[0] for r in con.execute(
            "SELECT name FROM main.sqlite_master WHERE type='table'")}
        for table in tables:
            if table not in main_tables:
                sql = con.execute("SELECT sql FROM legacy.sqlite_master WHERE name=?",
                                  (table,)).fetchone()[0]
                con.execute(sql)
        if "tasks" in tables:
            # A task in both keeps the more recently updated record (with its series rows).
            newer = [r[0] for r in con.execute(
                "SELECT l.id FROM legacy.tasks l JOIN main.tasks m ON l.id = m.id "
                "WHERE l.updated_ms > m.updated_ms")]
            for task_id in newer:
                con.execute("DELETE FROM main.tasks WHERE id=?", (task_id,))
                if "task_series" in tables:
                    con.execute("DELETE FROM main.task_series WHERE task_id=?", (task_id,))
        for table in tables:
            common = [c for c in _columns(con, "legacy", table)
                      if c in set(_columns(con, "main", table))]
            if not common:
                continue
            cols = ", ".join(f'"{c}"' for c in common)
            con.execute(f'INSERT OR IGNORE INTO main."{table}" ({cols}) '
                        f'SELECT {cols} FROM legacy."{table}"')
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
