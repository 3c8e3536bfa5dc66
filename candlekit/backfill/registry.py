"""The task registry: one SQLite file, ``<store root>/_candlekit/tasks.sqlite``.

It records every backfill task (what was asked, its status and progress, per series),
and, per upstream series (source label, symbol, interval), what the upstream was seen not
to serve: the earliest open time still available (retention or listing) and the ranges it
confirmed empty (outages). The candles themselves live only in the store; deleting a
task deletes its record, never data.

Nothing recorded about absence is permanent: every record carries the time it is due to
be checked again (``next_check_ms``, server clock), spaced by :func:`recheck_spacing_ms`
(one hour, doubling with each check that agrees, at most 30 days). Records written by an
older candlekit (schema version 1, when a few empty answers in a row were taken as proof)
are migrated as *untrusted* (``checks = -1``): they are ignored by planning, so the next
run asks for those ranges again. :meth:`TaskRegistry.clear_availability` forgets them
(``candlekit tasks recheck``).

A registry on a read-only filesystem (or one this user may not write) is opened
read-only: listing and status work, writes raise :class:`~candlekit.errors.StoreError`.

Concurrency
-----------
The database is in WAL mode with a busy timeout; every operation opens its own short
connection, and every read-modify-write runs in one ``BEGIN IMMEDIATE`` transaction, so
any number of threads and processes can use one registry at once.

Liveness
--------
A running task records the process id, host and a heartbeat (wall clock, refreshed every
few seconds and after every page). A task marked ``running`` whose process is gone (or
whose heartbeat is older than :data:`STALE_AFTER_S` seconds) is reported, and persisted, as
``failed`` with the error ``interrupted: process N stopped while the task was running;
resume it with `candlekit tasks resume ID```. Resuming continues from what is stored.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import StoreError, TaskError, TaskRunningError
from ..store import META_DIR, Store
from .availability import (
    RECHECK_FIRST_MS,
    RECHECK_MAX_MS,
    Availability,
    EmptyRange,
    merge_rows,
    recheck_spacing_ms,
    subtract_ranges,
)
from .migrate import registry_path

__all__ = [
    "FINISHED",
    "HEARTBEAT_EVERY_S",
    "RECHECK_FIRST_MS",
    "RECHECK_MAX_MS",
    "STALE_AFTER_S",
    "STATUSES",
    "TASKS_FILE",
    "Availability",
    "EmptyRange",
    "TaskRegistry",
    "TaskStatus",
    "iso",
    "recheck_spacing_ms",
]

TASKS_FILE = "tasks.sqlite"
STATUSES = ("pending", "running", "completed", "partial", "failed", "cancelled")
FINISHED = ("completed", "partial", "failed", "cancelled")
HEARTBEAT_EVERY_S = 5.0
STALE_AFTER_S = 120.0
_SCHEMA_VERSION = 2
_LIST_COLUMNS = ("id", "status", "progress_pct", "candles_fetched", "symbol", "interval",
                 "start", "end", "source", "only_gaps", "created_at", "updated_at", "error",
                 "note")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    symbols TEXT NOT NULL,
    intervals TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER,
    source TEXT NOT NULL,
    label TEXT,
    base_url TEXT,
    only_gaps INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    error TEXT,
    note TEXT NOT NULL DEFAULT '',
    buckets_planned INTEGER NOT NULL DEFAULT 0,
    buckets_done INTEGER NOT NULL DEFAULT 0,
    candles_fetched INTEGER NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    host TEXT,
    run_token TEXT,
    heartbeat_ms INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS task_series (
    task_id TEXT NOT NULL,
    pos INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    buckets_planned INTEGER NOT NULL DEFAULT 0,
    buckets_done INTEGER NOT NULL DEFAULT 0,
    candles_fetched INTEGER NOT NULL DEFAULT 0,
    earliest_available INTEGER,
    unavailable INTEGER NOT NULL DEFAULT 0,
    confirmed_empty INTEGER NOT NULL DEFAULT 0,
    empty_ranges TEXT NOT NULL DEFAULT '[]',
    note TEXT NOT NULL DEFAULT '',
    error TEXT,
    PRIMARY KEY (task_id, symbol, interval)
);
CREATE TABLE IF NOT EXISTS availability (
    source TEXT NOT NULL,
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    earliest_available INTEGER NOT NULL,
    observed_ms INTEGER NOT NULL,
    next_check_ms INTEGER NOT NULL DEFAULT 0,
    checks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, symbol, interval)
);
CREATE TABLE IF NOT EXISTS empty_ranges (
    source TEXT NOT NULL,
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    observed_ms INTEGER NOT NULL,
    next_check_ms INTEGER NOT NULL DEFAULT 0,
    checks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, symbol, interval, start_ms)
);
"""


