"""Every causal series the analyst reads, computed once over the candles used.

:func:`compute` runs each indicator over the whole frame in one pass; the value at index
``i`` depends only on candles ``0..i`` (see :mod:`candlekit.analysis.indicators`), so an
analysis at ``as_of`` reads index ``i`` and the track record reads every index from the
same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..intervals import Interval, bucket_ordinal, close_ms
from ..timeutil import to_ms_array
from . import call as _call
from . import indicators as ind
from .levels import SWING_K, Swings, swings

__all__ = ["ADX_TREND", "TREND_DEFINITION", "SeriesState", "compute", "trend_label"]

#: ADX at or above this means the market is trending (Wilder's usual threshold).
ADX_TREND = 20.0
TREND_DEFINITION = (
    "uptrend: close above EMA50, EMA20 above EMA50 and ADX14 at least 20; downtrend: close "
    "below EMA50, EMA20 below EMA50 and ADX14 at least 20; otherwise sideways")


def trend_label(close: float, ema20: float, ema50: float, adx14: float) -> str:
    """``uptrend``, ``downtrend``, ``sideways`` (see :data:`TREND_DEFINITION`), or
    ``unknown`` while an input is still warming up."""
    if not all(np.isfinite(x) for x in (close, ema20, ema50, adx14)):
        return "unknown"
    if adx14 >= ADX_TREND:
        if close > ema50 and ema20 > ema50:
            return "uptrend"
        if close < ema50 and ema20 < ema50:
            return "downtrend"
    return "sideways"


@dataclass
class SeriesState:
    """Arrays over the candles used, oldest first (one entry per candle)."""

    interval: Interval
    alignment: str
    horizon: int
    t_open: np.ndarray
    t_close: np.ndarray
    ordinal: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    ema20: np.ndarray
    ema50: np.ndarray
    ema200: np.ndarray
    rsi14: np.ndarray
    macd: np.ndarray
    macd_signal: np.ndarray
    macd_hist: np.ndarray
    atr14: np.ndarray
    adx14: np.ndarray
    rv: np.ndarray
    vr: np.ndarray
    score: np.ndarray
    code: np.ndarray
    valid: np.ndarray
    target: np.ndarray
    p_up: np.ndarray
    band: np.ndarray
    move: np.ndarray
    swings: Swings

    def __len__(self) -> int:
        return len(self.close)


def compute(df: pd.DataFrame, *, interval: Interval, alignment: str, horizon: int,
            rv_window: int = 20, vr_window: int = 20) -> SeriesState:
    """Compute every series over ``df`` (closed candles only, already cut to the range).

    Parameters
    ----------
    df : pandas.DataFrame
        The candles used (canonical frame, closed only, strictly increasing).
    interval : Interval
    alignment : str
    horizon : int
        Horizon of the calls, in candles.
    rv_window, vr_window : int
        Windows of the realised volatility and the volume ratio.
    """
    t = to_ms_array(df.index)
    o, h, lo, c, v = (df[x].to_numpy(np.float64) for x in ("open", "high", "low", "close",
                                                           "volume"))
    macd, sig, hist = ind.macd(c)
    a = ind.atr(h, lo, c)
    r = ind.rsi(c)
    e50 = ind.ema(c, 50)
    score = _call.call_score(c, e50, hist, r, a)
    valid = ~np.isnan(score)
    band = _call.dead_band(a, horizon)
    move = _call.expected_move(score, a, horizon)
    code = _call.direction_code(move, band)
    ordinal = bucket_ordinal(t, interval, alignment=alignment)
    target = _call.target_index(ordinal, horizon)
    step = interval.nominal_ms
    return SeriesState(
        interval=interval, alignment=alignment, horizon=horizon,
        t_open=t, t_close=close_ms(t, interval, alignment=alignment), ordinal=ordinal,
        open=o, high=h, low=lo, close=c, volume=v,
        ema20=ind.ema(c, 20), ema50=e50, ema200=ind.ema(c, 200), rsi14=r,
        macd=macd, macd_signal=sig, macd_hist=hist, atr14=a, adx14=ind.adx(h, lo, c),
        rv=ind.realized_vol(c, rv_window, periods_per_year=ind.bars_per_year(step)),
        vr=ind.volume_ratio(v, vr_window),
        score=score, code=code, valid=valid, target=target,
        p_up=_call.p_up_series(code, valid, c, target),
        band=band, move=move,
        swings=swings(h, lo, k=SWING_K),
    )
