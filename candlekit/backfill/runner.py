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
Every empty answer is asked again (up to :data:`EMPTY_CONFIRMATIONS` times, over a range
widened up to the server clock so the answer also says where data resumes): an empty
answer can be a glitch. A hole at the start of a range is then either

* history the upstream no longer has (retention, or before the coin's listing): when
  the range starts at the requested start, or nothing is served just before it. The
  series' ``earliest_available`` is recorded (per source label, symbol and interval) and
  nothing before it is ever requested again;
* an outage inside the available history: when the upstream served candles just before
  it. Such ranges, and the holes between the candles of a page or after the last candle
  of a complete answer, are recorded as confirmed empty and not requested again.

Only buckets that closed before the server clock are ever recorded empty.
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

from ..errors import SeriesNotFoundError
from ..intervals import bucket_ordinal, close_ms, ordinal_to_ms, parse_interval
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

__all__ = ["EMPTY_CONFIRMATIONS", "Runner", "TaskCancelled", "short_time"]

EMPTY_CONFIRMATIONS = 3
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
    cover: int                   # [s, cover) is settled: fetched or confirmed absent
    first_t: int | None          # first candle at or after s (may be >= end); None: none
    now: int                     # server clock of the last answer
    end: int                     # the range's end by that clock


@dataclass
class _Series:
    symbol: str
    interval: str
    plan: SeriesPlan | None = None
    label: str = ""
    earliest: int | None = None
    seen_min: int | None = None          # earliest candle received this run
    held: tuple[int, int, Any] | None = None  # (start, end, page) fetched before writing
    fetched: int = 0
    unavailable: int = 0
    planned: int = 0
    done: int = 0
    new_empty: list[tuple[int, int]] = field(default_factory=list)
    hi: int = 0                          # exclusive end actually reached
    note: str = ""
    pending: list[pd.DataFrame] = field(default_factory=list)  # fetched, not yet stored
    pending_rows: int = 0
    flushed_at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str:
        return f"{self.symbol} {self.interval}"


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
    """

    def __init__(self, registry: TaskRegistry, task_id: str, source: Any, store: Store, *,
                 progress: bool = True, cancel_event: threading.Event | None = None):
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
            self.registry.finish(self.task_id, self.token, "completed",
                                 note=self._task_note(series))
        except TaskCancelled:
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
        earliest, empties = self.registry.availability(sr.label, sr.symbol, sr.interval)
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
        sr.earliest = earliest
        return plan_series(t, closed, interval=sr.interval, alignment=self.alignment,
                           start=self.start_ms, end=self.end_ms, now=now,
                           earliest_available=earliest, empty_ranges=empties,
                           only_gaps=self.only_gaps)

    def _prepare(self, sr: _Series) -> None:
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
        a clock known only from an older answer costs no extra request."""
        if not rng.tail:
            return rng.end
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
        """What a non-empty answer to ``[s, req_end)`` says about ``[s, e)``."""
        if not len(page.frame):
            return None
        now = int(page.server_now_ms)
        t = page.frame.index.asi8
        inside = self._clean(sr, page.frame, s, e, now)
        if page.full and int(t[-1]) < e:  # the server gave its maximum: more may follow
            cover = self._next(sr, int(t[-1]))
        else:  # the answer holds everything in [s, min(e, req_end))
            cover = min(e, req_end)
        return _Fetched(inside, cover, int(t[0]), now, e)

    def _get(self, sr: _Series, rng: FetchRange, s: int,
             held: tuple[int, Any] | None = None) -> _Fetched:
        """Ask for ``rng`` from ``s``; an empty answer is asked again, widened to the clock."""
        if held is None:
            req_end = self._request_end(sr, rng, s)
            page = self._fetch(sr, s, req_end)
        else:
            req_end, page = held
        e = min(req_end, self._range_end(sr, rng))  # by the clock of that answer
        got = self._settle(sr, page, s, e, req_end)
        if got is not None:
            return got
        for _ in range(EMPTY_CONFIRMATIONS):
            if s >= self._open_bucket(sr, int(page.server_now_ms)):
                break  # only the bucket holding the clock (or later): nothing to confirm
            self._check_cancel()
            wide = max(req_end, self._horizon(sr))
            page = self._fetch(sr, s, wide, reask=True)
            e = min(e, self._range_end(sr, rng)) if rng.tail else e
            got = self._settle(sr, page, s, e, wide)
            if got is not None:
                return got
        return _Fetched(page.frame.iloc[:0], e, None, int(page.server_now_ms), e)

    def _served_before(self, sr: _Series, s: int) -> bool:
        """Whether the upstream serves the candle just before ``s`` (asked until sure)."""
        prev = self._prev(sr, s)
        for i in range(1 + EMPTY_CONFIRMATIONS):
            self._check_cancel()
            if len(self._fetch(sr, prev, s, reask=i > 0).frame):
                return True
        return False

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
        finally:
            self._flush(sr)  # what was fetched is valid: keep it, even when stopping
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
            hole_end = e if got.first_t is None else min(got.first_t, e)
            if hole_end > s:
                self._hole(sr, s, hole_end, got, leading=first)
            self._interior_holes(sr, got)
            if len(got.frame):
                self._write(sr, got.frame)
                t0 = int(got.frame.index.asi8[0])
                sr.seen_min = t0 if sr.seen_min is None else min(sr.seen_min, t0)
                after_last = self._next(sr, int(got.frame.index.asi8[-1]))
                if after_last < got.cover:  # a complete answer ending early: confirmed empty
                    self._empty(sr, after_last, got.cover, got.now)
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

    def _hole(self, sr: _Series, a: int, b: int, got: _Fetched, *, leading: bool) -> None:
        """``[a, b)`` came back empty: an outage, or history the upstream does not have."""
        lo = sr.plan.lo if sr.plan is not None else a
        data_before = sr.seen_min is not None and sr.seen_min < a
        if not leading or data_before:
            self._empty(sr, a, b, got.now)
            return
        if a > lo and self._served_before(sr, a):
            sr.seen_min = self._prev(sr, a) if sr.seen_min is None else sr.seen_min
            self._empty(sr, a, b, got.now)
            return
        if got.first_t is None:  # nothing at all from a up to the clock
            self._empty(sr, a, b, got.now)
            return
        kept = self.registry.set_earliest_available(sr.label, sr.symbol, sr.interval,
                                                    got.first_t, observed_ms=got.now)
        sr.earliest = kept
        sr.unavailable += self._count(sr, a, min(b, kept))

    def _interior_holes(self, sr: _Series, got: _Fetched) -> None:
        t = got.frame.index.asi8
        if len(t) < 2:
            return
        nxt = ordinal_to_ms(bucket_ordinal(t[:-1], sr.interval, alignment=self.alignment) + 1,
                            sr.interval, alignment=self.alignment)
        gap = np.flatnonzero(nxt < t[1:])
        if len(gap):
            for i in gap.tolist():
                self._empty(sr, int(nxt[i]), int(t[i + 1]), got.now, flush=False)
            self._flush_empty(sr, got.now)

    def _empty(self, sr: _Series, a: int, b: int, now: int, *, flush: bool = True) -> None:
        """Record ``[a, b)`` as confirmed empty upstream (only buckets closed by ``now``)."""
        b = min(b, self._open_bucket(sr, now))
        if b > a:
            sr.new_empty.append((a, b))
        if flush:
            self._flush_empty(sr, now)

    def _flush_empty(self, sr: _Series, now: int) -> None:
        if sr.new_empty:
            self.registry.add_empty_ranges(sr.label, sr.symbol, sr.interval, sr.new_empty,
                                           observed_ms=now)
            sr.new_empty = []

    def _write(self, sr: _Series, frame: pd.DataFrame) -> None:
        if frame.attrs.get("source") != sr.label:
            frame = frame.copy(deep=False)
            frame.attrs = {**frame.attrs, "source": sr.label}
        sr.pending.append(frame)
        sr.pending_rows += len(frame)
        sr.fetched += len(frame)
        if (sr.pending_rows >= FLUSH_CANDLES
                or time.monotonic() - sr.flushed_at >= FLUSH_SECONDS):
            self._flush(sr)

    def _flush(self, sr: _Series) -> None:
        """Write the pages fetched since the last flush in one store write."""
        frames, sr.pending, sr.pending_rows = sr.pending, [], 0
        sr.flushed_at = time.monotonic()
        if not frames:
            return
        if len(frames) == 1:
            self.store.write(frames[0])
            return
        attrs = dict(frames[-1].attrs)
        both = pd.concat(frames)
        if not both.index.is_monotonic_increasing or not both.index.is_unique:
            both = both[~both.index.duplicated(keep="last")].sort_index(kind="stable")
        both.attrs = attrs
        self.store.write(both)

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
        n = max(min(n, sr.planned - sr.done), 0)
        sr.done += n
        if self._bar is not None and n:
            self._bar.update(n)
        self._update(sr, task_done=n, candles=candles)

    def _update(self, sr: _Series, **kw: Any) -> None:
        requests, self._requests = self._requests, 0
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
        self._update(sr, status="completed", earliest_available=earliest,
                     unavailable=sr.unavailable, confirmed_empty=n_empty,
                     empty_ranges=inside[:100], note=note)
        sr.note = note

    def _series_note(self, sr: _Series, empties: list[tuple[int, int]], n_empty: int) -> str:
        if sr.plan is None:
            return ""  # pragma: no cover - internal
        parts = []
        if sr.earliest is not None and sr.earliest > sr.plan.lo and sr.unavailable:
            served = self._count(sr, sr.earliest, self._horizon(sr))
            what = (f"{sr.label} keeps only the last {self.limit} {sr.interval} candles"
                    if abs(served - self.limit) <= 1 else
                    f"{sr.label} has no {sr.symbol} {sr.interval} candles before "
                    f"{short_time(sr.earliest)} (listing or retention)")
            parts.append(f"{what}: history before {short_time(sr.earliest)} is not available "
                         f"upstream; {sr.unavailable} candles requested before it were not "
                         "fetched")
        if n_empty:
            shown = ", ".join(f"[{short_time(a)}, {short_time(b)})"
                              for a, b in empties[:_MAX_NOTED_RANGES])
            more = f" and {len(empties) - _MAX_NOTED_RANGES} more" if len(
                empties) > _MAX_NOTED_RANGES else ""
            parts.append(f"the upstream confirmed {n_empty} candles missing inside its "
                         f"history (an outage upstream, not a download error; not requested "
                         f"again): {shown}{more}")
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
