"""``candlekit.backfill``: download candle history into the store, resumably.

>>> task = candlekit.backfill(["BTC", "ETH"], ["1m", "1h"], start="2026-10-01")  # doctest: +SKIP
>>> task.status().progress_pct                                                 # doctest: +SKIP
100.0

Each call records a task in ``<store root>/_candlekit/tasks.sqlite`` (see
:mod:`candlekit.backfill.registry`) and runs it (:mod:`candlekit.backfill.runner`), in the
foreground with a progress bar or in a background thread. Every page is written to the
store as it arrives, so an interrupted task loses nothing: :func:`resume` (or the same
``backfill`` call again) plans from what is stored and fetches only the rest.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..errors import (
    CandlekitError,
    InvalidIntervalError,
    InvalidTimeError,
    TaskDeletedError,
    TaskRunningError,
    UnknownSymbolError,
)
from ..intervals import INTERVALS, parse_interval
from ..sources.base import check_not_before_epoch
from ..store import Store
from ..timeutil import TimeLike, to_ms, to_timestamp
from .registry import FINISHED, TaskRegistry, TaskStatus
from .runner import Runner

__all__ = ["Task", "backfill", "resume", "tasks"]

_POLL_S = 0.2


# --- arguments ------------------------------------------------------------------------------


def _as_store(store: Store | str | os.PathLike[str] | None) -> Store:
    if isinstance(store, Store):
        return store
    return Store(store)


def _symbols(symbol: str | Sequence[str]) -> list[str]:
    items = [symbol] if isinstance(symbol, str) else list(symbol) if isinstance(
        symbol, Sequence) else [symbol]
    if not items:
        raise UnknownSymbolError("No symbol given: pass a coin name such as 'BTC', or a list "
                                 "of them (`candlekit symbols` lists the stored ones).", symbol)
    out: list[str] = []
    for s in items:
        if not isinstance(s, str) or not s.strip() or s != s.strip() or "," in s:
            raise UnknownSymbolError(
                f"Invalid coin {s!r}: pass coin names as the upstream spells them, such as "
                "'BTC', 'xyz:NVDA' or '@107' (no spaces or commas; one list item each).", s)
        if s not in out:
            out.append(s)
    return out


def _intervals(interval: str | Sequence[str], source: Any) -> list[str]:
    items = [interval] if isinstance(interval, str) else list(interval) if isinstance(
        interval, Sequence) else [interval]
    if not items:
        raise InvalidIntervalError(interval, tuple(getattr(source, "intervals", INTERVALS)))
    out: list[str] = []
    for iv in items:
        name = parse_interval(iv).name
        if hasattr(source, "check_interval"):
            source.check_interval(name)
        elif name not in getattr(source, "intervals", INTERVALS):
            raise InvalidIntervalError(name, tuple(source.intervals))
        if name not in out:
            out.append(name)
    return out


def _times(start: TimeLike, end: TimeLike | None) -> tuple[int, int | None]:
    if start is None:
        raise InvalidTimeError("start is required: pass an ISO 8601 time such as "
                               "'2026-10-01' or epoch milliseconds.", start)
    start_ms = to_ms(start)
    end_ms = None if end is None else to_ms(end)
    check_not_before_epoch(start_ms, start)
    if end_ms is not None and end_ms <= start_ms:
        raise InvalidTimeError(
            f"end ({to_timestamp(end_ms)}) must be after start ({to_timestamp(start_ms)}): "
            "swap them, widen the range, or leave end out to fetch up to now.", (start, end))
    return start_ms, end_ms


def _make_source(source: Any, base_url: str | None) -> Any:
    if isinstance(source, str):
        from ..sources import get_source

        return get_source(source, base_url=base_url)
    from ..sources.base import SourceConfigError

    if not callable(getattr(source, "fetch_page", None)):
        raise SourceConfigError(
            f"source must be a source name (such as 'hyperliquid') or a candlekit Source, "
            f"not {type(source).__name__}.")
    if base_url is not None:
        raise SourceConfigError("base_url applies to a source given by name; a Source instance "
                        "already has its URL: pass either source='hyperliquid', "
                        "base_url=... or the instance alone.")
    return source


# --- the task handle --------------------------------------------------------------------------


class Task:
    """A handle on one backfill task (running here, elsewhere, or finished).

    Parameters
    ----------
    task_id : str
    registry : TaskRegistry
        The registry that holds the task.

    Attributes
    ----------
    id : str
        ``"bf-"`` and 8 hex digits; ``candlekit tasks show ID`` shows it too.
    """

    def __init__(self, task_id: str, *, registry: TaskRegistry,
                 thread: threading.Thread | None = None,
                 cancel_event: threading.Event | None = None):
        self.id = task_id
        self.registry = registry
        self._thread = thread
        self._cancel = cancel_event or threading.Event()
        self._error: BaseException | None = None

    @classmethod
    def open(cls, task_id: str, *, store: Store | str | os.PathLike[str] | None = None
             ) -> Task:
        """A handle on an existing task.

        Raises
        ------
        TaskError
            If the store's registry has no such task.
        """
        registry = TaskRegistry(_as_store(store))
        registry.record(task_id)
        return cls(task_id, registry=registry)

    def status(self) -> TaskStatus:
        """The task's current :class:`~candlekit.backfill.registry.TaskStatus`.

        Raises
        ------
        TaskDeletedError
            If the task's record was deleted while it ran here.
        TaskError
            If the registry has no such task.
        """
        if isinstance(self._error, TaskDeletedError):
            raise self._error
        return self.registry.status(self.id)

    @property
    def done(self) -> bool:
        """Whether the task has finished (completed, failed or cancelled)."""
        if self._thread is not None:
            return not self._thread.is_alive()
        return self.status().status in FINISHED

    @property
    def error(self) -> BaseException | None:
        """The exception that failed the task in this process, if any."""
        return self._error

    def wait(self, timeout: float | None = None) -> TaskStatus:
        """Block until the task finishes; re-raise the exception that failed it.

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most.

        Returns
        -------
        TaskStatus

        Raises
        ------
        TimeoutError
            If the task is still running after ``timeout`` seconds.
        Exception
            Whatever failed the task in its background thread.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"Task {self.id} is still running after {timeout} s; "
                                   "wait again, or cancel it with .cancel().")
        else:
            while self.status().status not in FINISHED:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"Task {self.id} is still running after {timeout} s; "
                                       "wait again, or cancel it with .cancel().")
                time.sleep(_POLL_S)
        if self._error is not None:
            raise self._error
        return self.status()

    def cancel(self) -> TaskStatus:
        """Stop the task between two pages (what is written stays); returns its status."""
        self._cancel.set()
        return self.registry.cancel(self.id)

    def __repr__(self) -> str:
        try:
            st = self.status()
        except CandlekitError as exc:
            return f"Task({self.id!r}: {exc})"
        text = (f"Task({st.id!r}, {st.symbol} {st.interval}, {st.status}, "
                f"{st.progress_pct:.1f}%, {st.candles_fetched:,} candles, source={st.source!r})")
        if st.error:
            text += f"\n  error: {st.error}"
        if st.note:
            from .notes import fold_notes

            text += f"\n  note: {fold_notes(st.note)}"
        return text

    def _repr_html_(self) -> str:
        try:
            st = self.status()
        except CandlekitError as exc:
            return f"<pre>Task {html.escape(self.id)}: {html.escape(str(exc))}</pre>"
        return status_html(st)