def iso(ms: int | None) -> str | None:
    """ISO 8601 UTC string of epoch ms (``2026-11-01T00:00:00Z``; ms shown when not 0)."""
    if ms is None:
        return None
    ts = pd.Timestamp(int(ms), unit="ms", tz="UTC")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if ms % 1000 else "%Y-%m-%dT%H:%M:%S"
    text = ts.strftime(fmt)
    return (text[:-3] if ms % 1000 else text) + "Z"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class TaskStatus:
    """A snapshot of one backfill task.

    Attributes
    ----------
    id : str
        ``"bf-"`` and 8 hex digits.
    symbol, interval : str
        The task's symbols and intervals, comma-joined (every combination is a series).
    status : str
        ``pending``, ``running``, ``completed``, ``partial`` (finished, but some ranges
        got only empty answers: the note names them; resume it), ``failed`` or
        ``cancelled``. A task whose process died while running is reported ``failed``
        with an ``interrupted`` error (resume it).
    progress_pct : float
        Buckets done / buckets planned over all series, in percent.
    candles_fetched : int
        Candles written to the store (over every run of the task; a batch that could
        not be written is not counted).
    error : str or None
        Why the task failed.
    created_at, updated_at : str
        ISO 8601 UTC.
    start : str
        Requested start (ISO 8601 UTC).
    end : str or None
        Requested end (exclusive); None means up to the server clock of each run.
    source : str
        The store source label the candles are written under (``"hyperliquid"``,
        ``"emulator"``, ...), or the source name until the first response.
    note : str
        What the user should know: history not available upstream, outages, nothing new.
    earliest_available : str or None
        The latest of the series' earliest available times (history before it is not
        available upstream for at least one series); per series in ``series``.
    series : list of dict
        Per series: ``symbol, interval, status, candles_fetched, earliest_available,
        note, progress_pct, unavailable`` (missing candles not requested: before
        ``earliest_available``), ``confirmed_empty`` (missing candles the upstream
        confirmed empty inside its history) and ``empty_ranges`` (those ranges, ISO).
    symbols, intervals : tuple of str
    only_gaps : bool
    requests : int
        Requests made to the upstream (over every run).
    pid : int or None
        Process that ran (or runs) the task.
    """

    id: str
    symbol: str
    interval: str
    status: str
    progress_pct: float
    candles_fetched: int
    error: str | None
    created_at: str
    updated_at: str
    start: str
    end: str | None
    source: str
    note: str
    earliest_available: str | None
    series: list[dict[str, Any]] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    intervals: tuple[str, ...] = ()
    only_gaps: bool = False
    requests: int = 0
    pid: int | None = None

    @property
    def done(self) -> bool:
        """Whether the task has finished (completed, failed or cancelled)."""
        return self.status in FINISHED

    def to_dict(self) -> dict[str, Any]:
        """The status as plain JSON-ready data."""
        out = asdict(self)
        out["symbols"] = list(self.symbols)
        out["intervals"] = list(self.intervals)
        return out


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a killed child not yet reaped still answers kill(0): look at its state
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def interrupted_message(task_id: str, pid: int | None) -> str:
    """The error recorded for a task whose process stopped while running it."""
    return (f"interrupted: process {pid} stopped while the task was running; resume it with "
            f"`candlekit tasks resume {task_id}` (or candlekit.resume({task_id!r})): it "
            "continues from what is stored")


