"""Work units: one stored series' candles in one period file.

A :class:`Unit` names a series (source, symbol, interval, alignment), the period file
(its ordinal and ``[period_start, period_end)`` in epoch ms) and the ``[lo, hi)`` range of
open times the unit reads; a unit is read with :meth:`candlekit.Store.read` over that
range, which opens that one file only. Candles live in the period holding their open
time, so the units of one series partition its candles; a bucket of another interval
can straddle two units (a calendar week across a year boundary), and the functions
built on units merge what each unit found at its edges.

This is the only module that knows how the store cuts series into files (through
:mod:`candlekit.store.layout`'s period functions): a store on another filesystem keeps
the same periods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import FormatError, InvalidTimeError, SeriesNotFoundError
from ..intervals import INTERVALS, bucket_ordinal, ordinal_to_ms, parse_interval
from ..store import SeriesKey, Store
from ..store.layout import (
    period_bounds_ms,
    period_kind,
    period_ordinals,
)
from ..timeutil import TimeLike, to_ms

__all__ = ["Unit", "ceil_bucket", "names", "periods_between", "plan_units", "read_unit",
           "require_series"]


@dataclass(frozen=True)
class Unit:
    """One series' candles with open time in ``[lo, hi)``, all in one period file.

    Attributes
    ----------
    source, symbol, interval, alignment : str
        The stored series.
    period : int
        Ordinal of the period file (see :mod:`candlekit.store.layout`).
    period_start, period_end : int
        The file's time span, epoch ms, end exclusive.
    lo, hi : int
        Open times this unit reads, epoch ms, ``hi`` exclusive; inside the period.
    """

    source: str
    symbol: str
    interval: str
    alignment: str
    period: int
    period_start: int
    period_end: int
    lo: int
    hi: int

    @property
    def key(self) -> SeriesKey:
        """The series this unit belongs to."""
        return SeriesKey(self.source, self.symbol, self.interval)

    def label(self) -> str:
        """A short name for progress bars and task keys."""
        day = np.datetime64(self.period_start, "ms").astype("datetime64[D]")
        return f"{self.symbol} {self.interval} {self.source} {day}"


def names(value: str | Iterable[str] | None, what: str) -> list[str] | None:
    """A list of names from one name, several, or None (no filter)."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    bad = [v for v in values if not isinstance(v, str) or not v]
    if bad:
        raise FormatError(f"{what} must be a name or a list of names such as ['BTC', 'ETH'], "
                          f"got {bad[0]!r}.", value)
    return values


def ceil_bucket(ms: int, interval: str, alignment: str) -> int:
    """Open time of the first bucket opening at or after ``ms``."""
    iv = parse_interval(interval)
    o = int(bucket_ordinal(np.array([ms], np.int64), iv, alignment=alignment)[0])
    start = int(ordinal_to_ms(np.array([o], np.int64), iv, alignment=alignment)[0])
    if start < ms:
        start = int(ordinal_to_ms(np.array([o + 1], np.int64), iv, alignment=alignment)[0])
    return start


def periods_between(interval: str, start_ms: int, end_ms: int) -> list[tuple[int, int, int]]:
    """``(ordinal, period_start, period_end)`` of every period file overlapping
    ``[start_ms, end_ms)`` for ``interval``."""
    if end_ms <= start_ms:
        return []
    kind = period_kind(interval)
    first, last = (int(x) for x in period_ordinals(np.array([start_ms, end_ms - 1]), kind))
    return [(o, *period_bounds_ms(o, kind)) for o in range(first, last + 1)]


def _has_file(store: Store, key: SeriesKey, ordinal: int) -> bool:
    """Whether the period file exists (only asked when the footers say some are absent)."""
    return store.period_file(key.symbol, key.interval, ordinal, source=key.source) is not None


def plan_units(store: Store, *, intervals: str | Iterable[str] | None = None,
               symbols: str | Iterable[str] | None = None,
               sources: str | Iterable[str] | None = None,
               start: TimeLike | None = None, end: TimeLike | None = None) -> list[Unit]:
    """One unit per stored period file of the selected series, in series and time order.

    Parameters
    ----------
    store : Store
    intervals, symbols, sources : str or list of str, optional
        Only these series (default: every stored one).
    start, end : time, optional
        Only open times in ``[start, end)``; a unit's ``[lo, hi)`` is its period clipped
        to that range.

    Returns
    -------
    list of Unit
        Sorted by source, symbol, interval (finest first), period. Built from parquet
        footers (:meth:`Store.coverage`) without reading any candle.

    Raises
    ------
    InvalidIntervalError
        For an unknown interval.
    InvalidTimeError
        For an unreadable bound, or ``end`` not after ``start``.
    """
    ivs = names(intervals, "intervals")
    ivs = None if ivs is None else [parse_interval(i).name for i in ivs]
    syms = names(symbols, "symbols")
    srcs = names(sources, "sources")
    s = to_ms(start) if start is not None else None
    e = to_ms(end) if end is not None else None
    if s is not None and e is not None and e <= s:
        raise InvalidTimeError(f"end ({pd.Timestamp(e, unit='ms', tz='UTC')}) must be after "
                               f"start ({pd.Timestamp(s, unit='ms', tz='UTC')}): swap them or "
                               "widen the range.", (start, end))
    cov = store.coverage(interval=ivs[0] if ivs and len(ivs) == 1 else None,
                         source=srcs[0] if srcs and len(srcs) == 1 else None)
    units: list[Unit] = []
    rows = sorted(cov.itertuples(index=False),
                  key=lambda r: (r.source, r.symbol, INTERVALS.index(r.interval)))
    for row in rows:
        if ((ivs is not None and row.interval not in ivs)
                or (syms is not None and row.symbol not in syms)
                or (srcs is not None and row.source not in srcs)):
            continue
        first, last = to_ms(row.earliest), to_ms(row.latest) + 1
        lo_all = first if s is None else max(first, s)
        hi_all = last if e is None else min(last, e)
        periods = periods_between(row.interval, lo_all, hi_all)
        key = SeriesKey(row.source, row.symbol, row.interval)
        all_there = int(row.files) >= len(periods_between(row.interval, first, last))
        for o, p_lo, p_hi in periods:
            if not all_there and not _has_file(store, key, o):
                continue
            units.append(Unit(row.source, row.symbol, row.interval, row.alignment or "calendar",
                              o, p_lo, p_hi, max(p_lo, lo_all), min(p_hi, hi_all)))
    return units


def read_unit(store: Store, unit: Unit) -> pd.DataFrame:
    """The unit's candles: :meth:`Store.read` of its ``[lo, hi)`` (one file)."""
    return store.read(unit.symbol, unit.interval, unit.lo, unit.hi, source=unit.source)


def require_series(units: list[Unit], store: Store, what: str) -> None:
    """Raise :class:`SeriesNotFoundError` when a selection matched no stored file."""
    if units:
        return
    held = store.series()
    listing = ", ".join(f"{k.symbol} {k.interval} ({k.source})" for k in held[:20])
    more = f" and {len(held) - 20} more" if len(held) > 20 else ""
    have = f"It holds: {listing}{more}." if held else "It is empty."
    raise SeriesNotFoundError(
        f"No stored series match {what} in the store at {store.root}. {have} Change the "
        "selection, or backfill the series first.", what)
