"""What a backfill must fetch for one series: pure functions, no I/O.

A plan starts from the buckets the task asks for (every bucket overlapping
``[start, end)`` that exists by the server clock: the bucket holding ``now`` is the last)
and removes

* buckets whose candle is stored and **closed** (stored open candles are fetched again),
* buckets before the series' recorded ``earliest_available`` (the upstream no longer has
  them: retention or listing; they never come back, so they are never asked for again),
* buckets inside ranges the upstream confirmed empty (an exchange outage inside the
  available history).

What remains is merged into runs of consecutive buckets: one :class:`FetchRange` per run.
With ``only_gaps=True`` the plan is restricted to the buckets between the first and the
last stored candle of the range: exactly the gaps :func:`candlekit.find_gaps` reports
there, plus the stored open candles.

All times are UTC epoch milliseconds; buckets are handled as integer ordinals
(:func:`candlekit.intervals.bucket_ordinal`) so fixed and calendar buckets share the code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..intervals import Alignment, Interval, bucket_ordinal, ordinal_to_ms, parse_interval

__all__ = [
    "FetchRange",
    "SeriesPlan",
    "count_in_runs",
    "merge_ranges",
    "plan_series",
    "ranges_to_runs",
    "runs_to_ranges",
    "subtract_runs",
]

Runs = tuple[np.ndarray, np.ndarray]  # inclusive (first, last) ordinals, sorted, disjoint


@dataclass(frozen=True)
class FetchRange:
    """One run of consecutive buckets to fetch.

    Attributes
    ----------
    start : int
        Open time of the first bucket (epoch ms).
    end : int
        Open time of the bucket after the last one (exclusive, epoch ms).
    buckets : int
        Number of buckets in the run.
    tail : bool
        Whether the run ends at the bucket holding the server clock: the range then
        grows as the clock moves while the backfill runs (up to the task's end).
    """

    start: int
    end: int
    buckets: int
    tail: bool = False


@dataclass(frozen=True)
class SeriesPlan:
    """The work for one series.

    Attributes
    ----------
    interval : str
    alignment : str
    lo : int
        Open time of the first requested bucket (the task's start, floored).
    hi : int
        Exclusive end of the requested buckets: the task's end, or the bucket after the
        one holding ``now`` if that is earlier.
    now : int
        The server clock the plan was made with.
    ranges : tuple of FetchRange
        What to fetch, in time order.
    buckets : int
        Buckets in ``ranges``.
    requested : int
        Buckets in ``[lo, hi)``.
    stored_closed : int
        Of those, buckets already stored as closed candles (not fetched again).
    stored_open : int
        Stored open candles in the range (fetched again).
    unavailable : int
        Missing buckets before ``earliest_available`` (not requested: the upstream no
        longer has them).
    confirmed_empty : int
        Missing buckets in ranges the upstream confirmed empty (not requested).
    earliest_available : int or None
        The recorded earliest open time the upstream serves, if known.
    """

    interval: str
    alignment: str
    lo: int
    hi: int
    now: int
    ranges: tuple[FetchRange, ...]
    buckets: int
    requested: int
    stored_closed: int
    stored_open: int
    unavailable: int
    confirmed_empty: int
    earliest_available: int | None

    @property
    def empty(self) -> bool:
        """Whether there is nothing to fetch."""
        return not self.ranges


# --- run arithmetic (inclusive ordinal runs) ------------------------------------------------


def _runs(first: Sequence[int] | np.ndarray, last: Sequence[int] | np.ndarray) -> Runs:
    return np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)


def _complement_points(points: np.ndarray, lo: int, hi: int) -> Runs:
    """Runs of ``[lo, hi]`` not in ``points`` (sorted, unique, all inside ``[lo, hi]``)."""
    if hi < lo:
        return _runs([], [])
    starts = np.concatenate([[lo], points + 1])
    ends = np.concatenate([points - 1, [hi]])
    keep = starts <= ends
    return starts[keep], ends[keep]


def subtract_runs(a: Runs, b: Runs) -> Runs:
    """Runs of ``a`` with every ordinal of ``b`` removed.

    Parameters
    ----------
    a, b : tuple of numpy.ndarray
        Inclusive ``(first, last)`` ordinals of sorted, disjoint runs (``b`` may overlap
        itself; it is merged first).

    Returns
    -------
    tuple of numpy.ndarray
        Sorted, disjoint runs.
    """
    b = merge_runs(b)
    out_s: list[int] = []
    out_e: list[int] = []
    j = 0
    bs, be = b[0].tolist(), b[1].tolist()
    for s, e in zip(a[0].tolist(), a[1].tolist()):
        while j < len(bs) and be[j] < s:
            j += 1
        k = j
        cur = s
        while k < len(bs) and bs[k] <= e:
            if bs[k] > cur:
                out_s.append(cur)
                out_e.append(bs[k] - 1)
            cur = max(cur, be[k] + 1)
            k += 1
        if cur <= e:
            out_s.append(cur)
            out_e.append(e)
    return _runs(out_s, out_e)


def merge_runs(r: Runs) -> Runs:
    """Sort runs and merge the ones that overlap or touch."""
    s, e = r
    if len(s) == 0:
        return _runs([], [])
    order = np.argsort(s, kind="stable")
    s, e = s[order], e[order]
    reach = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > reach[:-1] + 1
    idx = np.flatnonzero(new)
    ends = np.maximum.reduceat(e, idx)
    return s[idx], ends


def count_in_runs(r: Runs) -> int:
    """Number of ordinals in the runs."""
    return int((r[1] - r[0] + 1).sum()) if len(r[0]) else 0


def _clip_runs(r: Runs, lo: int, hi: int) -> Runs:
    s, e = np.maximum(r[0], lo), np.minimum(r[1], hi)
    keep = s <= e
    return s[keep], e[keep]


def ranges_to_runs(ranges: Sequence[tuple[int, int]], interval: str | Interval, *,
                   alignment: Alignment) -> Runs:
    """Inclusive ordinal runs of the buckets opening in each ``[start, end)`` (epoch ms)."""
    iv = parse_interval(interval)
    if not len(ranges):
        return _runs([], [])
    arr = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    first = bucket_ordinal(arr[:, 0], iv, alignment=alignment)
    # a start inside a bucket means that bucket's open time is before it: not included
    first = first + (ordinal_to_ms(first, iv, alignment=alignment) < arr[:, 0])
    last = bucket_ordinal(arr[:, 1] - 1, iv, alignment=alignment)
    keep = (arr[:, 1] > arr[:, 0]) & (first <= last)
    return first[keep], last[keep]


def runs_to_ranges(r: Runs, interval: str | Interval, *,
                   alignment: Alignment) -> list[tuple[int, int]]:
    """``[start, end)`` epoch-ms ranges of inclusive ordinal runs."""
    iv = parse_interval(interval)
    if not len(r[0]):
        return []
    starts = ordinal_to_ms(r[0], iv, alignment=alignment)
    ends = ordinal_to_ms(r[1] + 1, iv, alignment=alignment)
    return list(zip(starts.tolist(), ends.tolist()))


def merge_ranges(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ``[start, end)`` ranges and merge the ones that overlap or touch."""
    out: list[list[int]] = []
    for s, e in sorted((int(s), int(e)) for s, e in ranges if e > s):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


# --- the plan -----------------------------------------------------------------------------


def plan_series(stored_times: np.ndarray, stored_closed: np.ndarray, *,
                interval: str | Interval, alignment: Alignment, start: int,
                end: int | None, now: int, earliest_available: int | None = None,
                empty_ranges: Sequence[tuple[int, int]] = (),
                only_gaps: bool = False) -> SeriesPlan:
    """Decide which buckets of one series to fetch.

    Parameters
    ----------
    stored_times : numpy.ndarray of int64
        Open times (epoch ms) of the stored candles, sorted and unique (candles outside
        the requested range are ignored).
    stored_closed : numpy.ndarray of bool
        Whether each stored candle is closed.
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}
        The source's bucket alignment.
    start : int
        Requested start (epoch ms, inclusive; floored to its bucket).
    end : int or None
        Requested end (epoch ms, exclusive); ``None`` means up to the server clock.
    now : int
        The server clock (epoch ms): buckets opening after it do not exist yet, the one
        holding it is open.
    earliest_available : int, optional
        The earliest open time the upstream still serves for this series.
    empty_ranges : sequence of (int, int)
        ``[start, end)`` ranges the upstream confirmed empty.
    only_gaps : bool, default False
        Fetch only the gaps between the first and last stored candle in the range, and
        the stored open candles.

    Returns
    -------
    SeriesPlan

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0, 60_000, 180_000])  # 00:00, 00:01 and 00:03 stored
    >>> p = plan_series(t, np.array([True, True, False]), interval="1m",
    ...                 alignment="hyperliquid", start=0, end=300_000, now=10**9)
    >>> [(r.start, r.end) for r in p.ranges]  # 00:02, 00:03 (open: again) and 00:04
    [(120000, 300000)]
    >>> p.stored_closed, p.stored_open, p.buckets
    (2, 1, 3)
    """
    iv = parse_interval(interval)
    t = np.asarray(stored_times, dtype=np.int64)
    closed = np.asarray(stored_closed, dtype=bool)
    lo = int(bucket_ordinal(np.array([start]), iv, alignment=alignment)[0])
    hi_now = int(bucket_ordinal(np.array([now]), iv, alignment=alignment)[0])
    hi = hi_now if end is None else min(
        int(bucket_ordinal(np.array([end - 1]), iv, alignment=alignment)[0]), hi_now)
    tail = (end is None or hi == hi_now) and not only_gaps
    lo_ms = int(ordinal_to_ms(np.array([lo]), iv, alignment=alignment)[0])
    hi_ms = int(ordinal_to_ms(np.array([max(hi, lo - 1) + 1]), iv, alignment=alignment)[0])

    def plan(ranges: tuple[FetchRange, ...] = (), **counts: int) -> SeriesPlan:
        return SeriesPlan(
            interval=iv.name, alignment=alignment, lo=lo_ms, hi=hi_ms, now=int(now),
            ranges=ranges, buckets=sum(r.buckets for r in ranges),
            requested=max(hi - lo + 1, 0), stored_closed=counts.get("stored_closed", 0),
            stored_open=counts.get("stored_open", 0),
            unavailable=counts.get("unavailable", 0),
            confirmed_empty=counts.get("confirmed_empty", 0),
            earliest_available=earliest_available)

    if hi < lo:
        return plan()
    ords = bucket_ordinal(t, iv, alignment=alignment)
    inside = (ords >= lo) & (ords <= hi)
    ords, closed = ords[inside], closed[inside]
    closed_ords = np.unique(ords[closed])
    counts = {"stored_closed": len(closed_ords), "stored_open": int((~closed).sum())}
    if only_gaps:
        if len(ords) == 0:
            return plan(**counts)
        want_lo, want_hi = int(ords.min()), int(ords.max())
    else:
        want_lo, want_hi = lo, hi
    missing = _complement_points(closed_ords, want_lo, want_hi)

    if earliest_available is not None:
        first_ok = int(bucket_ordinal(np.array([earliest_available]), iv,
                                      alignment=alignment)[0])
        first_ok += int(ordinal_to_ms(np.array([first_ok]), iv, alignment=alignment)[0]
                        < earliest_available)
        before = _clip_runs(missing, want_lo, first_ok - 1)
        counts["unavailable"] = count_in_runs(before)
        missing = _clip_runs(missing, first_ok, want_hi)
    empties = _clip_runs(merge_runs(ranges_to_runs(empty_ranges, iv, alignment=alignment)),
                         want_lo, want_hi)
    remaining = subtract_runs(missing, empties)
    counts["confirmed_empty"] = count_in_runs(missing) - count_in_runs(remaining)

    ranges = []
    for (s_ms, e_ms), first, last in zip(runs_to_ranges(remaining, iv, alignment=alignment),
                                         remaining[0].tolist(), remaining[1].tolist()):
        ranges.append(FetchRange(start=s_ms, end=e_ms, buckets=last - first + 1,
                                 tail=tail and last == hi))
    return plan(tuple(ranges), **counts)