class TaskRegistry:
    """Backfill tasks and upstream availability, in ``<root>/_candlekit/tasks.sqlite``.

    Parameters
    ----------
    root : str, os.PathLike or Store
        The store root (a :class:`candlekit.Store` is accepted). The file is created on
        the first write.

    Examples
    --------
    >>> reg = TaskRegistry("data")                          # doctest: +SKIP
    >>> reg.list()                                          # doctest: +SKIP
    >>> reg.status("bf-1a2b3c4d").progress_pct              # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str] | Any):
        store = root if isinstance(root, Store) else Store(root)
        self.store = store
        self.root = store.root  # a local directory, or an object store's URL
        if store.local and store.meta_dir == Path(store.root) / META_DIR:
            # <root>/_candlekit/tasks.sqlite (Store.meta_path), moving a legacy
            # <root>/tasks.sqlite there first (see candlekit.backfill.migrate)
            self.path = registry_path(store.root, TASKS_FILE, stale_after_s=STALE_AFTER_S)
        else:  # a registry directory of its own (always local: SQLite needs a local disk)
            self.path = store.meta_path(TASKS_FILE)
        self._ready = False
        self._ro = False  # reads go through a read-only connection (a read-only store)

    def __repr__(self) -> str:
        return f"TaskRegistry({str(self.root)!r})"

    # --- connections ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            if not write and not self.path.exists():
                yield None  # type: ignore[misc]  # nothing recorded yet
                return
            if not self._init(write=write):
                self._ro = True
        if self._ro and not write:
            with self._read_only() as con:  # a registry this process cannot write
                yield con
            return
        try:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc, write=write) from exc
        con.row_factory = sqlite3.Row
        if not write:
            try:
                con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.DatabaseError as exc:
                con.close()
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (3, 8, 14):
                    raise self._error(exc, write=False) from exc
                self._ro = True
                with self._read_only() as ro:
                    yield ro
                return
        try:
            con.execute("PRAGMA busy_timeout=60000")
            if write:
                con.execute("BEGIN IMMEDIATE")
            yield con
            if write:
                con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if con.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StoreError(f"The task registry {self.path} stayed locked for a minute "
                                 f"({exc}); another process holds it. Try again.") from exc
            raise self._error(exc, write=write) from exc
        except BaseException:
            if con.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    @contextlib.contextmanager
    def _read_only(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection (``mode=ro``, else ``immutable=1`` when not even the WAL
        index can be created, as on a read-only filesystem)."""
        uri = self.path.as_uri()
        last: sqlite3.Error | None = None
        for params in ("mode=ro", "mode=ro&immutable=1"):
            try:
                con = sqlite3.connect(f"{uri}?{params}", uri=True, timeout=60.0,
                                      isolation_level=None)
                con.row_factory = sqlite3.Row
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as exc:
                last = exc
                with contextlib.suppress(Exception):
                    con.close()
                continue
            try:
                yield con
            except sqlite3.DatabaseError as exc:
                raise self._error(exc, write=False) from exc
            finally:
                con.close()
            return
        raise self._error(last or sqlite3.OperationalError("cannot open"), write=False)

    def _error(self, exc: BaseException, *, write: bool) -> StoreError:
        """A :class:`StoreError` whose advice fits the cause of ``exc``."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        err = getattr(exc, "errno", None)
        text = str(exc).lower()
        if primary in (None, 10, 14) and err is None:  # IOERR, CANTOPEN: ask the filesystem
            err = _filesystem_errno(self.path.parent if self.path.parent.exists()
                                    else self.path.parent.parent)
        if primary == 13 or err == errno.ENOSPC or "disk is full" in text:  # SQLITE_FULL
            return StoreError(
                f"The task registry {self.path} could not be written: the disk is full "
                f"({exc}). Free space on the filesystem of {self.path.parent} and run the command "
                "again; nothing recorded so far was lost, and stored candles are intact.")
        if primary == 8 or err == errno.EROFS or "readonly" in text or "read-only" in text:
            return StoreError(
                f"The task registry {self.path} is read-only here ({exc}): the store at "
                f"{self.root} can be read (candlekit tasks list/status, coverage, gaps, data) "
                "but not written. Run backfills against a writable store (--data DIR or "
                "CANDLEKIT_DATA), or make this one writable.")
        if primary == 3 or err in (errno.EACCES, errno.EPERM) or "permission" in text:
            return StoreError(
                f"Permission denied on the task registry {self.path} ({exc}). Give this "
                f"user write access to {self.path.parent} (and the file), or use a store "
                "you own (--data DIR).")
        if primary in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
            return StoreError(
                f"The task registry {self.path} is damaged: {exc}. Candles are not stored "
                "there: move the file away to start a fresh registry (the task history and "
                "the recorded upstream availability are lost; the candles are not).")
        if primary == 14 and not self.path.parent.exists():  # SQLITE_CANTOPEN
            return StoreError(f"The task registry's directory {self.path.parent} does not "
                              f"exist ({exc}): check --data / the store root.")
        return StoreError(
            f"The task registry {self.path} could not be {'written' if write else 'read'}: "
            f"{exc}. This is an I/O problem of the machine (disk, filesystem or "
            "permissions), not of the task: fix it and run the command again; stored "
            "candles are intact.")

    def _init(self, *, write: bool = True) -> bool:
        """Create or migrate the schema; False when the registry can only be read."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except OSError as exc:
            if not write and self.path.exists():
                return False
            raise self._error(exc, write=True) from exc
        except sqlite3.Error as exc:
            if not write and self.path.exists():
                return False
            raise self._error(exc, write=True) from exc
        try:
            con.execute("PRAGMA busy_timeout=60000")
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            if version >= _SCHEMA_VERSION:  # nothing to create or migrate
                self._ready = True
                return True
            mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            if version < _SCHEMA_VERSION:
                have = {r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        con.execute(stmt)
                if version == 1 or (version == 0 and "availability" in have):
                    _migrate_v1(con)
                con.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if con.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("ROLLBACK")
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if not write and code in (3, 8, 14):  # PERM, READONLY, CANTOPEN: read it as is
                return False
            raise self._error(exc, write=True) from exc
        finally:
            con.close()
        self._ready = True
        return True

    # --- tasks --------------------------------------------------------------------------------

    def create(self, symbols: Sequence[str], intervals: Sequence[str], *, start: int,
               end: int | None, source: str, base_url: str | None = None,
               only_gaps: bool = False, label: str | None = None) -> str:
        """Record a new pending task and return its id.

        Parameters
        ----------
        symbols, intervals : sequence of str
            Every combination is one series.
        start : int
            Requested start, epoch ms.
        end : int or None
            Requested end (exclusive), epoch ms; None means up to the server clock.
        source : str
            Source name (for :func:`candlekit.sources.get_source` on resume).
        base_url : str, optional
            The source's base URL, when not its default.
        only_gaps : bool, default False
        label : str, optional
            The store source label, when already known.

        Returns
        -------
        str
            The new id, ``"bf-"`` and 8 hex digits.
        """
        now = _now_ms()
        with self._connect(write=True) as con:
            while True:
                task_id = "bf-" + secrets.token_hex(4)
                if con.execute("SELECT 1 FROM tasks WHERE id=?", (task_id,)).fetchone() is None:
                    break
            con.execute(
                "INSERT INTO tasks (id, symbols, intervals, start_ms, end_ms, source, label, "
                "base_url, only_gaps, status, created_ms, updated_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (task_id, json.dumps(list(symbols)), json.dumps(list(intervals)), int(start),
                 None if end is None else int(end), source, label, base_url, int(only_gaps),
                 now, now))
            pos = 0
            for sym in symbols:
                for iv in intervals:
                    con.execute("INSERT INTO task_series (task_id, pos, symbol, interval) "
                                "VALUES (?, ?, ?, ?)", (task_id, pos, sym, iv))
                    pos += 1
        return task_id

    def _row(self, con: sqlite3.Connection | None, task_id: str) -> sqlite3.Row:
        row = None if con is None else con.execute(
            "SELECT * FROM tasks WHERE id=?", (task_id,)).fetchone()
        if row is None:
            raise TaskError(
                f"No backfill task {task_id!r} in {self.path}. `candlekit tasks list` (or "
                "candlekit.tasks()) shows the task ids; pass the same --data / store as "
                "when the task was created.", task_id)
        return row

    def _require_file(self, task_id: str) -> None:
        """Raise the unknown-task error when there is no registry file (creating none)."""
        if not self.path.exists():
            self._row(None, task_id)

    def record(self, task_id: str) -> dict[str, Any]:
        """The raw stored record of a task (symbols and intervals decoded).

        Raises
        ------
        TaskError
            If there is no such task.
        """
        with self._connect() as con:
            row = dict(self._row(con, task_id))
        row["symbols"] = json.loads(row["symbols"])
        row["intervals"] = json.loads(row["intervals"])
        return row

    def _reap(self, con: sqlite3.Connection, row: sqlite3.Row) -> bool:
        """Mark a ``running`` task whose process died as failed; True if it did."""
        if row["status"] != "running" or self.is_alive(row):
            return False
        cur = con.execute(
            "UPDATE tasks SET status='failed', error=?, updated_ms=? "
            "WHERE id=? AND status='running' AND run_token IS ?",
            (interrupted_message(row["id"], row["pid"]), _now_ms(), row["id"],
             row["run_token"]))
        con.execute("UPDATE task_series SET status='failed' WHERE task_id=? AND "
                    "status IN ('running', 'pending')", (row["id"],))
        return cur.rowcount > 0

    @staticmethod
    def is_alive(row: Any) -> bool:
        """Whether the process recorded as running a task is still at it."""
        beat = row["heartbeat_ms"] or 0
        if _now_ms() - beat > STALE_AFTER_S * 1000:
            return False
        if row["host"] and row["host"] != socket.gethostname():
            return True  # another machine: trust the heartbeat
        return _pid_alive(row["pid"])

    def status(self, task_id: str) -> TaskStatus:
        """The current :class:`TaskStatus` of a task.

        Raises
        ------
        TaskError
            If there is no such task (``candlekit tasks list`` shows the ids).
        """
        with self._connect() as con:
            row = self._row(con, task_id)
        stale = False
        if row["status"] == "running" and not self.is_alive(row):
            try:
                with self._connect(write=True) as con:
                    self._reap(con, self._row(con, task_id))
            except StoreError:
                stale = True  # a read-only registry: report it, persist nothing
        with self._connect() as con:
            row = self._row(con, task_id)
            series = con.execute("SELECT * FROM task_series WHERE task_id=? ORDER BY pos",
                                 (task_id,)).fetchall()
        if stale and row["status"] == "running":
            row = {**dict(row), "status": "failed",
                   "error": interrupted_message(row["id"], row["pid"])}
            series = [{**dict(r), "status": "failed" if r["status"] in ("running", "pending")
                       else r["status"]} for r in series]
        return _status(row, series)

    def get(self, task_id: str) -> TaskStatus:
        """Same as :meth:`status`."""
        return self.status(task_id)

    def statuses(self) -> list[TaskStatus]:
        """Every task, newest first."""
        with self._connect() as con:
            if con is None:
                return []
            ids = [r["id"] for r in con.execute(
                "SELECT id FROM tasks ORDER BY created_ms DESC, id").fetchall()]
        out = []
        for task_id in ids:
            with contextlib.suppress(TaskError):  # deleted meanwhile
                out.append(self.status(task_id))
        return out

    def list(self) -> pd.DataFrame:
        """Every task, newest first: one row per task.

        Returns
        -------
        pandas.DataFrame
            Columns ``id, status, progress_pct, candles_fetched, symbol, interval, start,
            end, source, only_gaps, created_at, updated_at, error, note``.
        """
        rows = [{k: getattr(s, k) for k in _LIST_COLUMNS} for s in self.statuses()]
        df = pd.DataFrame(rows, columns=list(_LIST_COLUMNS))
        df["progress_pct"] = df["progress_pct"].astype("float64")
        df["candles_fetched"] = df["candles_fetched"].astype("int64")
        return df

    def cancel(self, task_id: str) -> TaskStatus:
        """Ask a task to stop; a task not running is marked ``cancelled`` at once.

        A running task stops between two pages (every page already written stays in the
        store) and is then marked ``cancelled``. Cancelling a finished task is a no-op.

        Raises
        ------
        TaskError
            If there is no such task.
        """
        self._require_file(task_id)
        with self._connect(write=True) as con:
            row = self._row(con, task_id)
            self._reap(con, row)
            row = self._row(con, task_id)
            if row["status"] == "running":
                con.execute("UPDATE tasks SET cancel_requested=1, updated_ms=? WHERE id=?",
                            (_now_ms(), task_id))
            elif row["status"] in ("pending", "failed"):
                con.execute("UPDATE tasks SET status='cancelled', updated_ms=?, "
                            "cancel_requested=0 WHERE id=?", (_now_ms(), task_id))
                con.execute("UPDATE task_series SET status='cancelled' WHERE task_id=? AND "
                            "status NOT IN ('completed', 'failed')", (task_id,))
        return self.status(task_id)

    def delete(self, task_id: str) -> None:
        """Delete a task's record (never its candles). A running task is stopped first.

        Raises
        ------
        TaskError
            If there is no such task.
        """
        self._require_file(task_id)
        with self._connect(write=True) as con:
            self._row(con, task_id)
            con.execute("DELETE FROM task_series WHERE task_id=?", (task_id,))
            con.execute("DELETE FROM tasks WHERE id=?", (task_id,))

    # --- running (used by the runner) ---------------------------------------------------------

    def claim(self, task_id: str) -> str:
        """Mark a task running in this process; returns the run token.

        Raises
        ------
        TaskError
            If the task is running in a live process.
        """
        token = secrets.token_hex(8)
        self._require_file(task_id)
        with self._connect(write=True) as con:
            row = self._row(con, task_id)
            self._reap(con, row)
            row = self._row(con, task_id)
            if row["status"] == "running":
                raise TaskRunningError(
                    f"Task {task_id} is already running (process {row['pid']} on "
                    f"{row['host']}). Wait for it (candlekit tasks show {task_id}) or cancel it "
                    f"(candlekit tasks cancel {task_id}) before running it again.", task_id)
            now = _now_ms()
            con.execute(
                "UPDATE tasks SET status='running', error=NULL, note='', pid=?, host=?, "
                "run_token=?, "
                "heartbeat_ms=?, cancel_requested=0, runs=runs+1, updated_ms=? WHERE id=?",
                (os.getpid(), socket.gethostname(), token, now, now, task_id))
            con.execute("UPDATE task_series SET status='pending', error=NULL WHERE task_id=?",
                        (task_id,))
        return token

    def heartbeat(self, task_id: str, token: str) -> bool:
        """Refresh a running task's heartbeat; False when it was cancelled or deleted."""
        with self._connect(write=True) as con:
            row = con.execute("SELECT cancel_requested, run_token FROM tasks WHERE id=?",
                              (task_id,)).fetchone()
            if row is None or row["run_token"] != token:
                return False
            con.execute("UPDATE tasks SET heartbeat_ms=? WHERE id=?", (_now_ms(), task_id))
            return not row["cancel_requested"]

    def stop_reason(self, task_id: str, token: str) -> str | None:
        """Why a run holding ``token`` must stop: ``"deleted"``, ``"claimed"`` (another
        run took the task over), ``"cancelled"``, or None (it may go on)."""
        with self._connect() as con:
            row = None if con is None else con.execute(
                "SELECT cancel_requested, run_token FROM tasks WHERE id=?",
                (task_id,)).fetchone()
        if row is None:
            return "deleted"
        if row["run_token"] != token:
            return "claimed"
        return "cancelled" if row["cancel_requested"] else None

    def set_label(self, task_id: str, label: str) -> None:
        """Record the store label the task writes under."""
        with self._connect(write=True) as con:
            con.execute("UPDATE tasks SET label=? WHERE id=?", (label, task_id))

    def update_series(self, task_id: str, token: str, symbol: str, interval: str, *,
                      task_planned: int | None = None, task_done: int = 0,
                      candles: int = 0, requests: int = 0, **series: Any) -> bool:
        """Add progress to a task and one of its series, in one transaction.

        Parameters
        ----------
        task_planned : int, optional
            Add to the task's planned buckets.
        task_done, candles, requests : int
            Added to the task's (and the series') counters.
        **series
            Series columns to set: ``status, buckets_planned, earliest_available,
            unavailable, confirmed_empty, empty_ranges (list), note, error``;
            ``add_planned`` adds to the series' planned buckets.

        Returns
        -------
        bool
            False when the task must stop: cancel requested, or its record deleted or
            claimed by another run.
        """
        now = _now_ms()
        with self._connect(write=True) as con:
            row = con.execute("SELECT cancel_requested, run_token FROM tasks WHERE id=?",
                              (task_id,)).fetchone()
            if row is None or row["run_token"] != token:
                return False
            con.execute(
                "UPDATE tasks SET buckets_planned=buckets_planned+?, "
                "buckets_done=buckets_done+?, candles_fetched=candles_fetched+?, "
                "requests=requests+?, heartbeat_ms=?, updated_ms=? WHERE id=?",
                (task_planned or 0, task_done, candles, requests, now, now, task_id))
            sets = ["buckets_done=buckets_done+?", "candles_fetched=candles_fetched+?",
                    "buckets_planned=buckets_planned+?"]
            args: list[Any] = [task_done, candles, series.pop("add_planned", 0)]
            for key, value in series.items():
                if key == "empty_ranges":
                    value = json.dumps(value)
                sets.append(f"{key}=?")
                args.append(value)
            con.execute(f"UPDATE task_series SET {', '.join(sets)} WHERE task_id=? AND "
                        "symbol=? AND interval=?", (*args, task_id, symbol, interval))
            return not row["cancel_requested"]

    def finish(self, task_id: str, token: str, status: str, *, error: str | None = None,
               note: str | None = None) -> None:
        """Record the end of a run (``completed``, ``failed`` or ``cancelled``)."""
        if status not in FINISHED:
            raise ValueError(f"status must be one of {FINISHED}, not {status!r}")
        now = _now_ms()
        with self._connect(write=True) as con:
            row = con.execute("SELECT run_token FROM tasks WHERE id=?", (task_id,)).fetchone()
            if row is None or row["run_token"] != token:
                return
            con.execute("UPDATE tasks SET status=?, error=?, note=COALESCE(?, note), "
                        "cancel_requested=0, heartbeat_ms=?, updated_ms=? WHERE id=?",
                        (status, error, note, now, now, task_id))
            if status != "completed":
                con.execute("UPDATE task_series SET status=? WHERE task_id=? AND "
                            "status IN ('pending', 'running')", (status, task_id))

    # --- upstream availability ----------------------------------------------------------------

    def availability(self, source: str, symbol: str, interval: str
                     ) -> tuple[int | None, list[tuple[int, int]]]:
        """The trusted earliest available open time and confirmed-empty ranges of a series.

        Records migrated from schema 1 (untrusted) are left out: planning asks for them
        again.

        Returns
        -------
        (int or None, list of (int, int))
            Epoch ms; ranges are ``[start, end)``, sorted.
        """
        rec = self.availability_record(source, symbol, interval)
        return rec.earliest, rec.trusted_ranges()

    def availability_record(self, source: str, symbol: str, interval: str) -> Availability:
        """Everything recorded about what one upstream series does not serve.

        Returns
        -------
        Availability
        """
        with self._connect() as con:
            if con is None:
                return Availability()
            row = con.execute(
                "SELECT earliest_available, next_check_ms, checks FROM availability WHERE "
                "source=? AND symbol=? AND interval=?", (source, symbol, interval)).fetchone()
            ranges = con.execute(
                "SELECT start_ms, end_ms, observed_ms, next_check_ms, checks FROM empty_ranges "
                "WHERE source=? AND symbol=? AND interval=? ORDER BY start_ms",
                (source, symbol, interval)).fetchall()
        trusted = row is not None and int(row["checks"]) >= 0
        return Availability(
            earliest=int(row["earliest_available"]) if trusted else None,
            earliest_next_check=int(row["next_check_ms"]) if trusted else 0,
            earliest_checks=int(row["checks"]) if trusted else 0,
            ranges=[EmptyRange(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]))
                    for r in ranges])

    def set_earliest_available(self, source: str, symbol: str, interval: str, t0: int,
                               *, observed_ms: int) -> int:
        """Record that a non-empty answer showed nothing served before ``t0``.

        Call it only on evidence: an answer that served candles from ``t0`` on and none
        in the earlier part it was asked for (never on an empty answer). An earlier ``t0``
        than the one recorded replaces it (history exists before the old boundary); a
        later one too (the retention window slid on). The record is due to be checked
        again after :func:`recheck_spacing_ms` (longer after each observation that agrees).

        Returns
        -------
        int
            The value kept (``t0``).
        """
        t0 = int(t0)
        with self._connect(write=True) as con:
            row = con.execute(
                "SELECT earliest_available, checks FROM availability WHERE source=? "
                "AND symbol=? AND interval=?", (source, symbol, interval)).fetchone()
            if row is None or int(row["checks"]) < 0 or t0 < int(row["earliest_available"]):
                checks = 0
            else:
                checks = int(row["checks"]) + 1
            con.execute("INSERT OR REPLACE INTO availability (source, symbol, interval, "
                        "earliest_available, observed_ms, next_check_ms, checks) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (source, symbol, interval, t0, int(observed_ms),
                         int(observed_ms) + recheck_spacing_ms(checks), checks))
        return t0

    def postpone_earliest_check(self, source: str, symbol: str, interval: str, *,
                                now_ms: int) -> None:
        """A check of the earliest available time was inconclusive: try again later."""
        with self._connect(write=True) as con:
            con.execute("UPDATE availability SET next_check_ms=? WHERE source=? AND "
                        "symbol=? AND interval=? AND checks>=0",
                        (int(now_ms) + RECHECK_FIRST_MS, source, symbol, interval))

    def forget_earliest_available(self, source: str, symbol: str, interval: str) -> None:
        """Drop the earliest available time of a series (candles were seen before it)."""
        with self._connect(write=True) as con:
            con.execute("DELETE FROM availability WHERE source=? AND symbol=? AND "
                        "interval=?", (source, symbol, interval))

    def record_empty(self, source: str, symbol: str, interval: str,
                     confirmed: Sequence[tuple[int, int]], *,
                     resolved: Sequence[tuple[int, int]] = (), observed_ms: int) -> None:
        """Update the empty ranges of a series from what answers showed.

        Parameters
        ----------
        confirmed : sequence of (int, int)
            ``[start, end)`` ranges one answer served candles on both sides of, and none
            inside: strong evidence of absence.
        resolved : sequence of (int, int)
            Ranges the answers settled (candles received, or confirmed absent): records
            there are replaced by what the answers showed. Records elsewhere stay as
            they are (an empty answer settles nothing).
        observed_ms : int
            The server clock of the answers.
        """
        confirmed = [(int(a), int(b)) for a, b in confirmed if b > a]
        resolved = [(int(a), int(b)) for a, b in [*resolved, *confirmed] if b > a]
        if not resolved:
            return
        lo, hi = min(a for a, _ in resolved), max(b for _, b in resolved)
        with self._connect(write=True) as con:
            old = con.execute(
                "SELECT start_ms, end_ms, observed_ms, next_check_ms, checks FROM empty_ranges "
                "WHERE source=? AND symbol=? AND interval=? AND end_ms>? AND start_ms<?",
                (source, symbol, interval, lo, hi)).fetchall()
            if not old and not confirmed:
                return
            rows: list[tuple[int, int, int, int, int]] = []
            for a, b, seen, due, checks in old:
                for x, y in subtract_ranges([(int(a), int(b))], resolved):
                    rows.append((x, y, int(seen), int(due), int(checks)))
            for a, b in confirmed:
                agreed = [int(r[4]) for r in old if int(r[4]) >= 0 and r[0] < b and r[1] > a]
                checks = max(agreed) + 1 if agreed else 0
                rows.append((a, b, int(observed_ms),
                             int(observed_ms) + recheck_spacing_ms(checks), checks))
            con.execute("DELETE FROM empty_ranges WHERE source=? AND symbol=? AND interval=? "
                        "AND end_ms>? AND start_ms<?", (source, symbol, interval, lo, hi))
            con.executemany(
                "INSERT OR REPLACE INTO empty_ranges (source, symbol, interval, start_ms, "
                "end_ms, observed_ms, next_check_ms, checks) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(source, symbol, interval, *r) for r in merge_rows(rows)])

    def add_empty_ranges(self, source: str, symbol: str, interval: str,
                         ranges: Sequence[tuple[int, int]], *, observed_ms: int) -> None:
        """Record ``[start, end)`` ranges as confirmed empty (see :meth:`record_empty`)."""
        self.record_empty(source, symbol, interval, ranges, observed_ms=observed_ms)

    def postpone_range_check(self, source: str, symbol: str, interval: str, start: int,
                             *, now_ms: int) -> None:
        """A check of the empty range starting at ``start`` was inconclusive: later."""
        with self._connect(write=True) as con:
            con.execute("UPDATE empty_ranges SET next_check_ms=? WHERE source=? AND "
                        "symbol=? AND interval=? AND start_ms=?",
                        (int(now_ms) + RECHECK_FIRST_MS, source, symbol, interval, int(start)))

    def clear_availability(self, *, source: str | None = None, symbol: str | None = None,
                           interval: str | None = None) -> tuple[int, int]:
        """Forget recorded earliest available times and empty ranges (all, or filtered).

        The next backfill asks the upstream for those ranges again. Candles are not
        touched.

        Returns
        -------
        (int, int)
            Earliest-available records and empty ranges removed.
        """
        where, args = [], []
        for col, value in (("source", source), ("symbol", symbol), ("interval", interval)):
            if value is not None:
                where.append(f"{col}=?")
                args.append(value)
        cond = (" WHERE " + " AND ".join(where)) if where else ""
        if not self.path.exists():
            return 0, 0
        with self._connect(write=True) as con:
            n1 = con.execute(f"DELETE FROM availability{cond}", args).rowcount
            n2 = con.execute(f"DELETE FROM empty_ranges{cond}", args).rowcount
        return int(n1), int(n2)


def _filesystem_errno(directory: Path) -> int | None:
    """Why a file in ``directory`` could not be opened, as an errno guess, or None."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if st.f_bavail == 0 and st.f_blocks:
        return errno.ENOSPC
    if not os.access(directory, os.W_OK):
        return errno.EACCES
    return None


def _migrate_v1(con: sqlite3.Connection) -> None:
    """Schema 1 -> 2: recheck columns; every old record of absence becomes untrusted.

    Schema 1 recorded ranges as confirmed empty after a few empty answers in a row, and
    could move the earliest available time forward on such answers: none of it is
    evidence, so the next run asks for those ranges again (``checks = -1``).
    """
    for table in ("availability", "empty_ranges"):
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
        if "next_check_ms" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN next_check_ms INTEGER NOT NULL "
                        "DEFAULT 0")
        if "checks" not in cols:
            con.execute(f"ALTER TABLE {table} ADD COLUMN checks INTEGER NOT NULL DEFAULT 0")
        con.execute(f"UPDATE {table} SET checks=-1, next_check_ms=0")


def _status(row: sqlite3.Row, series_rows: Sequence[sqlite3.Row]) -> TaskStatus:
    symbols = json.loads(row["symbols"])
    intervals = json.loads(row["intervals"])
    planned, done = row["buckets_planned"], row["buckets_done"]
    if row["status"] == "completed":
        pct = 100.0
    else:
        pct = round(100.0 * min(done, planned) / planned, 2) if planned else 0.0
    series = []
    for s in series_rows:
        sp, sd = s["buckets_planned"], s["buckets_done"]
        series.append({
            "symbol": s["symbol"], "interval": s["interval"], "status": s["status"],
            "candles_fetched": int(s["candles_fetched"]),
            "earliest_available": iso(s["earliest_available"]),
            "note": s["note"],
            "progress_pct": (100.0 if s["status"] == "completed"
                             else round(100.0 * min(sd, sp) / sp, 2) if sp else 0.0),
            "unavailable": int(s["unavailable"]),
            "confirmed_empty": int(s["confirmed_empty"]),
            "empty_ranges": [[iso(a), iso(b)] for a, b in json.loads(s["empty_ranges"])],
            "error": s["error"],
        })
    earliest = [s["earliest_available"] for s in series_rows
                if s["earliest_available"] is not None]
    notes = [f"{s['symbol']} {s['interval']}: {s['note']}" if len(series_rows) > 1
             else s["note"] for s in series_rows if s["note"]]
    return TaskStatus(
        id=row["id"], symbol=",".join(symbols), interval=",".join(intervals),
        status=row["status"], progress_pct=pct, candles_fetched=int(row["candles_fetched"]),
        error=row["error"], created_at=iso(row["created_ms"]) or "",
        updated_at=iso(row["updated_ms"]) or "", start=iso(row["start_ms"]) or "",
        end=iso(row["end_ms"]), source=row["label"] or row["source"],
        note=row["note"] or " | ".join(notes),
        earliest_available=iso(max(earliest)) if earliest else None, series=series,
        symbols=tuple(symbols), intervals=tuple(intervals), only_gaps=bool(row["only_gaps"]),
        requests=int(row["requests"]), pid=row["pid"])
