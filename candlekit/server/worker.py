"""The server's backfill worker: tasks started over HTTP, and ``--follow``.

Tasks live in the store's task registry (:class:`candlekit.backfill.TaskRegistry`, the one
``candlekit tasks`` reads) and run through :func:`candlekit.resume` in background threads
owned by the worker, at most ``max_running`` at once (the rest wait as ``pending``); every
source client of one upstream shares the process's weight limiter, so together they stay
within the budget.

The worker remembers which tasks it owns in ``Store.meta_path("server_tasks.json")``.
When the server stops it cancels its running tasks between two pages (what is stored
stays) and notes them; when it starts again it resumes those, the ones still pending, and
the ones whose process died while running them (the registry reports those ``failed``,
``interrupted``). A task cancelled or deleted by a user is forgotten.

``--follow`` is one task per follow set (symbols x intervals from ``since``, no end),
resumed every ``every`` seconds: each round fetches only what is new and the candles
still open, so history accumulates beyond the upstream's window while the server runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backfill import Task, TaskRegistry, TaskStatus, resume
from ..backfill.registry import FINISHED
from ..errors import InvalidTimeError, TaskError, UnknownSymbolError
from ..fsutil import atomic_write_text
from ..intervals import bucket_ordinal, ordinal_to_ms, parse_interval
from ..store import Store
from ..timeutil import TimeLike, to_ms, to_timestamp, utc_now_ms

__all__ = ["OWNED_FILE", "BackfillWorker", "Follow"]

OWNED_FILE = "server_tasks.json"
_log = logging.getLogger("candlekit.server")
_WINDOW = 5000  # candles the upstream keeps (Hyperliquid): the default start of a backfill


@dataclass(frozen=True)
class Follow:
    """Series the server keeps current.

    Attributes
    ----------
    symbols, intervals : tuple of str
    since : int
        First open time kept (epoch ms); history the upstream no longer has is recorded
        as unavailable once and never asked for again.
    every : float
        Seconds between two rounds.
    """

    symbols: tuple[str, ...]
    intervals: tuple[str, ...]
    since: int
    every: float = 60.0

    @property
    def key(self) -> str:
        return f"{','.join(self.symbols)}|{','.join(self.intervals)}|{self.since}"


def window_start(interval: str, now_ms: int | None = None) -> int:
    """Open time of the oldest of the last 5000 buckets (Hyperliquid's window)."""
    iv = parse_interval(interval)
    now = utc_now_ms() if now_ms is None else now_ms
    o = bucket_ordinal(np.array([now]), iv)
    return int(ordinal_to_ms(o - (_WINDOW - 1), iv)[0])


class BackfillWorker:
    """Runs the server's backfill tasks (see the module notes).

    Parameters
    ----------
    store : Store
    source : str, default "hyperliquid"
        The upstream: a source name for :func:`candlekit.get_source`.
    base_url : str, optional
        Its URL (e.g. the emulator's).
    source_options : dict, optional
        More keyword arguments for the source (``api_key=``, ``weight_budget=``, ...).
    max_running : int, default 2
    follow : Follow, optional
    poll : float, default 0.2
        Seconds between two looks at the queue.
    """

    def __init__(self, store: Store, *, source: str = "hyperliquid",
                 base_url: str | None = None, source_options: dict[str, Any] | None = None,
                 max_running: int = 2, follow: Follow | None = None, poll: float = 0.2):
        self.store = store
        self.registry = TaskRegistry(store)
        self.source_name = source
        self.base_url = base_url
        self.source_options = dict(source_options or {})
        self.max_running = max(1, int(max_running))
        self.follow = follow
        self.poll = poll
        self._lock = threading.RLock()
        self._running: dict[str, Task] = {}
        self._queue: deque[str] = deque()
        self._owned: set[str] = set()
        self._follow_ids: dict[str, str] = {}
        self._interrupted: set[str] = set()
        self._next_round = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the owned-task file ---------------------------------------------------------------

    @property
    def owned_path(self):
        """``<root>/_candlekit/server_tasks.json``."""
        return self.store.meta_path(OWNED_FILE)

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.owned_path.read_text("utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            _log.warning("ignoring unreadable %s: %s", self.owned_path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        data = {"tasks": sorted(self._owned), "follow": self._follow_ids,
                "interrupted": sorted(self._interrupted)}
        atomic_write_text(self.owned_path, json.dumps(data, indent=1))

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Resume the tasks a previous run left unfinished, then start the scheduler."""
        data = self._load()
        with self._lock:
            self._follow_ids = {str(k): str(v) for k, v in (data.get("follow") or {}).items()}
            interrupted = set(data.get("interrupted") or [])
            for task_id in data.get("tasks") or []:
                try:
                    st = self.registry.status(task_id)
                except TaskError:
                    continue  # deleted meanwhile
                self._owned.add(task_id)
                resumable = (st.status in ("pending", "running")
                             or (st.status == "failed" and (st.error or "").startswith(
                                 "interrupted"))
                             or (st.status == "cancelled" and task_id in interrupted))
                if resumable and task_id not in self._follow_ids.values():
                    self._queue.append(task_id)
            self._owned |= set(self._follow_ids.values())
            self._interrupted = set()
            self._save()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="candlekit-server-worker")
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the scheduler and cancel the running tasks between two pages."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            running = dict(self._running)
            self._interrupted = set(running)
            self._save()
        for task in running.values():
            with contextlib.suppress(Exception):
                task.cancel()
        deadline = time.monotonic() + timeout
        for task in running.values():
            if task._thread is not None:
                task._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._running.clear()

    # --- the scheduler ---------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - keep scheduling; the registry records task errors
                _log.exception("backfill worker round failed")
            self._wake.wait(self.poll)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            for task_id, task in list(self._running.items()):
                if task.done:
                    del self._running[task_id]
                    if task_id not in self._follow_ids.values():
                        self._owned.discard(task_id)
                    self._save()
            if self.follow is not None and time.monotonic() >= self._next_round:
                self._next_round = time.monotonic() + self.follow.every
                self._follow_round()
            while self._queue and len(self._running) < self.max_running:
                task_id = self._queue.popleft()
                if task_id in self._running:
                    continue
                try:
                    self._running[task_id] = resume(task_id, store=self.store,
                                                    source=self.make_source(),
                                                    progress=False, background=True)
                except TaskError as exc:  # deleted, or running in another process
                    _log.warning("cannot run task %s: %s", task_id, exc)

    def _follow_round(self) -> None:
        f = self.follow
        task_id = self._follow_ids.get(f.key)
        if task_id is not None:
            try:
                self.registry.status(task_id)
            except TaskError:
                task_id = None  # deleted: start a new one
        if task_id is None:
            task_id = self.registry.create(list(f.symbols), list(f.intervals), start=f.since,
                                           end=None, source=self.source_name,
                                           base_url=self.base_url)
            self._follow_ids[f.key] = task_id
            self._owned.add(task_id)
            self._save()
        if task_id not in self._running and task_id not in self._queue:
            self._queue.append(task_id)

    def make_source(self) -> Any:
        """A new client of the configured upstream."""
        from ..sources import get_source

        kwargs = dict(self.source_options)
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        return get_source(self.source_name, **kwargs)

    # --- requests --------------------------------------------------------------------------

    def submit(self, symbol: str, interval: str, start: TimeLike | None = None,
               end: TimeLike | None = None, *, wait: float = 2.0) -> TaskStatus:
        """Record a backfill task and queue it; returns its status once it started (or
        after ``wait`` seconds, still ``pending`` when every slot is busy).

        Raises
        ------
        UnknownSymbolError, InvalidIntervalError, InvalidTimeError
            Bad input, before anything is recorded.
        """
        if not isinstance(symbol, str) or not symbol.strip() or symbol != symbol.strip():
            raise UnknownSymbolError(
                f"Invalid symbol {symbol!r}: pass a coin as the upstream names it, such as "
                "'BTC', 'xyz:NVDA' or '@107'.", symbol)
        iv = self.make_source().check_interval(interval)
        start_ms = window_start(iv.name) if start in (None, "") else to_ms(start)
        end_ms = None if end in (None, "") else to_ms(end)
        for name, ms in (("start_date", start_ms), ("end_date", end_ms)):
            if ms is not None and not -10**13 <= ms <= 10**13:
                raise InvalidTimeError(f"{name} is out of range: use a time between the years "
                                       "1653 and 2286, e.g. 2026-10-01.", ms)
        if end_ms is not None and end_ms <= start_ms:
            raise InvalidTimeError(
                f"end_date ({to_timestamp(end_ms)}) must be after start_date "
                f"({to_timestamp(start_ms)}): swap them, widen the range, or leave end_date "
                "out to fetch up to now.", (start, end))
        task_id = self.registry.create([symbol], [iv.name], start=start_ms, end=end_ms,
                                       source=self.source_name, base_url=self.base_url)
        with self._lock:
            self._owned.add(task_id)
            self._queue.append(task_id)
            self._save()
            if len(self._running) + len(self._queue) > self.max_running:
                wait = 0.0  # every slot is busy: it stays pending for now
        self._wake.set()
        deadline = time.monotonic() + wait
        st = self.registry.status(task_id)
        while st.status == "pending" and time.monotonic() < deadline:
            time.sleep(0.02)
            st = self.registry.status(task_id)
        return st

    def cancel(self, task_id: str, *, timeout: float = 30.0) -> TaskStatus:
        """Stop a task (between two pages; what is stored stays) and forget it.

        Raises
        ------
        TaskError
            Unknown id.
        """
        self.registry.status(task_id)  # raises for an unknown id
        with self._lock:
            with contextlib.suppress(ValueError):
                self._queue.remove(task_id)
            self._owned.discard(task_id)
            for k, v in list(self._follow_ids.items()):
                if v == task_id:
                    del self._follow_ids[k]
            task = self._running.pop(task_id, None)
            self._save()
        st = self.registry.cancel(task_id)
        if task is not None:
            task.cancel()
            if task._thread is not None:
                task._thread.join(timeout)
            st = self.registry.status(task_id)
        return st

    def delete(self, task_id: str) -> None:
        """Cancel a task if it runs, then delete its record (never its candles).

        Raises
        ------
        TaskError
            Unknown id.
        """
        st = self.registry.status(task_id)
        if st.status not in FINISHED or task_id in self._running:
            self.cancel(task_id)
        self.registry.delete(task_id)

    def owns(self, task_id: str) -> bool:
        """Whether this server started (and keeps) the task."""
        with self._lock:
            return task_id in self._owned
