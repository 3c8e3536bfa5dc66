"""RSI divergence against swing lows and highs, known only once the swings are confirmed.

**Bullish** divergence: of the two most recent confirmed swing lows, the later one is a
lower low in price but a higher RSI. **Bearish**: of the two most recent confirmed swing
highs, the later one is a higher high in price but a lower RSI. A divergence counts only
while it is fresh: the later swing was confirmed at most ``recent`` candles before
``as_of``, and the two swings are at most ``max_span`` candles apart. When both kinds are
fresh, the one confirmed later wins; confirmed at the same candle, neither is reported.

A swing at candle ``i`` is confirmed at candle ``i + k`` (see
:mod:`candlekit.analysis.levels`), and that is the time reported as ``confirmed``: before
then the swing was not knowable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .levels import Swings

__all__ = ["DIVERGENCE_MAX_SPAN", "DIVERGENCE_RECENT", "Divergence", "find_divergence"]

#: A divergence is fresh while its later swing was confirmed at most this many candles ago.
DIVERGENCE_RECENT = 20
#: The two swings of a divergence are at most this many candles apart.
DIVERGENCE_MAX_SPAN = 60


@dataclass(frozen=True)
class Divergence:
    """A divergence between price swings and RSI.

    Attributes
    ----------
    kind : {"bullish", "bearish"}
    first, second : int
        Indices of the earlier and later swing candles.
    first_confirmed, second_confirmed : int
        Indices of the candles at whose close each swing became known (``swing + k``).
    first_price, second_price : float
        The swing lows (bullish) or highs (bearish).
    first_rsi, second_rsi : float
        RSI at each swing candle.
    """

    kind: str
    first: int
    second: int
    first_confirmed: int
    second_confirmed: int
    first_price: float
    second_price: float
    first_rsi: float
    second_rsi: float


def _pair(idx: np.ndarray, price: np.ndarray, rsi: np.ndarray, k: int, end: int,
          kind: str, recent: int, max_span: int) -> Divergence | None:
    if len(idx) < 2:
        return None
    a, b = int(idx[-2]), int(idx[-1])
    if end - (b + k) > recent or b - a > max_span:
        return None
    ra, rb = rsi[a], rsi[b]
    if not (np.isfinite(ra) and np.isfinite(rb)):
        return None
    pa, pb = price[a], price[b]
    if kind == "bullish":
        hit = pb < pa and rb > ra
    else:
        hit = pb > pa and rb < ra
    if not hit:
        return None
    return Divergence(kind, a, b, a + k, b + k, float(pa), float(pb), float(ra), float(rb))


def find_divergence(high: np.ndarray, low: np.ndarray, rsi: np.ndarray, sw: Swings, *,
                    end: int, recent: int = DIVERGENCE_RECENT,
                    max_span: int = DIVERGENCE_MAX_SPAN) -> Divergence | None:
    """The fresh RSI divergence at index ``end``, if any.

    Parameters
    ----------
    high, low, rsi : numpy.ndarray
        The series (oldest first).
    sw : Swings
        Its swings; only those confirmed by ``end`` are used.
    end : int
        Index of the last candle used (``as_of``).
    recent, max_span : int
        See the module docstring.

    Returns
    -------
    Divergence or None
    """
    known = sw.confirmed_by(end)
    bull = _pair(known.low_idx, low, rsi, sw.k, end, "bullish", recent, max_span)
    bear = _pair(known.high_idx, high, rsi, sw.k, end, "bearish", recent, max_span)
    if bull is not None and bear is not None:
        if bull.second_confirmed == bear.second_confirmed:
            return None
        return bull if bull.second_confirmed > bear.second_confirmed else bear
    return bull if bull is not None else bear
