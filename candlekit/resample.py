"""Resampling candles to a coarser interval whose buckets they tile.

:func:`resample` turns a canonical frame of one interval into the canonical frame of a
coarser (or equal) interval: first open, max high, min low, last close, summed volume
and trades, and quote volume summed unless a constituent's is unknown (then unknown, as
Hydromancer does). Two extra int64 columns tell complete buckets from partial ones:
``constituents`` (source candles in the bucket) and ``expected_constituents`` (how many a
complete bucket has), so ``df[df.constituents == df.expected_constituents]`` keeps only
complete buckets.

How it stays fast on tens of millions of rows: bucket boundaries are found by galloping
(O(1) per bucket on gap-free data) rather than by labelling every row; open and close are
read only at bucket edges; everything else is one fused, parallel numba pass over the
buckets that also checks the index is strictly increasing and aligned and the candles
keep the schema (every row's high, low and volume: no NaN or infinite price, no high
below its low, no price <= 0, no negative or non-finite volume; open and close where
they are read), so a wrong input raises instead of giving a wrong answer. Null masks and the closed flags are only read
row by row when they hold something (a null, an open candle).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .errors import CandleValidationError, ResampleError
from .frame import frame_alignment, frame_interval, masked_parts
from .intervals import (
    ALIGNMENTS,
    INTERVALS,
    Alignment,
    Interval,
    bucket_ordinal,
    check_alignment,
    is_aligned,
    ordinal_to_ms,
    parse_interval,
    tiles,
)
from .schema import check_numeric_columns, disorder_error, invalid_rows_error
from .timeutil import to_index, to_ms_array

__all__ = ["resample"]

_REQUIRED = ("open", "high", "low", "close", "volume")
# A bucket larger than this many rows is cut into several parallel tasks.
_MIN_TASK_ROWS = 1 << 16


def resample(df: pd.DataFrame, interval: str | Interval, *,
             alignment: Alignment | None = None) -> pd.DataFrame:
    """Aggregate candles into a coarser interval.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame; ``df.attrs["interval"]`` names its interval and
        ``df.attrs["alignment"]`` its alignment (``"calendar"`` when unset). The index
        must be strictly increasing and aligned, and the candles must keep the schema
        (both checked while aggregating, at no extra cost: see the module docstring).
    interval : str or Interval
        The target interval. Its buckets must be whole numbers of source buckets
        (1s→1m, 1m→1h, 1h→3d, 1d→1w, 1d→1M, ...).
    alignment : {"calendar", "hyperliquid"}, optional
        Alignment of the target buckets (matters for 3d, 1w and 1M). By default it
        follows the frame: ``df.attrs["alignment"]``, so Hyperliquid-aligned candles
        give Thursday weeks and 30-day months, calendar-aligned ones Monday weeks and
        calendar months. Pass it to change alignment (1d → 1w works under either).

    Returns
    -------
    pandas.DataFrame
        The canonical frame of the target interval, one row per bucket holding at least
        one source candle, plus int64 columns ``constituents`` and
        ``expected_constituents``. A bucket is ``closed`` only when every constituent is
        closed and none is missing. ``trades`` and ``quote_volume`` are null when any
        constituent's is. attrs: the source's, with the target interval and alignment.

    Raises
    ------
    ResampleError
        When the source buckets do not tile the target buckets (a finer target, 1w→1M,
        3d→1w under calendar weeks, ...); the message lists targets that would work.
    CandleValidationError
        When the frame is not a candle frame (missing columns, text columns, unknown
        interval), its index is unsorted, duplicated or not aligned to its interval, or
        a candle breaks the schema (NaN or infinite price, high below low, price <= 0,
        negative or infinite volume); ``.failures`` lists the failing rows.
    InvalidIntervalError, InvalidAlignmentError
        For an unknown interval or alignment.

    Examples
    --------
    >>> hourly = resample(minutes, "1h")  # doctest: +SKIP
    >>> complete = hourly[hourly.constituents == hourly.expected_constituents]  # doctest: +SKIP
    """
    fine = frame_interval(df)
    fine_al = frame_alignment(df)
    coarse = parse_interval(interval)
    coarse_al = check_alignment(alignment) if alignment is not None else fine_al
    _check_tiling(fine, fine_al, coarse, coarse_al)
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise CandleValidationError(
            f"Cannot resample: missing candle columns {missing}. Build the frame with "
            "candlekit.make_frame or candlekit.conform.")
    check_numeric_columns(df, doing="resample")

    t = to_ms_array(df.index)
    f_step = fine.step_ms(fine_al) or 0
    f_off = fine.offset_ms(fine_al)
    if f_step == 0 and len(t):  # calendar months: check alignment up front (few rows)
        _check_month_alignment(t, fine, fine_al)

    if len(t) == 0:
        starts = ends = ords = np.empty(0, dtype=np.int64)
        expected = np.empty(0, dtype=np.int64)
    elif coarse.step_ms(coarse_al) is None:
        starts, ends, ords, expected = _month_buckets(t, coarse, f_step)
    else:
        c_step, c_off = coarse.step_ms(coarse_al), coarse.offset_ms(coarse_al)
        starts, ends, ords = _gallop_buckets(t, c_step, c_off, max(f_step, 1))
        expected = np.full(len(starts), c_step // f_step, dtype=np.int64)

    cols = _aggregate(df, t, starts, ends, f_step, f_off)
    counts = ends - starts
    closed = cols.pop("all_closed") & (counts == expected)
    open_times = ordinal_to_ms(ords, coarse, alignment=coarse_al)
    return _build(df, open_times, cols, closed, counts, expected, coarse, coarse_al)


# --- validation --------------------------------------------------------------------------


def _check_tiling(fine: Interval, fine_al: str, coarse: Interval, coarse_al: str) -> None:
    if tiles(fine, coarse, fine_alignment=fine_al, coarse_alignment=coarse_al):
        return
    workable = [
        f"{name} ({al})" if parse_interval(name).depends_on_alignment() else name
        for name in INTERVALS for al in ALIGNMENTS
        if (al == coarse_al or parse_interval(name).depends_on_alignment())
        and tiles(fine, name, fine_alignment=fine_al, coarse_alignment=al)
    ]
    workable = list(dict.fromkeys(workable))
    if coarse.nominal_ms < fine.nominal_ms:
        why = (f"{coarse.name} is finer than the source interval {fine.name} and candles "
               "cannot be split")
    else:
        why = (f"{coarse.name} buckets ({coarse_al}) are not whole numbers of "
               f"{fine.name} buckets ({fine_al}), so some {fine.name} candles would "
               f"straddle two {coarse.name} buckets")
    finer = [name for name in INTERVALS if name != coarse.name
             and tiles(name, coarse, fine_alignment=coarse_al, coarse_alignment=coarse_al)]
    how = f"resample {finer[-1]} (or finer) candles, or " if finer else ""
    raise ResampleError(
        f"Cannot resample {fine.name} ({fine_al}) candles to {coarse.name} ({coarse_al}): "
        f"{why}. Targets that work from {fine.name} ({fine_al}): {', '.join(workable)}. "
        f"To get {coarse.name} ({coarse_al}) candles, {how}fetch them directly.")


def _check_month_alignment(t: np.ndarray, fine: Interval, fine_al: str) -> None:
    bad = np.flatnonzero(~is_aligned(t, fine, alignment=fine_al))
    if len(bad):
        raise disorder_error(t, int(bad[0]), fine, fine_al, doing="resample", misaligned=True)


# --- bucket boundaries -------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _gallop_kernel(t, c_step, c_off, f_step):  # pragma: no cover - compiled
    """Start row and ordinal of every non-empty fixed-length bucket.

    Exact when ``t`` is strictly increasing and aligned to ``f_step`` (the aggregation
    pass verifies that); on any input it terminates and partitions ``[0, n)``.
    """
    n = t.shape[0]
    starts = np.empty(n, np.int64)
    ords = np.empty(n, np.int64)
    per_bucket = c_step // f_step
    nb = 0
    i = 0
    k = 0
    edge = np.int64(-(2 ** 62))  # end of the previous bucket; none yet
    while i < n:
        ti = t[i]
        # divisions are slow: on gap-free data the next bucket starts at the old edge
        if edge <= ti < edge + c_step:
            k += 1
        else:
            k = (ti - c_off) // c_step
        start = k * c_step + c_off
        edge = start + c_step
        starts[nb] = i
        ords[nb] = k
        nb += 1
        # Aligned, strictly increasing rows advance at least f_step each, so the
        # bucket ends at or before row `hi`; on gap-free data exactly there.
        hi = i + (per_bucket if ti == start else (edge - ti) // f_step)
        if hi <= i:
            hi = i + 1
        hi = min(hi, n)
        if t[hi - 1] < edge:
            i = hi
            continue
        lo = i + 1
        while lo < hi:  # first row in [i + 1, hi) at or after the edge
            mid = (lo + hi) >> 1
            if t[mid] >= edge:
                hi = mid
            else:
                lo = mid + 1
        i = lo
    return starts[:nb], ords[:nb]


def _gallop_buckets(t: np.ndarray, c_step: int, c_off: int, f_step: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    starts, ords = _gallop_kernel(t, np.int64(c_step), np.int64(c_off), np.int64(f_step))
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    if len(ends):
        ends[-1] = len(t)
    return starts, ends, ords


def _month_buckets(t: np.ndarray, coarse: Interval, f_step: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-month buckets: few edges, found by binary search."""
    first = int(bucket_ordinal(t[:1], coarse)[0])
    last = int(bucket_ordinal(t[-1:], coarse)[0])
    months = np.arange(first, max(last, first) + 2, dtype=np.int64)
    edges = ordinal_to_ms(months, coarse)
    pos = np.searchsorted(t, edges)
    if pos[0] != 0 or pos[-1] != len(t) or np.any(np.diff(pos) < 0):
        pos = np.maximum.accumulate(pos)  # unsorted input: keep a partition for the check
        pos[0], pos[-1] = 0, len(t)
    keep = pos[1:] > pos[:-1]
    starts, ends = pos[:-1][keep], pos[1:][keep]
    expected = (np.diff(edges)[keep] // f_step if f_step else np.ones(int(keep.sum()),
                                                                       dtype=np.int64))
    return starts, ends, months[:-1][keep], expected.astype(np.int64)


