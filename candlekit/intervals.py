"""Candle intervals and their bucket arithmetic, under both alignments.

Fifteen intervals: ``1s 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M``.

Two alignments decide where the long buckets start:

``"calendar"`` (the default, Hydromancer's)
    1w starts Monday 00:00 UTC, 1M is the calendar month, 3d is counted from the epoch.
``"hyperliquid"`` (the exchange's native candles)
    3d, 1w and 1M are all counted from the Unix epoch: 1w starts Thursday 00:00 UTC
    (1970-01-01 was a Thursday) and 1M is a fixed 30-day bucket.

Intervals up to 1d start at multiples of their length since the epoch under both.

Every bucket is identified by an integer *ordinal* (its number since the epoch), which
makes floors, next buckets, ranges and counts the same code for fixed and calendar
buckets. Functions accept a scalar time (returning a :class:`pandas.Timestamp`) or an
array of times (returning a :class:`pandas.DatetimeIndex`), always UTC, millisecond unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import InvalidAlignmentError, InvalidIntervalError, InvalidTimeError
from .timeutil import TimeLike, to_index, to_ms, to_ms_array

__all__ = [
    "ALIGNMENTS",
    "INTERVALS",
    "Alignment",
    "Interval",
    "bucket_ordinal",
    "bucket_range",
    "check_alignment",
    "close_time",
    "count_buckets",
    "floor_time",
    "next_bucket",
    "ordinal_bounds",
    "ordinal_to_ms",
    "parse_interval",
    "tiles",
]

Alignment = Literal["calendar", "hyperliquid"]
ALIGNMENTS: tuple[str, ...] = ("calendar", "hyperliquid")

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

_NOMINAL_MS: dict[str, int] = {
    "1s": SECOND,
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": HOUR,
    "2h": 2 * HOUR,
    "4h": 4 * HOUR,
    "8h": 8 * HOUR,
    "12h": 12 * HOUR,
    "1d": DAY,
    "3d": 3 * DAY,
    "1w": 7 * DAY,
    "1M": 30 * DAY,
}
INTERVALS: tuple[str, ...] = tuple(_NOMINAL_MS)

# Offsets of bucket starts from the epoch, where they are not zero.
_CALENDAR_WEEK_OFFSET = 4 * DAY  # 1970-01-05 was the first Monday


@dataclass(frozen=True)
class Interval:
    """One candle interval.

    Attributes
    ----------
    name : str
        The interval string, e.g. ``"1h"``.
    nominal_ms : int
        Its usual length in milliseconds (a calendar month counts as 30 days here; use
        the bucket functions for exact boundaries).
    """

    name: str
    nominal_ms: int

    def is_fixed(self, alignment: Alignment = "calendar") -> bool:
        """Whether every bucket has the same length under ``alignment``."""
        return not (self.name == "1M" and check_alignment(alignment) == "calendar")

    def step_ms(self, alignment: Alignment = "calendar") -> int | None:
        """Bucket length in milliseconds, or ``None`` for calendar months."""
        return self.nominal_ms if self.is_fixed(alignment) else None

    def offset_ms(self, alignment: Alignment = "calendar") -> int:
        """Where the buckets start relative to the epoch (0 except calendar weeks)."""
        if self.name == "1w" and check_alignment(alignment) == "calendar":
            return _CALENDAR_WEEK_OFFSET
        return 0

    def depends_on_alignment(self) -> bool:
        """Whether the two alignments give different buckets (1w and 1M)."""
        return self.name in ("1w", "1M")

    def __str__(self) -> str:
        return self.name


_BY_NAME = {name: Interval(name, ms) for name, ms in _NOMINAL_MS.items()}


def parse_interval(value: str | Interval) -> Interval:
    """Return the :class:`Interval` named by ``value``.

    Parameters
    ----------
    value : str or Interval
        One of ``1s 1m 3m 5m 15m 30m 1h 2h 4h 8h 12h 1d 3d 1w 1M`` (case matters:
        ``1m`` is a minute, ``1M`` a month).

    Raises
    ------
    InvalidIntervalError
        For anything else; the message starts with ``Invalid interval``.
    """
    if isinstance(value, Interval):
        return value
    try:
        return _BY_NAME[value]
    except (KeyError, TypeError):
        raise InvalidIntervalError(value, INTERVALS) from None


def check_alignment(alignment: str) -> str:
    """Return ``alignment`` if it is ``"calendar"`` or ``"hyperliquid"``, else raise."""
    if alignment not in ALIGNMENTS:
        raise InvalidAlignmentError(alignment, ALIGNMENTS)
    return alignment


# --- ordinals ------------------------------------------------------------------------


def bucket_ordinal(ms: np.ndarray, interval: str | Interval, *,
                   alignment: Alignment = "calendar") -> np.ndarray:
    """Number of the bucket holding each time (epoch ms), counted from the epoch.

    Parameters
    ----------
    ms : numpy.ndarray of int64
        Times in epoch milliseconds.
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}

    Returns
    -------
    numpy.ndarray of int64
    """
    iv = parse_interval(interval)
    ms = np.asarray(ms, dtype=np.int64)
    step = iv.step_ms(alignment)
    if step is None:  # calendar month: numpy floors to the month, leap years included
        return ms.view("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
    return np.floor_divide(ms - iv.offset_ms(alignment), step)


def ordinal_to_ms(ordinal: np.ndarray, interval: str | Interval, *,
                  alignment: Alignment = "calendar") -> np.ndarray:
    """Open time (epoch ms) of each bucket number; the inverse of :func:`bucket_ordinal`."""
    iv = parse_interval(interval)
    ordinal = np.asarray(ordinal, dtype=np.int64)
    step = iv.step_ms(alignment)
    if step is None:
        return ordinal.view("datetime64[M]").astype("datetime64[ms]").astype(np.int64)
    return ordinal * step + iv.offset_ms(alignment)


def is_aligned(ms: np.ndarray, interval: str | Interval, *,
               alignment: Alignment = "calendar") -> np.ndarray:
    """Whether each time (epoch ms) is the open time of its bucket.

    Returns
    -------
    numpy.ndarray of bool
    """
    ms = np.asarray(ms, dtype=np.int64)
    return ordinal_to_ms(bucket_ordinal(ms, interval, alignment=alignment), interval,
                         alignment=alignment) == ms


def close_ms(ms: np.ndarray, interval: str | Interval, *,
             alignment: Alignment = "calendar") -> np.ndarray:
    """Close time ``T`` (last millisecond, epoch ms) of the bucket holding each time."""
    return ordinal_to_ms(bucket_ordinal(ms, interval, alignment=alignment) + 1, interval,
                         alignment=alignment) - 1


def _map(t: Any, fn) -> pd.Timestamp | pd.DatetimeIndex:
    if _is_scalar_time(t):
        ms = int(fn(np.array([to_ms(t)], dtype=np.int64))[0])
        return pd.Timestamp(ms, unit="ms", tz="UTC").as_unit("ms")
    return to_index(fn(to_ms_array(t)), name=getattr(t, "name", None))


def _is_scalar_time(t: Any) -> bool:
    return np.ndim(t) == 0 or isinstance(t, str)


def _edge(t: Any, interval: str | Interval, alignment: str, *, shift: int, minus_ms: int = 0
          ) -> pd.Timestamp | pd.DatetimeIndex:
    """Open time of the bucket ``shift`` buckets after the one holding ``t``, less ``minus_ms``."""
    iv = parse_interval(interval)
    check_alignment(alignment)
    return _map(t, lambda ms: ordinal_to_ms(bucket_ordinal(ms, iv, alignment=alignment) + shift,
                                            iv, alignment=alignment) - minus_ms)


def floor_time(t: TimeLike, interval: str | Interval, *,
               alignment: Alignment = "calendar") -> pd.Timestamp | pd.DatetimeIndex:
    """Open time of the bucket that holds ``t``.

    Parameters
    ----------
    t : time or array of times
        Epoch ms, ISO string, datetime, Timestamp, or an index/array of them.
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    pandas.Timestamp or pandas.DatetimeIndex
        UTC, millisecond unit.

    Examples
    --------
    >>> floor_time("2025-07-24T15:00Z", "1w")  # a Thursday
    Timestamp('2025-07-21 00:00:00+0000', tz='UTC')
    >>> floor_time("2025-07-24T15:00Z", "1w", alignment="hyperliquid")
    Timestamp('2025-07-24 00:00:00+0000', tz='UTC')
    """
    return _edge(t, interval, alignment, shift=0)


def next_bucket(t: TimeLike, interval: str | Interval, *,
                alignment: Alignment = "calendar") -> pd.Timestamp | pd.DatetimeIndex:
    """Open time of the bucket after the one that holds ``t``.

    Parameters
    ----------
    t : time or array of times
        Epoch ms, ISO string, datetime, Timestamp, or an index/array of them.
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    pandas.Timestamp or pandas.DatetimeIndex
        UTC, millisecond unit.
    """
    return _edge(t, interval, alignment, shift=1)


def close_time(t: TimeLike, interval: str | Interval, *,
               alignment: Alignment = "calendar") -> pd.Timestamp | pd.DatetimeIndex:
    """Close time ``T`` of the bucket that holds ``t``: its last millisecond.

    This is the ``T`` field of Hyperliquid's candles: the next bucket's open time minus 1 ms.

    Parameters
    ----------
    t : time or array of times
        Epoch ms, ISO string, datetime, Timestamp, or an index/array of them.
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    pandas.Timestamp or pandas.DatetimeIndex
        UTC, millisecond unit.
    """
    return _edge(t, interval, alignment, shift=1, minus_ms=1)


def ordinal_bounds(start: TimeLike, end: TimeLike, interval: str | Interval, *,
                   alignment: Alignment = "calendar") -> tuple[int, int]:
    """Ordinals of the first and last bucket overlapping ``[start, end)``.

    Raises
    ------
    InvalidTimeError
        If ``end`` is not after ``start``.
    """
    iv = parse_interval(interval)
    s, e = to_ms(start), to_ms(end)
    if e <= s:
        raise InvalidTimeError(
            f"end ({pd.Timestamp(e, unit='ms', tz='UTC')}) must be after start "
            f"({pd.Timestamp(s, unit='ms', tz='UTC')}): swap them or widen the range.",
            (start, end))
    first = int(bucket_ordinal(np.array([s]), iv, alignment=alignment)[0])
    last = int(bucket_ordinal(np.array([e - 1]), iv, alignment=alignment)[0])
    return first, last


def bucket_range(start: TimeLike, end: TimeLike, interval: str | Interval, *,
                 alignment: Alignment = "calendar") -> pd.DatetimeIndex:
    """Open times of every bucket that overlaps ``[start, end)``.

    The first is the bucket holding ``start`` (``start`` is floored); the last is the one
    holding ``end - 1 ms`` (``end`` is exclusive, as Hydromancer's ``endTime``).

    Parameters
    ----------
    start, end : time
        Epoch ms, ISO string, datetime or Timestamp (naive means UTC).
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    pandas.DatetimeIndex
        ``datetime64[ms, UTC]`` open times.

    Raises
    ------
    InvalidTimeError
        If ``end`` is not after ``start``.
    """
    iv = parse_interval(interval)
    check_alignment(alignment)
    first, last = ordinal_bounds(start, end, iv, alignment=alignment)
    ords = np.arange(first, last + 1, dtype=np.int64)
    return to_index(ordinal_to_ms(ords, iv, alignment=alignment))


def count_buckets(start: TimeLike, end: TimeLike, interval: str | Interval, *,
                  alignment: Alignment = "calendar") -> int:
    """Number of buckets :func:`bucket_range` would return, without building them.

    Parameters
    ----------
    start, end : time
        Epoch ms, ISO string, datetime or Timestamp (naive means UTC).
    interval : str or Interval
    alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    int
    """
    iv = parse_interval(interval)
    check_alignment(alignment)
    first, last = ordinal_bounds(start, end, iv, alignment=alignment)
    return last - first + 1


def tiles(fine: str | Interval, coarse: str | Interval, *,
          fine_alignment: Alignment = "calendar",
          coarse_alignment: Alignment = "calendar") -> bool:
    """Whether every ``coarse`` bucket is a whole number of ``fine`` buckets.

    True exactly when every coarse bucket boundary is also a fine bucket boundary, e.g.
    1m→1h, 1h→3d, 1d→1w, 1d→1M; false for 1w→1M, 3d→1w or a finer target.

    Parameters
    ----------
    fine, coarse : str or Interval
    fine_alignment, coarse_alignment : {"calendar", "hyperliquid"}, default "calendar"

    Returns
    -------
    bool
    """
    f, c = parse_interval(fine), parse_interval(coarse)
    check_alignment(fine_alignment)
    check_alignment(coarse_alignment)
    f_step, c_step = f.step_ms(fine_alignment), c.step_ms(coarse_alignment)
    if f_step is None:  # fine is a calendar month: only months tile months
        return c_step is None
    f_off = f.offset_ms(fine_alignment)
    if c_step is None:  # calendar month: every month starts at 00:00 UTC on the 1st
        return DAY % f_step == 0 and f_off % f_step == 0
    return c_step % f_step == 0 and (c.offset_ms(coarse_alignment) - f_off) % f_step == 0
