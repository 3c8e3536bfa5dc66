"""The analysis registry: every recorded analysis, in ``<root>/_candlekit/analyses.sqlite``.

One row per analysis (id ``an-`` and 8 hex digits, symbol, interval, source, status
``running``/``completed``/``failed``, created and updated times, as_of, prompt, model, the
call's direction and probability, the error of a failed run) plus the whole record as
JSON (facts, text, call, caveats, sections, the language model's prompt, response and
verdict) and the request that produced it. A second table caches language-model
responses by the hash of model and prompt (:mod:`candlekit.analysis.llm`).

Concurrency and liveness are as in the backfill's task registry: WAL mode, a busy
timeout, one short connection per operation, read-modify-writes in ``BEGIN IMMEDIATE``;
an analysis recorded ``running`` by a process that has since died is reported, and
persisted, as ``failed`` (``interrupted``), so a failure is never lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ..backfill.registry import _pid_alive, iso
from ..errors import AnalysisNotFoundError, StoreError
from ..store import Store
from .model import ANALYSIS_STATUSES, Analysis, Call, LLMVerdict

__all__ = ["ANALYSES_FILE", "LIST_COLUMNS", "AnalysisRegistry", "LLMResponseCache",
           "analysis_from_dict"]

ANALYSES_FILE = "analyses.sqlite"
_SCHEMA_VERSION = 1
#: Columns of :meth:`AnalysisRegistry.list` (the history), in order.
LIST_COLUMNS = ("id", "symbol", "interval", "status", "created_at", "as_of", "prompt", "model",
                "direction", "p_up", "horizon", "reference_close", "source", "synthetic",
                "llm_accepted", "error", "updated_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS analyses (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    interval TEXT NOT NULL,
    source TEXT,
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    as_of TEXT,
    prompt TEXT,
    model TEXT,
    direction TEXT,
    p_up REAL,
    horizon INTEGER,
    reference_close REAL,
    synthetic INTEGER NOT NULL DEFAULT 0,
    llm_accepted INTEGER,
    error TEXT,
    pid INTEGER,
    host TEXT,
    request TEXT NOT NULL DEFAULT '{}',
    record TEXT
);
CREATE INDEX IF NOT EXISTS analyses_created ON analyses (created_ms);
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
"""


def _now_ms() -> int:
    return int(time.time() * 1000)


def analysis_from_dict(d: dict[str, Any]) -> Analysis:
    """Rebuild an :class:`Analysis` from :meth:`Analysis.to_dict`'s output."""
    call = d.get("call")
    llm = d.get("llm")
    return Analysis(
        symbol=d["symbol"], interval=d["interval"], as_of=d.get("as_of"),
        facts=dict(d.get("facts") or {}), text=d.get("analysis") or "",
        call=Call(**call) if call else None, caveats=list(d.get("caveats") or []),
        sections=list(d.get("sections") or []), prompt=d.get("prompt"),
        llm=LLMVerdict(**llm) if llm else None, id=d.get("id"),
        status=d.get("status") or "completed", created_at=d.get("created_at"),
        error=d.get("error"), source=d.get("source"), synthetic=bool(d.get("synthetic")))


def interrupted_message(analysis_id: str, pid: int | None) -> str:
    """The error recorded for an analysis whose process stopped while running it."""
    return (f"interrupted: process {pid} stopped while analysis {analysis_id} was running; "
            "run it again (candlekit analyze ... or candlekit.run_analysis)")


