"""Swing highs and lows, and the support/resistance levels they cluster into.

A candle ``i`` is a **swing high** when its high is above the highs of the ``k`` candles
before it and at least the highs of the ``k`` candles after it (a **swing low** mirrors
this with lows). Because the test needs the ``k`` candles after ``i``, a swing is only
*known* when candle ``i + k`` closes: its **confirmation** index. Nothing here ever reports
a swing before its confirmation, so levels at ``as_of`` use only candles up to ``as_of``.

Levels: the confirmed swings of the last ``window`` candles (highs and lows together; a
broken resistance is a support) sorted by price, and grouped greedily: a swing joins the
current cluster while its price is within ``tolerance`` (``tol_atr`` × ATR at ``as_of``)
of the cluster's first price. A level's price is the mean of its swings' prices, its
``touches`` the number of swings in it, and ``last_touch`` the latest swing's index. The
nearest **support** is the highest level below the close and the nearest **resistance**
the lowest level above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["SWING_K", "Level", "Swings", "cluster_levels", "nearest_levels", "swings"]

#: Candles on each side of a swing (and so the confirmation delay, in candles).
SWING_K = 3


@dataclass(frozen=True)
class Swings:
    """Swing points of a series, in order of the swing candle.

    Attributes
    ----------
    high_idx, low_idx : numpy.ndarray of int64
        Indices of the swing-high / swing-low candles.
    k : int
        Confirmation delay: swing ``i`` is known once candle ``i + k`` has closed.
    """

    high_idx: np.ndarray
    low_idx: np.ndarray
    k: int

    def confirmed_by(self, end: int) -> Swings:
        """The swings already confirmed at index ``end`` (``i + k <= end``)."""
        return Swings(self.high_idx[self.high_idx + self.k <= end],
                      self.low_idx[self.low_idx + self.k <= end], self.k)


@numba.njit(cache=True)
def _swing_kernel(x, k, sign):  # pragma: no cover - compiled
    """Indices i with sign*x[i] > sign*x[i-k..i-1] and >= sign*x[i+1..i+k]."""
    n = len(x)
    out = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(k, n - k):
        v = sign * x[i]
        ok = True
        for j in range(i - k, i):
            if not v > sign * x[j]:
                ok = False
                break
        if ok:
            for j in range(i + 1, i + k + 1):
                if not v >= sign * x[j]:
                    ok = False
                    break
        if ok:
            out[m] = i
            m += 1
    return out[:m]


def swings(high: np.ndarray, low: np.ndarray, *, k: int = SWING_K) -> Swings:
    """Swing highs and lows confirmed within the arrays (each needs ``k`` candles after it).

    Parameters
    ----------
    high, low : numpy.ndarray
        Candle highs and lows, oldest first.
    k : int, default :data:`SWING_K`

    Returns
    -------
    Swings
    """
    h = np.ascontiguousarray(high, dtype=np.float64)
    lo = np.ascontiguousarray(low, dtype=np.float64)
    return Swings(_swing_kernel(h, int(k), 1.0), _swing_kernel(lo, int(k), -1.0), int(k))


@dataclass(frozen=True)
class Level:
    """One support/resistance level: a cluster of swing prices.

    Attributes
    ----------
    price : float
        Mean price of the swings in the cluster.
    low, high : float
        Lowest and highest swing price in it.
    touches : int
        Number of swings in it.
    last_touch : int
        Index of the most recent swing candle in it.
    """

    price: float
    low: float
    high: float
    touches: int
    last_touch: int


def cluster_levels(prices: np.ndarray, idx: np.ndarray, *, tolerance: float) -> list[Level]:
    """Group swing prices into levels (see the module docstring).

    Parameters
    ----------
    prices : numpy.ndarray
        Swing prices.
    idx : numpy.ndarray of int
        The swing candles' indices (same order as ``prices``).
    tolerance : float
        Largest distance, in price units, from a cluster's lowest price.

    Returns
    -------
    list of Level
        Sorted by price.
    """
    if len(prices) == 0:
        return []
    order = np.lexsort((idx, prices))
    p, ix = np.asarray(prices, dtype=np.float64)[order], np.asarray(idx)[order]
    out: list[Level] = []
    start = 0
    for j in range(1, len(p) + 1):
        if j == len(p) or p[j] - p[start] > tolerance:
            seg = p[start:j]
            out.append(Level(float(seg.mean()), float(seg[0]), float(seg[-1]), j - start,
                             int(ix[start:j].max())))
            start = j
    return out


def nearest_levels(high: np.ndarray, low: np.ndarray, close: float, atr_now: float, *,
                   sw: Swings, end: int, window: int, tol_atr: float
                   ) -> tuple[Level | None, Level | None, list[Level]]:
    """Nearest support and resistance to ``close`` at index ``end``.

    Parameters
    ----------
    high, low : numpy.ndarray
        The series' highs and lows.
    close : float
        The close at ``end``.
    atr_now : float
        ATR at ``end`` (the clustering tolerance is ``tol_atr * atr_now``).
    sw : Swings
        The series' swings (only those confirmed by ``end`` are used).
    end : int
        Index of the last candle used.
    window : int
        Only swings of the last ``window`` candles count.
    tol_atr : float

    Returns
    -------
    (support, resistance, levels)
        ``None`` where no level lies on that side.
    """
    known = sw.confirmed_by(end)
    lo_bound = end - window + 1
    hi_ix = known.high_idx[known.high_idx >= lo_bound]
    lo_ix = known.low_idx[known.low_idx >= lo_bound]
    prices = np.concatenate([high[hi_ix], low[lo_ix]])
    ix = np.concatenate([hi_ix, lo_ix])
    tol = tol_atr * atr_now if np.isfinite(atr_now) else 0.0
    levels = cluster_levels(prices, ix, tolerance=tol)
    below = [lv for lv in levels if lv.price < close]
    above = [lv for lv in levels if lv.price > close]
    return (below[-1] if below else None), (above[0] if above else None), levels