_COLORS = {"completed": "#1a7f37", "running": "#0969da", "pending": "#6e7781",
           "partial": "#bc4c00", "failed": "#cf222e", "cancelled": "#9a6700"}


def status_html(st: TaskStatus) -> str:
    """An HTML summary of a task: status, progress bar, per-series table, note and error."""
    from ..provenance import SYNTHETIC_BANNER, is_synthetic
    from .notes import fold_notes

    e = html.escape
    color = _COLORS.get(st.status, "#6e7781")
    parts = ["<div style='font-family:sans-serif;font-size:13px'>"]
    if is_synthetic(st.source):
        parts.append(f"<div style='color:#cf222e;font-weight:bold'>{e(SYNTHETIC_BANNER)}</div>")
    parts.append(
        f"<b>backfill {e(st.id)}</b> &nbsp;<span style='color:#fff;background:{color};"
        f"padding:1px 6px;border-radius:3px'>{e(st.status)}</span> &nbsp;"
        f"<progress value='{st.progress_pct:.1f}' max='100' style='width:160px'></progress> "
        f"{st.progress_pct:.1f}% &nbsp; {st.candles_fetched:,} candles &nbsp; "
        f"{st.requests:,} requests<br>"
        f"{e(st.symbol)} {e(st.interval)} from {e(st.start)} to {e(st.end or 'now')} "
        f"(source {e(st.source)}{', only gaps' if st.only_gaps else ''}); "
        f"updated {e(st.updated_at)}")
    if st.error:
        parts.append(f"<div style='color:#cf222e'>error: {e(st.error)}</div>")
    if st.note:
        parts.append(f"<div style='color:#57606a'>note: {e(fold_notes(st.note))}</div>")
    if st.series:
        cols = ("symbol", "interval", "status", "progress_pct", "candles_fetched",
                "earliest_available", "unavailable", "confirmed_empty")
        head = "".join(f"<th style='text-align:left;padding:0 8px'>{c}</th>" for c in cols)
        rows = "".join(
            "<tr>" + "".join(f"<td style='padding:0 8px'>{e(str(s.get(c)))}</td>"
                             for c in cols) + "</tr>" for s in st.series)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


