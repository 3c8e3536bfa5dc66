"""The call: a direction, a probability of up, a horizon and a reference close.

The model is deliberately simple, deterministic and causal (every input is an indicator
value at the call's candle, or an outcome already known then):

**Score** (in [-1, 1]), the mean of three clipped terms:

- trend: ``clip((close - EMA50) / (2 × ATR14), -1, 1)``
- momentum: ``clip(MACD histogram / (0.5 × ATR14), -1, 1)``
- strength: ``clip((RSI14 - 50) / 20, -1, 1)``

**Dead band**: ``DEAD_BAND_ATR × ATR14 × sqrt(horizon)`` (0.25 ATR scaled like a random
walk's spread over the horizon); a move inside it is ``flat`` when graded
(:mod:`candlekit.analysis.scoring`).

**Direction**: the score read as a move, ``MOVE_ATR × score × ATR14 × sqrt(horizon)``
(``call_expected_move``; a full score of 1 means 0.75 ATR14 per square root of a candle),
is ``up`` above the dead band, ``down`` below minus the dead band, otherwise ``flat``.
With ``MOVE_ATR = 3 × DEAD_BAND_ATR`` that is: up when the score is above
:data:`SCORE_THRESHOLD` (1/3), down below -1/3. The "expected" move is the rule's reading
of the indicators, not a measured forecast; ``p_up`` is the measured part.

**p_up**: how often, in this series' own past, the close ``horizon`` candles after a call
with the same direction was above that call's close, counting only calls whose horizon
had closed by ``as_of``, shrunk towards the series' overall up frequency with
:data:`PRIOR_CALLS` pseudo-calls::

    base = (ups_all + 1) / (n_all + 2)
    p_up = (ups_same_direction + PRIOR_CALLS × base) / (n_same_direction + PRIOR_CALLS)

So ``p_up`` is an empirical frequency, not a promise: where the signal has had no edge,
``p_up`` sits at the base rate whatever the direction says.

A call needs the warm-up of every input (EMA50 is the longest: :data:`MIN_BARS` candles).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["DEAD_BAND_ATR", "DEFAULT_HORIZON", "MIN_BARS", "MOVE_ATR", "PRIOR_CALLS",
           "SCORE_THRESHOLD", "call_score", "dead_band", "direction_code", "expected_move",
           "p_up_series", "target_index"]

#: Default horizon of a call, in candles of the analysed interval.
DEFAULT_HORIZON = 6
#: Half-width of the flat band, in ATR14 per square root of a candle.
DEAD_BAND_ATR = 0.25
#: The move a score of 1 stands for, in ATR14 per square root of a candle.
MOVE_ATR = 0.75
#: A score further than this from zero makes a directional call (DEAD_BAND_ATR / MOVE_ATR).
SCORE_THRESHOLD = DEAD_BAND_ATR / MOVE_ATR
#: Pseudo-calls at the base rate that p_up is shrunk with.
PRIOR_CALLS = 20
#: Candles needed before the first call (EMA50's warm-up).
MIN_BARS = 50


def call_score(close: np.ndarray, ema50: np.ndarray, macd_hist: np.ndarray,
               rsi14: np.ndarray, atr14: np.ndarray) -> np.ndarray:
    """The score in [-1, 1] at every candle (``NaN`` before every input is warm).

    Where ATR is zero (a flat market) the trend and momentum terms are 0.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.where(atr14 > 0, (close - ema50) / (2.0 * atr14), 0.0)
        momentum = np.where(atr14 > 0, macd_hist / (0.5 * atr14), 0.0)
    strength = (rsi14 - 50.0) / 20.0
    score = (np.clip(trend, -1, 1) + np.clip(momentum, -1, 1) + np.clip(strength, -1, 1)) / 3
    warm = ~(np.isnan(ema50) | np.isnan(macd_hist) | np.isnan(rsi14) | np.isnan(atr14))
    return np.where(warm, score, np.nan)


def expected_move(score: np.ndarray, atr14: np.ndarray, horizon: int) -> np.ndarray:
    """The score read as a move in price units: ``MOVE_ATR × score × ATR14 × sqrt(h)``."""
    return MOVE_ATR * score * atr14 * math.sqrt(horizon)


def direction_code(move: np.ndarray, band: np.ndarray) -> np.ndarray:
    """+1 (up) where ``move > band``, -1 (down) where ``move < -band``, else 0 (flat; also
    before warm-up)."""
    m = np.nan_to_num(move, nan=0.0)
    b = np.nan_to_num(band, nan=0.0)
    return np.where(m > b, 1, np.where(m < -b, -1, 0)).astype(np.int64)


def dead_band(atr14: np.ndarray, horizon: int) -> np.ndarray:
    """The flat band's half-width in price units at every candle."""
    return DEAD_BAND_ATR * atr14 * math.sqrt(horizon)


def target_index(ordinals: np.ndarray, horizon: int) -> np.ndarray:
    """Index of the candle ``horizon`` buckets after each candle, or -1 when not present."""
    want = ordinals + horizon
    pos = np.searchsorted(ordinals, want)
    ok = pos < len(ordinals)
    ok[ok] = ordinals[pos[ok]] == want[ok]
    return np.where(ok, pos, -1).astype(np.int64)


@numba.njit(cache=True)
def _p_up_kernel(code, valid, close, target, prior):  # pragma: no cover - compiled
    n = len(code)
    # resolved[t, d]: calls of direction d (0 down, 1 flat, 2 up) whose target is t
    res_n = np.zeros((n, 3), dtype=np.int64)
    res_up = np.zeros((n, 3), dtype=np.int64)
    for s in range(n):
        r = target[s]
        if valid[s] and r >= 0:
            d = code[s] + 1
            res_n[r, d] += 1
            if close[r] > close[s]:
                res_up[r, d] += 1
    out = np.full(n, np.nan)
    cn = np.zeros(3, dtype=np.int64)
    cu = np.zeros(3, dtype=np.int64)
    for t in range(n):
        for d in range(3):
            cn[d] += res_n[t, d]
            cu[d] += res_up[t, d]
        if valid[t]:
            n_all = cn[0] + cn[1] + cn[2]
            u_all = cu[0] + cu[1] + cu[2]
            base = (u_all + 1.0) / (n_all + 2.0)
            d = code[t] + 1
            out[t] = (cu[d] + prior * base) / (cn[d] + prior)
    return out


def p_up_series(code: np.ndarray, valid: np.ndarray, close: np.ndarray, target: np.ndarray
                ) -> np.ndarray:
    """``p_up`` at every candle (see the module docstring); ``NaN`` where no call is made."""
    return _p_up_kernel(np.ascontiguousarray(code, dtype=np.int64),
                        np.ascontiguousarray(valid, dtype=np.bool_),
                        np.ascontiguousarray(close, dtype=np.float64),
                        np.ascontiguousarray(target, dtype=np.int64), float(PRIOR_CALLS))
