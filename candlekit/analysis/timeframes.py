"""The multi-timeframe trend table: this interval and the next coarser ones.

The coarser candles are resampled (:func:`candlekit.resample`) from the candles used, and
only *complete, closed* coarse buckets count (every constituent present and closed), so a
coarse candle still forming at ``as_of`` never enters. Each timeframe gets the same trend
label (:data:`candlekit.analysis.series.TREND_DEFINITION`); the table is

``aligned``
    every timeframe with a known label says the same uptrend or downtrend;
``divergent``
    one says uptrend and another downtrend;
``mixed``
    anything else (a sideways timeframe among trending ones, or all sideways);
``insufficient``
    fewer than two timeframes have enough complete candles for a label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..intervals import Interval, close_ms, parse_interval, tiles
from ..resample import resample
from ..timeutil import to_ms_array
from . import indicators as ind
from .series import trend_label

__all__ = [
    "COARSER_LADDER",
    "TimeframeRow",
    "coarser_intervals",
    "table_alignment",
    "timeframe_table",
]

#: The timeframes people look at, finest first; the table uses the next ones that tile.
COARSER_LADDER = ("1m", "5m", "15m", "1h", "4h", "1d", "1w", "1M")
#: Coarser timeframes in the table, at most.
MAX_COARSER = 2
#: Complete candles a timeframe needs for a trend label (EMA50's warm-up).
MIN_TF_BARS = 50


@dataclass(frozen=True)
class TimeframeRow:
    """One row of the table."""

    interval: str
    trend: str
    bars: int
    close: float | None
    ema_20: float | None
    ema_50: float | None
    adx_14: float | None
    last_close_time: int | None


def coarser_intervals(interval: Interval, alignment: str, *, limit: int = MAX_COARSER
                      ) -> list[str]:
    """The next ``limit`` ladder intervals coarser than ``interval`` that it tiles."""
    out = []
    for name in COARSER_LADDER:
        iv = parse_interval(name)
        if iv.nominal_ms <= interval.nominal_ms:
            continue
        if tiles(interval, iv, fine_alignment=alignment, coarse_alignment=alignment):
            out.append(name)
        if len(out) == limit:
            break
    return out


def _row(name: str, t_close: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray
         ) -> TimeframeRow:
    n = len(c)
    if n == 0:
        return TimeframeRow(name, "unknown", 0, None, None, None, None, None)
    e20, e50, a = ind.ema(c, 20)[-1], ind.ema(c, 50)[-1], ind.adx(h, lo, c)[-1]
    label = trend_label(c[-1], e20, e50, a) if n >= MIN_TF_BARS else "unknown"

    def f(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    return TimeframeRow(name, label, n, float(c[-1]), f(e20), f(e50), f(a), int(t_close[-1]))


def timeframe_table(used: pd.DataFrame, state_row: TimeframeRow, *, interval: Interval,
                    alignment: str) -> list[TimeframeRow]:
    """Rows for this interval (``state_row``) and each coarser one.

    Parameters
    ----------
    used : pandas.DataFrame
        The closed candles used (canonical frame, attrs set).
    state_row : TimeframeRow
        This interval's row, from the series already computed.
    interval, alignment
        The frame's.
    """
    rows = [state_row]
    for name in coarser_intervals(interval, alignment):
        coarse = resample(used, name, alignment=alignment)
        keep = (coarse["closed"].to_numpy(bool)
                & (coarse["constituents"].to_numpy() == coarse["expected_constituents"]
                   .to_numpy()))
        coarse = coarse[keep]
        t_close = close_ms(to_ms_array(coarse.index), name, alignment=alignment)
        rows.append(_row(name, t_close, coarse["high"].to_numpy(np.float64),
                         coarse["low"].to_numpy(np.float64),
                         coarse["close"].to_numpy(np.float64)))
    return rows


def table_alignment(rows: list[TimeframeRow]) -> str:
    """``aligned``, ``mixed``, ``divergent`` or ``insufficient`` (module docstring)."""
    known = [r.trend for r in rows if r.trend != "unknown"]
    if len(known) < 2:
        return "insufficient"
    if "uptrend" in known and "downtrend" in known:
        return "divergent"
    if len(set(known)) == 1 and known[0] != "sideways":
        return "aligned"
    return "mixed"