# --- running ------------------------------------------------------------------------------------


def _launch(registry: TaskRegistry, task_id: str, source: Any, store: Store, *,
            background: bool, progress: bool, recheck: bool = False) -> Task:
    cancel = threading.Event()
    runner = Runner(registry, task_id, source, store, progress=progress, cancel_event=cancel,
                    recheck=recheck)
    if not background:
        task = Task(task_id, registry=registry, cancel_event=cancel)
        try:
            runner.run()
        except (TaskDeletedError, TaskRunningError):
            raise  # nothing failed: it says what happened
        except CandlekitError as exc:
            exc.backfill_task = task_id  # type: ignore[attr-defined]
            exc.add_note(f"(backfill task {task_id} failed; `candlekit tasks show {task_id}` "
                         f"shows it, `candlekit tasks resume {task_id}` retries it)")
            raise
        return task

    task = Task(task_id, registry=registry, cancel_event=cancel)

    def target() -> None:
        try:
            runner.run()
        except BaseException as exc:  # noqa: BLE001 - recorded as failed; .wait() re-raises
            task._error = exc

    thread = threading.Thread(target=target, daemon=True, name=f"candlekit-{task_id}")
    task._thread = thread
    thread.start()
    return task


def backfill(symbol: str | Sequence[str], interval: str | Sequence[str], *, start: TimeLike,
             end: TimeLike | None = None, source: Any = "hyperliquid",
             store: Store | str | os.PathLike[str] | None = None, base_url: str | None = None,
             only_gaps: bool = False, background: bool = False, progress: bool = True,
             recheck: bool = False) -> Task:
    """Download candles into the store: every symbol x interval, resumably.

    Parameters
    ----------
    symbol : str or sequence of str
        Coin(s) as the upstream names them: ``"BTC"``, ``"xyz:NVDA"``, ``"@107"``.
    interval : str or sequence of str
        Interval(s) the source serves (``"1m"`` minute, ``"1M"`` month).
    start : time
        First open time wanted (inclusive): ISO 8601 string, datetime, Timestamp or epoch
        ms (naive = UTC).
    end : time, optional
        End (exclusive). Omitted: up to the server clock, the open candle included (it is
        stored with ``closed=False`` and fetched again by later runs).
    source : str or Source, default "hyperliquid"
        A source name for :func:`candlekit.sources.get_source` (``"hyperliquid"``,
        ``"hydromancer"``, ``"emulator"``) or a Source instance.
    store : Store, path or None
        Where candles go (default ``Store()``); the task registry is
        ``<store root>/_candlekit/tasks.sqlite``.
    base_url : str, optional
        The upstream URL, with a source name (e.g. the emulator's ``emu.url``).
    only_gaps : bool, default False
        Fetch only the gaps between the first and last stored candle of each series in
        the range (and the stored open candles), nothing before or after.
    background : bool, default False
        Run in a daemon thread and return at once (see :meth:`Task.wait`).
    progress : bool, default True
        Show a ``tqdm`` progress bar (it counts candles fetched).
    recheck : bool, default False
        Forget what the registry recorded as not served upstream for these series
        (earliest available times, confirmed-empty ranges) and ask for it all again.

    Returns
    -------
    Task
        Finished (foreground), or running (background). Its status is ``completed``, or
        ``partial`` when some ranges got only empty answers (the note names them; run it
        again), or ``failed``.

    Raises
    ------
    UnknownSymbolError
        Empty or malformed symbols (before anything is created), or a coin the upstream
        does not know (the task is recorded as failed; nothing is written).
    InvalidIntervalError, InvalidTimeError, SourceConfigError
        Bad intervals, unparseable times, ``end <= start``, an unknown source name:
        raised before any task is created.
    SourceError
        The upstream kept failing (the task is failed; resume it later).
    StoreError
        The machine refused a write (disk full, read-only store, permission denied):
        the task is failed, the candles written so far stay, and it says what to do.
    TaskDeletedError
        The task's record was deleted while it ran (it stopped after its page).

    Notes
    -----
    What is stored decides what is fetched: no stored closed candle is fetched again, and
    stored open candles are. An empty answer is never taken as proof that candles do not
    exist. History the upstream no longer keeps (Hyperliquid: the last 5000 candles of
    each coin and interval) is recorded as unavailable when a non-empty answer shows
    where it starts; ranges inside its history that one answer serves candles on both
    sides of, and none inside (outages), are recorded as confirmed empty. Both are
    reported in the task's note and checked again by later runs (an hour later, then
    less and less often), or at once with ``recheck=True``.

    Examples
    --------
    >>> task = backfill("BTC", "1h", start="2026-10-01")                 # doctest: +SKIP
    >>> task = backfill(["BTC", "ETH"], ["1m", "5m"], start="2026-10-01",
    ...                 background=True)                                 # doctest: +SKIP
    >>> task.wait().status                                               # doctest: +SKIP
    'completed'
    """
    symbols = _symbols(symbol)
    start_ms, end_ms = _times(start, end)
    src = _make_source(source, base_url)
    intervals = _intervals(interval, src)
    store = _as_store(store)
    registry = TaskRegistry(store)
    name = source.strip().lower() if isinstance(source, str) else src.name
    task_id = registry.create(symbols, intervals, start=start_ms, end=end_ms, source=name,
                              base_url=base_url or getattr(src, "base_url", None),
                              only_gaps=only_gaps)
    return _launch(registry, task_id, src, store, background=background, progress=progress,
                   recheck=recheck)