def _split_tasks(starts: np.ndarray, ends: np.ndarray, n: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Cut buckets much larger than n / threads into pieces so both cores stay busy."""
    chunk = max(n // (4 * numba.get_num_threads()), _MIN_TASK_ROWS)
    sizes = ends - starts
    if len(sizes) == 0 or sizes.max() <= chunk:
        return starts, ends, None
    pieces = -(-sizes // chunk)
    bucket_of = np.repeat(np.arange(len(starts)), pieces)
    first_task = np.concatenate(([0], np.cumsum(pieces)[:-1]))
    k = np.arange(len(bucket_of)) - first_task[bucket_of]
    t_start = starts[bucket_of] + k * chunk
    t_end = np.minimum(t_start + chunk, ends[bucket_of])
    return t_start, t_end, first_task


# --- aggregation -------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _first_bad_row(t, s, e, f_step, f_off):  # pragma: no cover - compiled
    """First row in ``[s, e)`` that is not after its predecessor or not aligned, else -1."""
    if s == 0 and e > 0 and f_step > 0 and (t[0] - f_off) % f_step != 0:
        return 0
    for i in range(max(s, 1), e):
        d = t[i] - t[i - 1]
        if d <= 0 or (d != f_step and f_step > 0 and d % f_step != 0):
            return i
    return -1


@numba.njit(cache=True, nogil=True, parallel=True)
def _agg_kernel(t, h, l, v, q, q_null, nt, nt_null, closed, ts, te, f_step, f_off,
                use_q_null, use_nt_null, use_closed):  # pragma: no cover - compiled
    """Aggregate each task ``[ts[k], te[k])`` in one fused pass, checking the index and
    the candles.

    Every row is checked through reductions that cost no extra memory traffic: the sum
    of ``high - low`` (not finite when a high or low is NaN or infinite), its minimum
    (negative when a high is below its low), the minimum low (``<= 0``) and volume
    (negative) and the volume's sum (NaN or infinite). ``ok[k]`` is False for a task
    holding a broken row; open and close are checked at the bucket edges, where they
    are read. Quote volume and
    trades are summed regardless of their masks (a masked value only matters when the
    bucket's result is null anyway); masks and closed flags get their own pass only
    when they hold something.
    """
    m = ts.shape[0]
    hi = np.empty(m, np.float64)
    lo = np.empty(m, np.float64)
    vol = np.empty(m, np.float64)
    qs = np.empty(m, np.float64)
    qn = np.zeros(m, np.bool_)
    ns = np.empty(m, np.int64)
    nn = np.zeros(m, np.bool_)
    cl = np.ones(m, np.bool_)
    bad = np.full(m, -1, np.int64)
    ok = np.ones(m, np.bool_)
    for k in numba.prange(m):
        s = ts[k]
        e = te[k]
        mx = h[s]
        mn = l[s]
        sv = 0.0
        sq = 0.0
        sn = 0
        spread = 0.0  # sum of high - low: not finite when a high or low is NaN or inf
        narrow = np.inf  # least high - low: negative when a high is below its low
        least_v = np.inf  # least volume
        odd = 0  # steps that are not exactly one fine bucket: gaps, or broken input
        prev = t[s - 1] if s > 0 else t[s] - f_step
        for i in range(s, e):
            ti = t[i]
            odd += (ti - prev) != f_step
            prev = ti
            hv = h[i]
            lv = l[i]
            vi = v[i]
            d = hv - lv
            spread += d
            narrow = min(narrow, d)
            least_v = min(least_v, vi)
            mx = max(mx, hv)
            mn = min(mn, lv)
            sv += vi
            sq += q[i]
            sn += nt[i]
        hi[k] = mx
        lo[k] = mn
        vol[k] = sv
        qs[k] = sq
        ns[k] = sn
        ok[k] = (np.isfinite(spread) and narrow >= 0.0 and mn > 0.0 and least_v >= 0.0
                 and np.isfinite(sv))
        if odd > 0:
            bad[k] = _first_bad_row(t, s, e, f_step, f_off)
        elif s == 0:
            bad[k] = _first_bad_row(t, 0, 1, f_step, f_off)
        if use_q_null:
            for i in range(s, e):
                if q_null[i]:
                    qn[k] = True
                    break
        if use_nt_null:
            for i in range(s, e):
                if nt_null[i]:
                    nn[k] = True
                    break
        if use_closed:
            for i in range(s, e):
                if not closed[i]:
                    cl[k] = False
                    break
    return hi, lo, vol, qs, qn, ns, nn, cl, bad, ok


def _nullable_parts(df: pd.DataFrame, name: str, dtype: type, n: int
                    ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Values, null mask and whether any is null; an absent column is all null."""
    if name not in df.columns:
        return np.zeros(n, dtype=dtype), np.ones(n, dtype=bool), True
    values, mask = masked_parts(df[name])
    values = np.asarray(values)
    if values.dtype != dtype:
        values = np.where(mask, 0, values).astype(dtype)
    mask = np.asarray(mask, dtype=bool)
    return values, mask, bool(mask.any())


def _aggregate(df: pd.DataFrame, t: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               f_step: int, f_off: int) -> dict[str, np.ndarray]:
    n = len(t)
    o, h, l, c, v = (df[k].to_numpy(dtype=np.float64) for k in _REQUIRED)
    q, q_null, any_q_null = _nullable_parts(df, "quote_volume", np.float64, n)
    nt, nt_null, any_nt_null = _nullable_parts(df, "trades", np.int64, n)
    closed = (df["closed"].to_numpy(dtype=bool) if "closed" in df.columns
              else np.ones(n, dtype=bool))
    any_open = not bool(closed.all())
    ts, te, first_task = _split_tasks(starts, ends, n)
    hi, lo, vol, qs, qn, ns, nn, cl, bad, ok = _agg_kernel(
        t, h, l, v, q, q_null, nt, nt_null, closed, ts, te, np.int64(f_step),
        np.int64(f_off), any_q_null, any_nt_null, any_open)
    if len(bad) and bad.max() >= 0:
        raise disorder_error(t, int(bad[bad >= 0].min()), frame_interval(df),
                             frame_alignment(df), doing="resample")
    if not ok.all():
        first = int(np.flatnonzero(~ok)[0])
        raise invalid_rows_error(df, doing="resample", lo=int(ts[first]), hi=int(te[first]))
    if first_task is not None:  # merge the pieces of split buckets
        hi = np.maximum.reduceat(hi, first_task)
        lo = np.minimum.reduceat(lo, first_task)
        vol = np.add.reduceat(vol, first_task)
        qs = np.add.reduceat(qs, first_task)
        ns = np.add.reduceat(ns, first_task)
        qn = np.logical_or.reduceat(qn, first_task)
        nn = np.logical_or.reduceat(nn, first_task)
        cl = np.logical_and.reduceat(cl, first_task)
    first_open, last_close = o[starts], c[ends - 1]
    with np.errstate(invalid="ignore"):
        edges_ok = ((first_open >= lo) & (first_open <= hi) & (last_close >= lo)
                    & (last_close <= hi))
    if not edges_ok.all():  # an open or close outside its candle's range, or NaN
        k = int(np.flatnonzero(~edges_ok)[0])
        raise invalid_rows_error(df, doing="resample", lo=int(starts[k]), hi=int(ends[k]))
    return {
        "open": first_open, "high": hi, "low": lo, "close": last_close, "volume": vol,
        "quote_volume": pd.arrays.FloatingArray(qs, qn),
        "trades": pd.arrays.IntegerArray(ns, nn),
        "all_closed": cl,
    }


def _build(df: pd.DataFrame, open_times: np.ndarray, cols: dict, closed: np.ndarray,
           counts: np.ndarray, expected: np.ndarray, coarse: Interval, coarse_al: str
           ) -> pd.DataFrame:
    out = pd.DataFrame(
        {**cols, "closed": closed, "constituents": counts.astype(np.int64),
         "expected_constituents": expected.astype(np.int64)},
        index=to_index(open_times), copy=False)
    out.attrs = {**df.attrs, "interval": coarse.name, "alignment": coarse_al}
    out.attrs.setdefault("symbol", None)
    out.attrs.setdefault("source", None)
    return out
