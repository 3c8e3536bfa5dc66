"""Running one backfill task: pages from the source straight into the store.

For each series (every symbol x interval of the task) the runner plans from what is
stored (:mod:`candlekit.backfill.plan`), then fetches each planned range page by page.
Every page is written to the store as soon as it arrives, then the progress is recorded
in the task registry; cancellation is checked between pages. A crash at any moment
therefore loses at most the page in flight: running the task again plans from the store.

Before anything is written, the first page of every series is fetched (and kept in
memory): an unknown coin fails the task with nothing written.

What the upstream does not have
-------------------------------
An empty answer is never evidence: an upstream under load can answer ``[]`` for candles
it has. Every empty answer is asked again (up to :data:`EMPTY_CONFIRMATIONS` times, over a
range widened up to the server clock so that the answer also says where data resumes).
Absence is recorded only from non-empty answers:

* a hole between two candles of **one** answer is an outage (or a bucket without trades):
  recorded as confirmed empty. A request for a gap between stored candles asks for one
  bucket more than the gap, so the stored candle after it is in the answer;
* a hole at the start of an answer is bridged: one more request from the last candle
  known before the hole to the first one after it. If that answer serves both, the hole
  is an outage (recorded); if it serves only the later one, the upstream no longer has
  the earlier history (retention or listing) and the series' ``earliest_available`` is
  recorded (per source label, symbol and interval). A hole at the task's start needs no
  bridge: the answer asked from there started later;
* nothing is recorded from a hole after the last candle of an answer (a quiet coin, the
  clock): the next run asks for it again.

A range for which every answer stayed empty is *unresolved*: nothing is recorded, it is
asked for once more at the end of its series, and if it is still empty the task ends
``partial`` with a note naming the ranges. Records of absence are checked again later
(:func:`candlekit.backfill.registry.recheck_spacing_ms`), at most
:data:`MAX_RECHECKS` ranges per series and run, each by one request that spans it (the
``earliest_available`` boundary by one request from the task's start). Only buckets that
closed before the server clock are ever recorded empty.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SeriesNotFoundError, TaskDeletedError, TaskError
from ..intervals import bucket_ordinal, close_ms, ordinal_to_ms, parse_interval
from ..sources.http import backoff_delay
from ..store import Store
from .plan import (
    FetchRange,
    SeriesPlan,
    count_in_runs,
    merge_ranges,
    plan_series,
    ranges_to_runs,
)
from .registry import HEARTBEAT_EVERY_S, TaskRegistry, iso

__all__ = ["EMPTY_CONFIRMATIONS", "MAX_RECHECKS", "Runner", "TaskCancelled", "short_time"]

#: An empty answer is asked again this many times before the range counts as unresolved.
EMPTY_CONFIRMATIONS = 3
#: Recorded empty ranges checked again per series and run, at most (the due ones first).
MAX_RECHECKS = 3
#: Pages are written to the store in batches of at least this many candles, or after this
#: many seconds, whichever comes first (and always at the end of a series, on cancel and on
#: failure). Each store write rewrites the period file it touches, so page-by-page writes
#: would cost O(n^2) over a long series; a crash loses at most one unwritten batch, which
#: the next run fetches again (it plans from the store).
FLUSH_CANDLES = 50_000
FLUSH_SECONDS = 5.0
_MAX_NOTED_RANGES = 5


class TaskCancelled(Exception):
    """Raised inside the runner when the task must stop between two pages."""


def short_time(ms: int) -> str:
    """``2026-10-28T12:00Z`` (seconds shown only when not zero)."""
    ts = pd.Timestamp(int(ms), unit="ms", tz="UTC")
    if ms % 60_000 == 0:
        return ts.strftime("%Y-%m-%dT%H:%MZ")
    return iso(ms) or ""


@dataclass
class _Fetched:
    """The outcome of asking for ``[s, end)``."""

    frame: pd.DataFrame          # candles in [s, end), oldest first
    cover: int                   # [s, cover) is settled by the answer
    first_t: int | None          # first candle at or after s (may be >= end); None: none
    now: int                     # server clock of the last answer
    end: int                     # the range's end by that clock
    raw_t: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    asked: int = 1               # requests it took (all but one empty)
    unresolved: bool = False     # every answer was empty: nothing is known


@dataclass
class _Series:
    symbol: str
    interval: str
    plan: SeriesPlan | None = None
    label: str = ""
    earliest: int | None = None
    stored_t: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    last_t: int | None = None            # latest candle received this run
    held: tuple[int, int, Any] | None = None  # (start, end, page) fetched before writing
    fetched: int = 0                     # candles written to the store this run
    unavailable: int = 0
    planned: int = 0
    done: int = 0
    confirmed: list[tuple[int, int]] = field(default_factory=list)   # strong evidence
    resolved: list[tuple[int, int]] = field(default_factory=list)    # settled by answers
    unresolved: list[tuple[int, int, int]] = field(default_factory=list)  # (a, b, asked)
    rechecked: list[tuple[int, int, str]] = field(default_factory=list)   # (a, b, outcome)
    earliest_note: str = ""
    had_ranges: bool = False             # the registry held empty ranges when planned
    unreported: int = 0                  # candles written, not yet added to the registry
    hi: int = 0                          # exclusive end actually reached
    note: str = ""
    pending: list[pd.DataFrame] = field(default_factory=list)  # fetched, not yet stored
    pending_rows: int = 0
    flushed_at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str:
        return f"{self.symbol} {self.interval}"

    @property
    def partial(self) -> bool:
        return bool(self.unresolved)


class Runner:
    """Executes one task of a :class:`TaskRegistry` against a source and a store.

    Parameters
    ----------
    registry : TaskRegistry
    task_id : str
    source : Source
        A :class:`candlekit.sources.Source` (or anything with the same ``fetch_page``,
        ``label``, ``now_ms``, ``page_limit`` and ``alignment``).
    store : Store
    progress : bool, default True
        Show a ``tqdm.auto`` bar (total = buckets planned, one update per page).
    cancel_event : threading.Event, optional
        Set it to stop the task between two pages.
    recheck : bool, default False
        Forget the recorded availability of the task's series first.
    """

    def __init__(self, registry: TaskRegistry, task_id: str, source: Any, store: Store, *,
                 progress: bool = True, cancel_event: threading.Event | None = None,
                 recheck: bool = False):
        self.registry = registry
        self.task_id = task_id
        self.source = source
        self.store = store
        self.progress = progress
        self.cancel_event = cancel_event or threading.Event()
        self.token = ""
        self._bar: Any = None
        self._synced = False
        self._requests = 0
        self._empty_streak = 0
        self.recheck = recheck
        self._cleared: set[tuple[str, str, str]] = set()

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run the task to its end; the registry records the outcome.

        Raises
        ------
        Exception
            Whatever stopped the task (after recording it as ``failed``); a cancelled
            task returns normally.
        """
        rec = self.registry.record(self.task_id)
        self.rec = rec
        self.start_ms = int(rec["start_ms"])
        self.end_ms = None if rec["end_ms"] is None else int(rec["end_ms"])
        self.only_gaps = bool(rec["only_gaps"])
        self.token = self.registry.claim(self.task_id)
        series = [_Series(sym, iv) for sym in rec["symbols"] for iv in rec["intervals"]]
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True,
                                name=f"candlekit-heartbeat-{self.task_id}")
        beat.start()
        try:
            stats = getattr(self.source, "stats", None)
            if hasattr(self.source, "identify") and not getattr(stats, "requests", 0):
                self.source.identify()  # the server's clock and data label, before planning
                self._synced = True
            with self._progress_bar():
                for sr in series:   # plan, and one page each, before writing anything
                    self._check_cancel()
                    self._prepare(sr)
                for sr in series:
                    self._run_series(sr)
            status = "partial" if any(sr.partial for sr in series) else "completed"
            self.registry.finish(self.task_id, self.token, status,
                                 note=self._task_note(series))
        except TaskCancelled:
            reason = self.registry.stop_reason(self.task_id, self.token)
            if reason == "deleted":
                raise TaskDeletedError(
                    f"task {self.task_id} was deleted while running: it stopped after its "
                    f"current page; the {sum(sr.fetched for sr in series):,} candles it "
                    "wrote stay in the store (start a new backfill to continue).",
                    self.task_id) from None
            if reason == "claimed":
                raise TaskError(
                    f"task {self.task_id} was taken over by another run while running (its "
                    "heartbeat stopped for too long?): this run stopped; `candlekit tasks "
                    f"show {self.task_id}` shows the other one.", self.task_id) from None
            self.registry.finish(self.task_id, self.token, "cancelled",
                                 note="cancelled; resume it to continue from what is stored")
        except KeyboardInterrupt:
            with contextlib.suppress(Exception):
                self.registry.finish(self.task_id, self.token, "cancelled",
                                     note="interrupted (Ctrl-C); resume it to continue from "
                                          "what is stored")
            raise
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the original error matters more
                self.registry.finish(self.task_id, self.token, "failed",
                                     error=str(exc) or type(exc).__name__)
            raise
        finally:
            stop.set()
            beat.join(timeout=5)

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_EVERY_S):
            with contextlib.suppress(Exception):
                if not self.registry.heartbeat(self.task_id, self.token):
                    self.cancel_event.set()

    @contextlib.contextmanager
    def _progress_bar(self) -> Iterator[None]:
        if not self.progress:
            yield
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(total=0, unit="candle", desc=f"backfill {self.task_id}",
                         dynamic_ncols=True, leave=True)
        try:
            yield
        finally:
            self._bar.close()
            self._bar = None

    def _check_cancel(self) -> None:
        if self.cancel_event.is_set():
            raise TaskCancelled

    # --- planning -----------------------------------------------------------------------------

    @property
    def limit(self) -> int:
        """Most candles the source returns in one page."""
        return int(getattr(self.source, "page_limit", 5000))

    @property
    def alignment(self) -> str:
        """The source's bucket alignment."""
        return str(self.source.alignment)

    def _now(self) -> int:
        return int(self.source.now_ms())

    def _plan(self, sr: _Series) -> SeriesPlan:
        sr.label = str(self.source.label)
        if self.recheck and (sr.label, sr.symbol, sr.interval) not in self._cleared:
            self.registry.clear_availability(source=sr.label, symbol=sr.symbol,
                                             interval=sr.interval)
            self._cleared.add((sr.label, sr.symbol, sr.interval))
        avail = self.registry.availability_record(sr.label, sr.symbol, sr.interval)
        now = self._now()
        iv = parse_interval(sr.interval)
        hi = self.end_ms if self.end_ms is not None else int(
            ordinal_to_ms(bucket_ordinal(np.array([now]), iv, alignment=self.alignment) + 1,
                          iv, alignment=self.alignment)[0])
        lo = self._open_bucket(sr, self.start_ms)
        t = np.array([], dtype=np.int64)
        closed = np.array([], dtype=bool)
        if hi > lo:
            try:
                df = self.store.read(sr.symbol, sr.interval, lo, hi, source=sr.label)
            except SeriesNotFoundError:
                df = None
            if df is not None and len(df):
                t, closed = df.index.asi8, df["closed"].to_numpy(dtype=bool)
        sr.stored_t = t[closed]
        sr.earliest = avail.earliest
        sr.had_ranges = bool(avail.ranges)
        self._avail = avail
        return plan_series(t, closed, interval=sr.interval, alignment=self.alignment,
                           start=self.start_ms, end=self.end_ms, now=now,
                           earliest_available=avail.earliest,
                           empty_ranges=avail.trusted_ranges(), only_gaps=self.only_gaps)

    def _prepare(self, sr: _Series) -> None:
        sr.plan = self._plan(sr)
        if self._probe_earliest(sr):  # the recorded boundary was wrong: history exists
            sr.plan = self._plan(sr)
        if sr.plan.ranges:
            first = sr.plan.ranges[0]
            req_end = self._request_end(sr, first, first.start)
            page = self._fetch(sr, first.start, req_end)
            if not len(page.frame) and hasattr(self.source, "check_symbol"):
                self.source.check_symbol(sr.symbol)  # a typo fails here, nothing written
            label = page.frame.attrs.get("source") or self.source.label
            moved = (not self._synced and self._bucket(sr, int(page.server_now_ms))
                     != self._bucket(sr, sr.plan.now))
            self._synced = True
            if label != sr.label or moved:  # the first answer moved the clock or the label
                sr.plan = self._plan(sr)
                if self._probe_earliest(sr):
                    sr.plan = self._plan(sr)
                if not sr.plan.ranges or sr.plan.ranges[0].start != first.start:
                    page = None
            if page is not None:
                sr.held = (first.start, req_end, page)
        if self.rec.get("label") != sr.label:
            self.registry.set_label(self.task_id, sr.label)
            self.rec["label"] = sr.label
        sr.unavailable = sr.plan.unavailable
        self._add_planned(sr, sr.plan.buckets)
        self._update(sr, status="pending", earliest_available=sr.earliest,
                     unavailable=sr.unavailable, confirmed_empty=sr.plan.confirmed_empty)

    def _probe_earliest(self, sr: _Series) -> bool:
        """Check a recorded ``earliest_available`` that is due, with one request from the
        task's start; True when candles exist before it (the record is dropped)."""
        plan, avail = sr.plan, self._avail
        if (plan is None or avail.earliest is None or not plan.unavailable
                or avail.earliest <= plan.lo or avail.earliest_next_check > plan.now):
            return False
        e = max(self._horizon(sr), self._next(sr, avail.earliest))
        page = None
        for i in range(1 + EMPTY_CONFIRMATIONS):
            self._check_cancel()
            page = self._fetch(sr, plan.lo, e, reask=i > 0)
            if len(page.frame):
                break
        if page is None or not len(page.frame):
            self.registry.postpone_earliest_check(sr.label, sr.symbol, sr.interval,
                                                  now_ms=plan.now)
            sr.earliest_note = (f"the check of the recorded start of history "
                                f"({short_time(avail.earliest)}) got only empty answers; it "
                                "is checked again by a later run")
            return False
        first = int(page.frame.index.asi8[0])
        if first < avail.earliest:
            self.registry.forget_earliest_available(sr.label, sr.symbol, sr.interval)
            sr.earliest_note = (f"the upstream serves candles from {short_time(first)}, "
                                f"before the recorded start of history "
                                f"({short_time(avail.earliest)}): fetched again")
            return True
        sr.earliest = self.registry.set_earliest_available(
            sr.label, sr.symbol, sr.interval, first, observed_ms=int(page.server_now_ms))
        return False

    def _bucket(self, sr: _Series, ms: int) -> int:
        return int(bucket_ordinal(np.array([ms]), sr.interval, alignment=self.alignment)[0])

    def _next(self, sr: _Series, ms: int) -> int:
        """Open time of the bucket after the one holding ``ms``."""
        iv = parse_interval(sr.interval)
        return int(ordinal_to_ms(bucket_ordinal(np.array([ms]), iv, alignment=self.alignment)
                                 + 1, iv, alignment=self.alignment)[0])

    def _prev(self, sr: _Series, ms: int) -> int:
        """Open time of the bucket before the one holding ``ms``."""
        iv = parse_interval(sr.interval)
        return int(ordinal_to_ms(bucket_ordinal(np.array([ms]), iv, alignment=self.alignment)
                                 - 1, iv, alignment=self.alignment)[0])

    def _count(self, sr: _Series, a: int, b: int) -> int:
        """Buckets opening in ``[a, b)`` (both bucket open times)."""
        return max(self._bucket(sr, b) - self._bucket(sr, a), 0) if b > a else 0

    def _horizon(self, sr: _Series) -> int:
        """Exclusive end of the buckets that exist now: after the one holding the clock."""
        return self._next(sr, self._now())

    def _range_end(self, sr: _Series, rng: FetchRange) -> int:
        """Exclusive end of ``rng`` now: a tail range grows with the server clock."""
        if not rng.tail:
            return rng.end
        horizon = self._horizon(sr)
        if self.end_ms is None:
            return horizon
        return min(self._next(sr, self.end_ms - 1), horizon)

    def _request_end(self, sr: _Series, rng: FetchRange, s: int) -> int:
        """End to ask for from ``s``: a tail range asks for a whole page's worth, so that
        a clock known only from an older answer costs no extra request; another range
        asks for one bucket more (the stored candle after the gap, so that the answer
        shows both sides of a hole at its end)."""
        if not rng.tail:
            return self._next(sr, rng.end)
        iv = parse_interval(sr.interval)
        page_end = int(ordinal_to_ms(bucket_ordinal(np.array([s]), iv, alignment=self.alignment)
                                     + self.limit, iv, alignment=self.alignment)[0])
        wide = max(self._range_end(sr, rng), page_end)
        return wide if self.end_ms is None else min(wide, self._next(sr, self.end_ms - 1))

    # --- fetching -----------------------------------------------------------------------------

    def _fetch(self, sr: _Series, s: int, e: int, *, reask: bool = False) -> Any:
        """One page; ``reask``: asking again after an empty answer (counted as a retry)."""
        if reask:
            stats = getattr(self.source, "stats", None)
            if hasattr(stats, "add"):
                stats.add(retries=1, failure="empty")
            self._empty_streak += 1
            factor = getattr(self.source, "backoff_factor", 0.0)
            if isinstance(factor, (int, float)) and factor > 0:  # an upstream under load
                time.sleep(backoff_delay(self._empty_streak, factor=float(factor),
                                         maximum=float(getattr(self.source, "backoff_max",
                                                               30.0))))
        else:
            self._empty_streak = 0
        page = self.source.fetch_page(sr.symbol, sr.interval, int(s), int(e))
        self._requests += int(getattr(page, "requests", 1))
        return page

    def _open_bucket(self, sr: _Series, now: int) -> int:
        """Open time of the bucket holding ``now``."""
        return int(ordinal_to_ms(np.array([self._bucket(sr, now)]), sr.interval,
                                 alignment=self.alignment)[0])

    def _clean(self, sr: _Series, frame: pd.DataFrame, s: int, e: int, now: int
               ) -> pd.DataFrame:
        """Candles of ``frame`` in ``[s, e)``; a candle not closed by ``now`` is open."""
        t = frame.index.asi8
        if len(t) and (t[0] < s or t[-1] >= e):
            attrs = dict(frame.attrs)
            frame = frame[(t >= s) & (t < e)]
            frame.attrs = attrs
            t = frame.index.asi8
        if len(t):
            still_open = close_ms(t, sr.interval, alignment=self.alignment) >= now
            if (still_open & frame["closed"].to_numpy(dtype=bool)).any():
                attrs = dict(frame.attrs)
                frame = frame.copy()
                frame.loc[still_open, "closed"] = False
                frame.attrs = attrs
        return frame

    def _settle(self, sr: _Series, page: Any, s: int, e: int, req_end: int
                ) -> _Fetched | None:
        """What an answer to ``[x, req_end)`` (``x <= s``) says about ``[s, e)``; None when
        it holds no candle at or after ``s``."""
        t = page.frame.index.asi8
        k = int(np.searchsorted(t, s))
        if k == len(t):
            return None
        now = int(page.server_now_ms)
        inside = self._clean(sr, page.frame, s, e, now)
        if page.full and int(t[-1]) < e:  # the server gave its maximum: more may follow
            cover = self._next(sr, int(t[-1]))
        else:  # the answer holds everything in [s, min(e, req_end))
            cover = min(e, req_end)
        return _Fetched(inside, cover, int(t[k]), now, e, raw_t=t)

    def _get(self, sr: _Series, rng: FetchRange, s: int,
             held: tuple[int, Any] | None = None) -> _Fetched:
        """Ask for ``rng`` from ``s``; an empty answer is asked again, widened to the
        clock, and last from the latest candle known before ``s``: an answer that serves
        that candle and nothing after it says the upstream has nothing newer (a quiet
        coin); only when every answer is empty is the range unresolved."""
        if held is None:
            req_end = self._request_end(sr, rng, s)
            page = self._fetch(sr, s, req_end)
        else:
            req_end, page = held
        e = min(req_end, self._range_end(sr, rng))  # by the clock of that answer
        got = self._settle(sr, page, s, e, req_end)
        if got is not None:
            return got
        asked = 1
        wide = req_end
        for _ in range(EMPTY_CONFIRMATIONS):
            self._check_cancel()
            wide = max(req_end, self._horizon(sr))
            page = self._fetch(sr, s, wide, reask=True)
            asked += 1
            e = min(e, self._range_end(sr, rng)) if rng.tail else e
            got = self._settle(sr, page, s, e, wide)
            if got is not None:
                got.asked = asked
                return got
        self._check_cancel()
        page = self._fetch(sr, self._anchor(sr, s), wide, reask=True)
        asked += 1
        got = self._settle(sr, page, s, e, wide)
        if got is not None:
            got.asked = asked
            return got
        now = int(page.server_now_ms)
        return _Fetched(page.frame.iloc[:0], e, None, now, e, raw_t=page.frame.index.asi8,
                        asked=asked, unresolved=not len(page.frame))

    def _ask(self, sr: _Series, s: int, e: int) -> tuple[Any, int]:
        """One answer for ``[s, e)``, asked again while empty; (page, requests it took)."""
        page = None
        for i in range(1 + EMPTY_CONFIRMATIONS):
            self._check_cancel()
            page = self._fetch(sr, s, e, reask=i > 0)
            if len(page.frame):
                return page, i + 1
        return page, 1 + EMPTY_CONFIRMATIONS

    def _anchor(self, sr: _Series, a: int) -> int:
        """Open time of the latest candle known before ``a`` (stored, or received this
        run), else of the bucket before ``a``."""
        best = None
        i = int(np.searchsorted(sr.stored_t, a)) - 1
        if i >= 0:
            best = int(sr.stored_t[i])
        if sr.last_t is not None and sr.last_t < a and (best is None or sr.last_t > best):
            best = sr.last_t
        return best if best is not None else self._prev(sr, a)

    # --- one series -----------------------------------------------------------------------------

    def _run_series(self, sr: _Series) -> None:
        plan = sr.plan
        if plan is None:
            raise RuntimeError(f"{sr.key} was not planned")  # pragma: no cover - internal
        self._update(sr, status="running")
        if self._bar is not None:
            self._bar.set_postfix_str(sr.key, refresh=True)
        sr.hi = plan.hi
        try:
            for rng in plan.ranges:
                self._run_range(sr, rng)
                self._record(sr)
            if sr.unresolved:  # once more: an upstream under load may answer this time
                again, sr.unresolved = sr.unresolved, []
                for a, b, _ in again:
                    tail = b >= self._horizon(sr)
                    self._run_range(sr, FetchRange(a, b, self._count(sr, a, b), tail))
                    self._record(sr)
            self._recheck_due(sr)
        finally:
            self._flush(sr)  # what was fetched is valid: keep it, even when stopping
            with contextlib.suppress(Exception):  # the original error matters more
                self._record(sr)
        if sr.planned > sr.done:
            self._advance(sr, sr.planned - sr.done)
        self._finish_series(sr)

    def _skip_unavailable(self, sr: _Series, rng: FetchRange) -> FetchRange | None:
        """``rng`` without the buckets before an ``earliest_available`` learned this run."""
        if sr.earliest is None or rng.start >= sr.earliest:
            return rng
        cut = min(self._next(sr, sr.earliest - 1), rng.end)
        skipped = self._count(sr, rng.start, cut)
        sr.unavailable += skipped
        self._advance(sr, skipped)
        if cut >= rng.end and not rng.tail:
            return None
        return FetchRange(cut, rng.end, max(rng.buckets - skipped, 0), rng.tail)

    def _run_range(self, sr: _Series, rng0: FetchRange) -> None:
        rng = self._skip_unavailable(sr, rng0)
        if rng is None:
            return
        s = rng.start
        first = True
        covered = 0
        budget = rng.buckets
        while True:
            self._check_cancel()
            e = self._range_end(sr, rng)
            if s >= e:
                break
            held = None
            if first and sr.held is not None and sr.held[0] == s:
                held = sr.held[1:]
            sr.held = None
            got = self._get(sr, rng, s, held)  # type: ignore[arg-type]
            e = got.end
            if got.unresolved:  # every answer was empty: no evidence of anything
                self._unresolved(sr, s, e, got)
            else:
                # a hole at the start, unless the answer also served a candle before it
                hole_end = e if got.first_t is None else min(got.first_t, e)
                if (got.first_t is not None and hole_end > s
                        and not (len(got.raw_t) and got.raw_t[0] < s)):
                    self._hole(sr, s, hole_end, got, leading=first)
                self._interior_holes(sr, s, got)
                sr.resolved.append((s, got.cover))
            if len(got.frame):
                self._write(sr, got.frame)
            n = self._count(sr, s, got.cover)
            if covered + n > budget:  # a tail range that grew with the clock
                self._add_planned(sr, covered + n - budget)
                budget = covered + n
            covered += n
            self._advance(sr, n, candles=len(got.frame))
            s = got.cover
            first = False
        sr.hi = max(sr.hi, s)
        if budget > covered:
            self._advance(sr, budget - covered)

    def _unresolved(self, sr: _Series, a: int, b: int, got: _Fetched) -> None:
        """Only empty answers for ``[a, b)``, even from the candle before it: believed to
        exist, not fetched."""
        if b > a:
            sr.unresolved.append((a, b, got.asked))

    def _hole(self, sr: _Series, a: int, b: int, got: _Fetched, *, leading: bool) -> None:
        """A non-empty answer asked from ``a`` started at ``b``: an outage, or history the
        upstream does not have. Decided from the answers, never from an empty one."""
        lo = sr.plan.lo if sr.plan is not None else a
        if leading and a <= lo and sr.last_t is None:
            # asked from the task's start, served from b: nothing is served before b
            self._set_earliest(sr, a, b, got.first_t or b, got.now)
            return
        anchor = self._anchor(sr, a)
        page, asked = self._ask(sr, anchor, self._next(sr, got.first_t or b))
        if not len(page.frame):
            sr.unresolved.append((a, b, asked))
            return
        self._evidence(sr, a, b, page, anchor=anchor)

    def _evidence(self, sr: _Series, a: int, b: int, page: Any, *, anchor: int) -> None:
        """What a non-empty answer asked from ``anchor`` shows about ``[a, b)``."""
        now = int(page.server_now_ms)
        t = page.frame.index.asi8
        inside = self._clean(sr, page.frame, a, b, now)
        if len(inside):  # candles the earlier answer did not show: data, keep them
            self._write(sr, inside)
        first_in = int(t[np.searchsorted(t, a)]) if t[-1] >= a else None
        if t[0] >= a and first_in is not None:
            # nothing served from the anchor (a candle once stored, or the bucket before
            # a) up to first_in: the upstream's history starts there (retention, listing)
            self._set_earliest(sr, a, min(first_in, b), first_in, now)
        reach = self._next(sr, int(t[-1])) if page.full else b
        self._gaps(sr, t, max(a, int(t[0])), min(b, reach), now)
        if reach < b:  # a full page that did not reach b: the rest is not settled
            sr.unresolved.append((reach, b, 1))
        sr.resolved.append((a, min(b, reach)))

    def _set_earliest(self, sr: _Series, a: int, b: int, t0: int, now: int) -> None:
        kept = self.registry.set_earliest_available(sr.label, sr.symbol, sr.interval,
                                                    t0, observed_ms=now)
        sr.earliest = kept
        skipped = self._count(sr, a, min(b, kept))
        sr.unavailable += skipped
        sr.resolved.append((a, b))

    def _gaps(self, sr: _Series, t: np.ndarray, a: int, b: int, now: int) -> None:
        """Holes between consecutive candles ``t`` of one answer, within ``[a, b)``."""
        if len(t) < 2:
            return
        nxt = ordinal_to_ms(bucket_ordinal(t[:-1], sr.interval, alignment=self.alignment) + 1,
                            sr.interval, alignment=self.alignment)
        closed_end = self._open_bucket(sr, now)
        for i in np.flatnonzero(nxt < t[1:]).tolist():
            x, y = max(int(nxt[i]), a), min(int(t[i + 1]), b, closed_end)
            if y > x:
                sr.confirmed.append((x, y))

    def _interior_holes(self, sr: _Series, s: int, got: _Fetched) -> None:
        self._gaps(sr, got.raw_t, s, got.cover, got.now)

    def _record(self, sr: _Series) -> None:
        """Write what the answers so far showed about absence to the registry."""
        if not sr.confirmed and not (sr.resolved and sr.had_ranges):
            sr.resolved = []  # nothing to replace: no record there, nothing confirmed
            return
        settled = merge_ranges(sr.resolved)
        open_ = [(a, b) for a, b, _ in sr.unresolved]
        if open_:
            settled = _minus(settled, merge_ranges(open_))
        self.registry.record_empty(sr.label, sr.symbol, sr.interval,
                                   merge_ranges(sr.confirmed), resolved=settled,
                                   observed_ms=self._now())
        sr.had_ranges = sr.had_ranges or bool(sr.confirmed)
        sr.confirmed, sr.resolved = [], []

    def _recheck_due(self, sr: _Series) -> None:
        """Check again (one request each) up to :data:`MAX_RECHECKS` recorded empty
        ranges of the task's range that are due."""
        plan = sr.plan
        if plan is None:
            return  # pragma: no cover - internal
        if not sr.had_ranges:
            return  # none recorded when planned (ranges found this run are not due)
        avail = self.registry.availability_record(sr.label, sr.symbol, sr.interval)
        due = [r for r in avail.due_ranges(self._now()) if r.end > plan.lo and r.start < plan.hi]
        for r in due[:MAX_RECHECKS]:
            self._check_cancel()
            a, b = max(r.start, plan.lo), min(r.end, plan.hi)
            anchor = self._anchor(sr, a)
            page, _ = self._ask(sr, anchor, self._next(sr, b))
            if not len(page.frame):
                self.registry.postpone_range_check(sr.label, sr.symbol, sr.interval, r.start,
                                                   now_ms=self._now())
                sr.rechecked.append((a, b, "inconclusive (empty answers)"))
                continue
            before = sr.fetched + sum(len(f) for f in sr.pending)
            t = page.frame.index.asi8
            if t[0] < a and (t[-1] >= b or page.full):  # both sides: settled
                self._evidence(sr, a, b, page, anchor=anchor)
                got = sum(len(f) for f in sr.pending) + sr.fetched - before
                sr.rechecked.append((a, b, f"{got} candles found" if got else "still empty"))
            else:  # one side only: not evidence either way; keep the record, check later
                inside = self._clean(sr, page.frame, a, b, int(page.server_now_ms))
                if len(inside):
                    self._write(sr, inside)
                    sr.resolved.append((int(inside.index.asi8[0]),
                                        self._next(sr, int(inside.index.asi8[-1]))))
                self.registry.postpone_range_check(sr.label, sr.symbol, sr.interval, r.start,
                                                   now_ms=self._now())
                sr.rechecked.append((a, b, "inconclusive (one side served)"))
            self._record(sr)

    def _write(self, sr: _Series, frame: pd.DataFrame) -> None:
        if frame.attrs.get("source") != sr.label:
            frame = frame.copy(deep=False)
            frame.attrs = {**frame.attrs, "source": sr.label}
        sr.pending.append(frame)
        sr.pending_rows += len(frame)
        t_last = int(frame.index.asi8[-1])
        sr.last_t = t_last if sr.last_t is None else max(sr.last_t, t_last)
        if (sr.pending_rows >= FLUSH_CANDLES
                or time.monotonic() - sr.flushed_at >= FLUSH_SECONDS):
            self._flush(sr, report=False)  # the page's progress update carries the count

    def _flush(self, sr: _Series, *, report: bool = True) -> None:
        """Write the pages fetched since the last flush in one store write; the task's
        ``candles_fetched`` counts them once they are written (with the next registry
        update, or at once with ``report``)."""
        frames, sr.pending, sr.pending_rows = sr.pending, [], 0
        sr.flushed_at = time.monotonic()
        if not frames:
            return
        if len(frames) == 1:
            both = frames[0]
        else:
            attrs = dict(frames[-1].attrs)
            both = pd.concat(frames)
            if not both.index.is_monotonic_increasing or not both.index.is_unique:
                both = both[~both.index.duplicated(keep="last")].sort_index(kind="stable")
            both.attrs = attrs
        self.store.write(both)
        sr.fetched += len(both)
        sr.unreported += len(both)
        if report:
            self._update(sr)

    # --- bookkeeping ----------------------------------------------------------------------------

    def _add_planned(self, sr: _Series, n: int) -> None:
        if n <= 0:
            return
        sr.planned += n
        if self._bar is not None:
            self._bar.total = (self._bar.total or 0) + n
            self._bar.refresh()
        self._update(sr, task_planned=n, add_planned=n)

    def _advance(self, sr: _Series, n: int, *, candles: int = 0) -> None:
        """``n`` planned buckets are settled, ``candles`` of them fetched. The bar counts
        candles fetched: settled buckets without a candle leave its total instead."""
        n = max(min(n, sr.planned - sr.done), 0)
        sr.done += n
        if self._bar is not None and (n or candles):
            if n != candles:
                self._bar.total = max((self._bar.total or 0) - (n - candles), self._bar.n)
            self._bar.update(candles)
        self._update(sr, task_done=n)

    def _update(self, sr: _Series, **kw: Any) -> None:
        requests, self._requests = self._requests, 0
        if sr.unreported:
            kw["candles"] = kw.get("candles", 0) + sr.unreported
            sr.unreported = 0
        if not self.registry.update_series(self.task_id, self.token, sr.symbol, sr.interval,
                                           requests=requests, **kw):
            self.cancel_event.set()

    def _finish_series(self, sr: _Series) -> None:
        if sr.plan is None:
            return  # pragma: no cover - internal
        earliest, empties = self.registry.availability(sr.label, sr.symbol, sr.interval)
        sr.earliest = earliest
        lo, hi = sr.plan.lo, max(sr.hi, sr.plan.hi)
        inside = merge_ranges([(max(a, lo), min(b, hi)) for a, b in empties
                               if b > lo and a < hi])
        n_empty = count_in_runs(ranges_to_runs(inside, sr.interval, alignment=self.alignment))
        note = self._series_note(sr, inside, n_empty)
        self._update(sr, status="partial" if sr.partial else "completed",
                     earliest_available=earliest, unavailable=sr.unavailable,
                     confirmed_empty=n_empty, empty_ranges=inside[:100], note=note)
        sr.note = note

    def _ranges_text(self, ranges: list[tuple[int, int]]) -> str:
        shown = ", ".join(f"[{short_time(a)}, {short_time(b)})"
                          for a, b in ranges[:_MAX_NOTED_RANGES])
        more = (f" and {len(ranges) - _MAX_NOTED_RANGES} more"
                if len(ranges) > _MAX_NOTED_RANGES else "")
        return shown + more

    def _series_note(self, sr: _Series, empties: list[tuple[int, int]], n_empty: int) -> str:
        if sr.plan is None:
            return ""  # pragma: no cover - internal
        parts = []
        if sr.unresolved:
            ranges = merge_ranges([(a, b) for a, b, _ in sr.unresolved])
            n = count_in_runs(ranges_to_runs(ranges, sr.interval, alignment=self.alignment))
            asked = max(k for _, _, k in sr.unresolved)
            parts.append(
                f"INCOMPLETE: {n} candles not fetched: every answer for "
                f"{self._ranges_text(ranges)} was empty (asked up to {asked} times, twice "
                f"over). An empty answer is not proof that candles do not exist, so nothing "
                f"was recorded: run the task again (`candlekit tasks resume {self.task_id}`) "
                "to fetch them")
        if sr.earliest is not None and sr.earliest > sr.plan.lo and sr.unavailable:
            served = self._count(sr, sr.earliest, self._horizon(sr))
            what = (f"{sr.label} keeps only the last {self.limit} {sr.interval} candles"
                    if abs(served - self.limit) <= 1 else
                    f"{sr.label} has no {sr.symbol} {sr.interval} candles before "
                    f"{short_time(sr.earliest)} (listing or retention)")
            parts.append(f"{what}: history before {short_time(sr.earliest)} is not available "
                         f"upstream; {sr.unavailable} candles requested before it were not "
                         "fetched (checked again by later runs)")
        if sr.earliest_note:
            parts.append(sr.earliest_note)
        if n_empty:
            parts.append(f"the upstream served candles on both sides of {n_empty} missing "
                         f"candles inside its history and none inside (an outage upstream, "
                         f"not a download error; checked again by later runs): "
                         f"{self._ranges_text(empties)}")
        if sr.rechecked:
            parts.append("re-checked recorded empty ranges: " + ", ".join(
                f"[{short_time(a)}, {short_time(b)}) {what}" for a, b, what in sr.rechecked))
        if not sr.plan.requested:
            parts.append(f"nothing to fetch: the range starts after the server clock "
                         f"({short_time(sr.plan.now)})")
        elif not parts and sr.plan.empty and not sr.fetched:
            parts.append("up to date: nothing to fetch")
        return "; ".join(parts)

    def _task_note(self, series: list[_Series]) -> str:
        notes = [(f"{sr.key}: " if len(series) > 1 else "") + sr.note
                 for sr in series if sr.note]
        return " | ".join(notes)


def _minus(ranges: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted disjoint ``ranges`` without the sorted disjoint ``cut`` ranges."""
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        cur = a
        for c, d in cut:
            if d <= cur or c >= b:
                continue
            if c > cur:
                out.append((cur, c))
            cur = max(cur, d)
        if cur < b:
            out.append((cur, b))
    return out