def resume(task_id: str, *, store: Store | str | os.PathLike[str] | None = None,
           source: Any = None, progress: bool = True, background: bool = False) -> Task:
    """Run a task again: whatever it still lacks, planned from what is stored.

    Works for an interrupted task (crash, ``kill -9``, Ctrl-C), a failed or cancelled one,
    and a finished one (then only what is new since, and the still-open candles).

    Parameters
    ----------
    task_id : str
        ``candlekit tasks list`` (or :func:`tasks`) shows the ids.
    store : Store, path or None
        The store the task was created with (default ``Store()``).
    source : Source, optional
        Use this source instead of the one recorded (by name and URL) with the task.
    progress : bool, default True
    background : bool, default False

    Returns
    -------
    Task

    Raises
    ------
    TaskRunningError
        The task is running in a live process (nothing was done).
    TaskDeletedError
        The task's record was deleted while this run went on (it stopped).
    TaskError
        Unknown id.
    """
    store = _as_store(store)
    registry = TaskRegistry(store)
    rec = registry.record(task_id)
    src = source if source is not None else _make_source(rec["source"], rec["base_url"])
    return _launch(registry, task_id, src, store, background=background, progress=progress)


def tasks(store: Store | str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every backfill task recorded in a store, newest first.

    Parameters
    ----------
    store : Store, path or None
        Default ``Store()``.

    Returns
    -------
    pandas.DataFrame
        One row per task: ``id, status, progress_pct, candles_fetched, symbol, interval,
        start, end, source, only_gaps, created_at, updated_at, error, note``.
    """
    return TaskRegistry(_as_store(store)).list()