class AnalysisRegistry:
    """Recorded analyses (and cached model responses) of one store.

    Parameters
    ----------
    store : Store, str or os.PathLike
        The store (or its root); the file is ``store.meta_path("analyses.sqlite")``,
        created on the first write.

    Examples
    --------
    >>> reg = AnalysisRegistry(Store("data"))                   # doctest: +SKIP
    >>> reg.list()                                              # doctest: +SKIP
    >>> reg.get("an-1a2b3c4d").text                             # doctest: +SKIP
    """

    def __init__(self, store: Store | str | os.PathLike[str]):
        self.store = store if isinstance(store, Store) else Store(store)
        self.path = self.store.meta_path(ANALYSES_FILE)
        self._ready = False

    def __repr__(self) -> str:
        return f"AnalysisRegistry({str(self.path)!r})"

    # --- connections ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection | None]:
        if not self._ready:
            if not write and not self.path.exists():
                yield None  # nothing recorded yet
                return
            self._init()
        try:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unreadable(exc) from exc
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA busy_timeout=60000")
            if write:
                con.execute("BEGIN IMMEDIATE")
            yield con
            if write:
                con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StoreError(f"The analysis registry {self.path} stayed locked for a "
                                 f"minute ({exc}); another process holds it. Try again.") from exc
            raise self._unreadable(exc) from exc
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _unreadable(self, exc: Exception) -> StoreError:
        return StoreError(
            f"The analysis registry {self.path} cannot be used: {exc}. No candles are stored "
            "there: move the file away to start a fresh registry (the recorded analyses and "
            "cached model responses are lost; the candles are not).")

    def _init(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._unreadable(exc) from exc
        try:
            con.execute("PRAGMA busy_timeout=60000")
            if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            con.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise self._unreadable(exc) from exc
        finally:
            con.close()
        self._ready = True

    # --- analyses -----------------------------------------------------------------------------

    def create(self, symbol: str, interval: str, *, source: str | None = None,
               prompt: str | None = None, model: str | None = None,
               request: dict[str, Any] | None = None, synthetic: bool = False) -> Analysis:
        """Record a new ``running`` analysis and return it (id and created_at set)."""
        now = _now_ms()
        with self._connect(write=True) as con:
            while True:
                analysis_id = "an-" + secrets.token_hex(4)
                if con.execute("SELECT 1 FROM analyses WHERE id=?",
                               (analysis_id,)).fetchone() is None:
                    break
            running = Analysis(symbol=symbol, interval=interval, as_of=None, prompt=prompt,
                               id=analysis_id, status="running", created_at=iso(now),
                               source=source, synthetic=synthetic)
            con.execute(
                "INSERT INTO analyses (id, symbol, interval, source, status, created_ms, "
                "updated_ms, prompt, model, synthetic, pid, host, request, record) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (analysis_id, symbol, interval, source, now, now, prompt, model,
                 int(bool(synthetic)), os.getpid(), socket.gethostname(),
                 json.dumps(request or {}, default=str), json.dumps(running.to_dict())))
        return running

    def complete(self, analysis: Analysis) -> Analysis:
        """Record a finished analysis under its id (status ``completed``)."""
        return self._finish(analysis, "completed")

    def fail(self, analysis_id: str, error: str) -> Analysis:
        """Record that an analysis failed, with why."""
        current = self.get(analysis_id)
        current.error = error
        return self._finish(current, "failed")

    def _finish(self, analysis: Analysis, status: str) -> Analysis:
        if status not in ANALYSIS_STATUSES:
            raise ValueError(status)
        if analysis.id is None:
            raise AnalysisNotFoundError("An analysis needs an id (from create) to be recorded.")
        analysis.status = status
        call = analysis.call
        with self._connect(write=True) as con:
            row = self._row(con, analysis.id)
            analysis.created_at = iso(row["created_ms"])
            con.execute(
                "UPDATE analyses SET status=?, updated_ms=?, as_of=?, source=?, model=?, "
                "direction=?, p_up=?, horizon=?, reference_close=?, synthetic=?, "
                "llm_accepted=?, error=?, record=? WHERE id=?",
                (status, _now_ms(), analysis.as_of, analysis.source, analysis.model,
                 call.direction if call else None, call.p_up if call else None,
                 call.horizon if call else None, call.reference_close if call else None,
                 int(bool(analysis.synthetic)),
                 None if analysis.llm is None else int(analysis.llm.accepted), analysis.error,
                 json.dumps(analysis.to_dict(), default=str), analysis.id))
        return analysis

    def _row(self, con: sqlite3.Connection | None, analysis_id: str) -> sqlite3.Row:
        row = None if con is None else con.execute(
            "SELECT * FROM analyses WHERE id=?", (str(analysis_id),)).fetchone()
        if row is None:
            raise AnalysisNotFoundError(
                f"No analysis {analysis_id!r} in {self.path}. `candlekit analyses list` (or "
                "candlekit.analyses()) shows the recorded ids; pass the same --data / store "
                "as when it was recorded.", analysis_id)
        return row

    def _reap(self, con: sqlite3.Connection, row: sqlite3.Row) -> sqlite3.Row:
        """Persist ``failed`` for a running analysis whose process on this host is gone."""
        if row["status"] != "running" or row["host"] != socket.gethostname() \
                or _pid_alive(row["pid"]):
            return row
        record = json.loads(row["record"])
        record["status"] = "failed"
        record["error"] = interrupted_message(row["id"], row["pid"])
        con.execute("UPDATE analyses SET status='failed', error=?, record=?, updated_ms=? "
                    "WHERE id=? AND status='running'",
                    (record["error"], json.dumps(record), _now_ms(), row["id"]))
        return con.execute("SELECT * FROM analyses WHERE id=?", (row["id"],)).fetchone()

    def get(self, analysis_id: str) -> Analysis:
        """The recorded analysis ``analysis_id``.

        Raises
        ------
        AnalysisNotFoundError
            For an unknown id.
        """
        with self._connect(write=True) if self.path.exists() else self._connect() as con:
            row = self._reap(con, self._row(con, analysis_id)) if con is not None \
                else self._row(None, analysis_id)
        out = analysis_from_dict(json.loads(row["record"]))
        out.created_at = iso(row["created_ms"])
        return out

    def request(self, analysis_id: str) -> dict[str, Any]:
        """The request (parameters) an analysis was run with."""
        with self._connect() as con:
            return json.loads(self._row(con, analysis_id)["request"])

    def all(self) -> list[Analysis]:
        """Every recorded analysis, newest first."""
        with self._connect(write=True) if self.path.exists() else self._connect() as con:
            if con is None:
                return []
            rows = [self._reap(con, r) for r in con.execute(
                "SELECT * FROM analyses ORDER BY created_ms DESC, rowid DESC").fetchall()]
        out = []
        for row in rows:
            a = analysis_from_dict(json.loads(row["record"]))
            a.created_at = iso(row["created_ms"])
            out.append(a)
        return out

    def list(self) -> pd.DataFrame:
        """The history, newest first: one row per analysis (:data:`LIST_COLUMNS`)."""
        with self._connect(write=True) if self.path.exists() else self._connect() as con:
            rows = [] if con is None else [self._reap(con, r) for r in con.execute(
                "SELECT * FROM analyses ORDER BY created_ms DESC, rowid DESC").fetchall()]
        records = []
        for r in rows:
            records.append({
                "id": r["id"], "symbol": r["symbol"], "interval": r["interval"],
                "status": r["status"], "created_at": iso(r["created_ms"]), "as_of": r["as_of"],
                "prompt": r["prompt"], "model": r["model"], "direction": r["direction"],
                "p_up": r["p_up"], "horizon": r["horizon"],
                "reference_close": r["reference_close"], "source": r["source"],
                "synthetic": bool(r["synthetic"]),
                "llm_accepted": None if r["llm_accepted"] is None else bool(r["llm_accepted"]),
                "error": r["error"], "updated_at": iso(r["updated_ms"])})
        df = pd.DataFrame.from_records(records, columns=list(LIST_COLUMNS))
        df["p_up"] = df["p_up"].astype("float64")
        df["horizon"] = df["horizon"].astype("Int64")
        df["reference_close"] = df["reference_close"].astype("float64")
        df["synthetic"] = df["synthetic"].astype(bool)
        return df

    def delete(self, analysis_id: str) -> None:
        """Delete one analysis' record (candles are never touched).

        Raises
        ------
        AnalysisNotFoundError
            For an unknown id.
        """
        if not self.path.exists():
            self._row(None, analysis_id)
        with self._connect(write=True) as con:
            self._row(con, analysis_id)
            con.execute("DELETE FROM analyses WHERE id=?", (analysis_id,))

    def cache(self) -> LLMResponseCache:
        """The model-response cache kept in this registry's file."""
        return LLMResponseCache(self)


class LLMResponseCache:
    """Model responses by request hash, in the analysis registry (an ``LLMCache``)."""

    def __init__(self, registry: AnalysisRegistry):
        self.registry = registry

    def get(self, key: str) -> str | None:
        """The cached response for ``key`` (counting the hit), or None."""
        with self.registry._connect(write=self.registry.path.exists()) as con:
            if con is None:
                return None
            row = con.execute("SELECT response FROM llm_cache WHERE key=?", (key,)).fetchone()
            if row is None:
                return None
            con.execute("UPDATE llm_cache SET hits=hits+1 WHERE key=?", (key,))
            return str(row["response"])

    def put(self, key: str, *, model: str, prompt: str, response: str) -> None:
        """Keep ``response`` for ``key``."""
        with self.registry._connect(write=True) as con:
            con.execute("INSERT OR REPLACE INTO llm_cache (key, model, prompt, response, "
                        "created_ms) VALUES (?, ?, ?, ?, ?)",
                        (key, model, prompt, response, _now_ms()))

    def __len__(self) -> int:
        with self.registry._connect() as con:
            if con is None:
                return 0
            return int(con.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0])

    def __repr__(self) -> str:
        return f"LLMResponseCache({str(self.registry.path)!r})"
