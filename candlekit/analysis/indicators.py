"""Causal technical indicators over float64 arrays, matching TA-Lib.

Every function takes numpy arrays (one value per candle, oldest first) and returns arrays
of the same length with ``NaN`` during the warm-up. Each is a single sequential numba pass
that reads only values at or before the output index, so the value at index ``i`` is the
same (bit for bit) whether the input ends at ``i`` or continues: a prefix of the history
gives a prefix of the output. That is what lets :func:`candlekit.track_record` compute the
series once and read every step's call from it.

The definitions and seeds are TA-Lib's (its default "compatibility" mode, no unstable
period), so the values equal ``talib.EMA``, ``RSI``, ``MACD``, ``ATR`` and ``ADX`` on the
same input; ``tests/test_analysis_indicators.py`` checks this on real candles.

============================  =====================================================  ======
function                      definition                                             first
============================  =====================================================  ======
:func:`ema` (n)               seed = mean of the first n values, then                n-1
                              ``e += (x - e) * 2/(n+1)``
:func:`rsi` (14)              Wilder: seed = mean gain/loss of the first n changes,  n
                              then ``avg = (avg*(n-1) + x)/n``; 100*gain/(gain+loss)
:func:`macd` (12, 26, 9)      EMA12 - EMA26, both seeded at index 25 (TA-Lib's        33
                              MACD seeds the fast EMA on the 12 values ending there);
                              signal = EMA9 of the line from index 25
:func:`atr` (14)              Wilder smoothing of the true range from index 1,       n
                              seeded with the mean of the first n true ranges
:func:`adx` (14)              Wilder's +DM/-DM/TR sums, DX, then ADX                 2n-1
:func:`realized_vol` (20)     sample std (ddof 1) of the last n log returns          n
                              × sqrt(bars per year)
:func:`volume_ratio` (20)     volume / mean volume of the n candles before it        n
============================  =====================================================  ======
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "adx",
    "atr",
    "bars_per_year",
    "ema",
    "macd",
    "realized_vol",
    "rsi",
    "true_range",
    "volume_ratio",
]

_NAN = np.nan
_MS_PER_YEAR = 365.25 * 86_400_000.0


def _f64(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64)


@numba.njit(cache=True)
def _ema_kernel(x, n, start):  # pragma: no cover - compiled
    """EMA(n) whose seed is the mean of x[start : start+n]; output from start+n-1."""
    out = np.full(len(x), np.nan)
    if n < 1 or len(x) < start + n:
        return out
    k = 2.0 / (n + 1)
    total = 0.0
    for i in range(start, start + n):
        total += x[i]
    prev = total / n
    out[start + n - 1] = prev
    for i in range(start + n, len(x)):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average, as ``talib.EMA(x, n)``.

    Parameters
    ----------
    x : numpy.ndarray
        Values, oldest first.
    n : int
        Period; the smoothing factor is ``2 / (n + 1)``.

    Returns
    -------
    numpy.ndarray
        ``NaN`` for the first ``n - 1`` values.
    """
    return _ema_kernel(_f64(x), int(n), 0)


@numba.njit(cache=True)
def _rsi_kernel(x, n):  # pragma: no cover - compiled
    out = np.full(len(x), np.nan)
    if n < 2 or len(x) <= n:
        return out
    gain = 0.0
    loss = 0.0
    prev = x[0]
    for i in range(1, n + 1):
        d = x[i] - prev
        prev = x[i]
        if d < 0:
            loss -= d
        else:
            gain += d
    loss /= n
    gain /= n
    s = gain + loss
    out[n] = 100.0 * (gain / s) if s != 0.0 else 0.0
    for i in range(n + 1, len(x)):
        d = x[i] - prev
        prev = x[i]
        loss *= n - 1
        gain *= n - 1
        if d < 0:
            loss -= d
        else:
            gain += d
        loss /= n
        gain /= n
        s = gain + loss
        out[i] = 100.0 * (gain / s) if s != 0.0 else 0.0
    return out


def rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index, as ``talib.RSI(close, n)``.

    Returns
    -------
    numpy.ndarray
        Values in [0, 100]; ``NaN`` for the first ``n`` values.
    """
    return _rsi_kernel(_f64(close), int(n))


def macd(close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line, signal line and histogram, as ``talib.MACD(close, 12, 26, 9)``.

    TA-Lib starts both EMAs at the slow EMA's first index (``slow - 1``), so the fast EMA
    is seeded with the mean of the ``fast`` closes ending there, not the first ``fast``.

    Returns
    -------
    (macd, signal, hist) : tuple of numpy.ndarray
        ``NaN`` before index ``slow + signal - 2`` (33 for the defaults).
    """
    x = _f64(close)
    if fast > slow:
        fast, slow = slow, fast
    first = slow - 1
    n = len(x)
    if n < slow + signal - 1:
        nan = np.full(n, _NAN)
        return nan, nan.copy(), nan.copy()
    fast_e = _ema_kernel(x, int(fast), first - fast + 1)
    slow_e = _ema_kernel(x, int(slow), 0)
    line = fast_e - slow_e
    sig = _ema_kernel(np.where(np.isnan(line), 0.0, line), int(signal), first)
    start = first + signal - 1
    line[:start] = _NAN
    sig[:start] = _NAN
    return line, sig, line - sig


@numba.njit(cache=True)
def _tr_kernel(h, l, c):  # pragma: no cover - compiled
    out = np.full(len(h), np.nan)
    for i in range(1, len(h)):
        r = h[i] - l[i]
        a = abs(h[i] - c[i - 1])
        r = max(r, a)
        b = abs(l[i] - c[i - 1])
        r = max(r, b)
        out[i] = r
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """True range ``max(high, prev close) - min(low, prev close)``; ``NaN`` at index 0."""
    return _tr_kernel(_f64(high), _f64(low), _f64(close))


@numba.njit(cache=True)
def _atr_kernel(tr, n):  # pragma: no cover - compiled
    out = np.full(len(tr), np.nan)
    if n < 1 or len(tr) <= n:
        return out
    total = 0.0
    for i in range(1, n + 1):
        total += tr[i]
    prev = total / n
    out[n] = prev
    for i in range(n + 1, len(tr)):
        prev *= n - 1
        prev += tr[i]
        prev /= n
        out[i] = prev
    return out


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average true range (Wilder), as ``talib.ATR(high, low, close, n)``.

    Returns
    -------
    numpy.ndarray
        In price units; ``NaN`` for the first ``n`` values.
    """
    return _atr_kernel(true_range(high, low, close), int(n))


@numba.njit(cache=True)
def _is_zero(v):  # pragma: no cover - compiled
    return -0.00000001 < v < 0.00000001


@numba.njit(cache=True)
def _adx_kernel(h, l, c, n):  # pragma: no cover - compiled
    size = len(h)
    out = np.full(size, np.nan)
    if n < 2 or size < 2 * n:
        return out
    today = 0
    prev_h = h[0]
    prev_l = l[0]
    prev_c = c[0]
    pdm = 0.0
    mdm = 0.0
    ptr = 0.0
    for _ in range(n - 1):
        today += 1
        dp = h[today] - prev_h
        prev_h = h[today]
        dm = prev_l - l[today]
        prev_l = l[today]
        if dm > 0 and dp < dm:
            mdm += dm
        elif dp > 0 and dp > dm:
            pdm += dp
        r = prev_h - prev_l
        a = abs(prev_h - prev_c)
        r = max(r, a)
        b = abs(prev_l - prev_c)
        r = max(r, b)
        ptr += r
        prev_c = c[today]
    sum_dx = 0.0
    for _ in range(n):
        today += 1
        dp = h[today] - prev_h
        prev_h = h[today]
        dm = prev_l - l[today]
        prev_l = l[today]
        mdm -= mdm / n
        pdm -= pdm / n
        if dm > 0 and dp < dm:
            mdm += dm
        elif dp > 0 and dp > dm:
            pdm += dp
        r = prev_h - prev_l
        a = abs(prev_h - prev_c)
        r = max(r, a)
        b = abs(prev_l - prev_c)
        r = max(r, b)
        ptr = ptr - ptr / n + r
        prev_c = c[today]
        if not _is_zero(ptr):
            mdi = 100.0 * (mdm / ptr)
            pdi = 100.0 * (pdm / ptr)
            s = mdi + pdi
            if not _is_zero(s):
                sum_dx += 100.0 * (abs(mdi - pdi) / s)
    prev_adx = sum_dx / n
    out[today] = prev_adx
    while today < size - 1:
        today += 1
        dp = h[today] - prev_h
        prev_h = h[today]
        dm = prev_l - l[today]
        prev_l = l[today]
        mdm -= mdm / n
        pdm -= pdm / n
        if dm > 0 and dp < dm:
            mdm += dm
        elif dp > 0 and dp > dm:
            pdm += dp
        r = prev_h - prev_l
        a = abs(prev_h - prev_c)
        r = max(r, a)
        b = abs(prev_l - prev_c)
        r = max(r, b)
        ptr = ptr - ptr / n + r
        prev_c = c[today]
        if not _is_zero(ptr):
            mdi = 100.0 * (mdm / ptr)
            pdi = 100.0 * (pdm / ptr)
            s = mdi + pdi
            if not _is_zero(s):
                dx = 100.0 * (abs(mdi - pdi) / s)
                prev_adx = ((prev_adx * (n - 1)) + dx) / n
        out[today] = prev_adx
    return out


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average directional index (Wilder), as ``talib.ADX(high, low, close, n)``.

    Returns
    -------
    numpy.ndarray
        Values in [0, 100]; ``NaN`` for the first ``2n - 1`` values.
    """
    return _adx_kernel(_f64(high), _f64(low), _f64(close), int(n))


def bars_per_year(step_ms: float) -> float:
    """Candles per year in a market open 24/7 (365.25 days), for a candle ``step_ms`` long."""
    return _MS_PER_YEAR / float(step_ms)


@numba.njit(cache=True)
def _rv_kernel(close, n, scale):  # pragma: no cover - compiled
    size = len(close)
    out = np.full(size, np.nan)
    if n < 2 or size <= n:
        return out
    r = np.full(size, np.nan)
    for i in range(1, size):
        r[i] = math.log(close[i] / close[i - 1])
    for i in range(n, size):
        m = 0.0
        for j in range(i - n + 1, i + 1):
            m += r[j]
        m /= n
        ss = 0.0
        for j in range(i - n + 1, i + 1):
            d = r[j] - m
            ss += d * d
        out[i] = math.sqrt(ss / (n - 1)) * scale
    return out


def realized_vol(close: np.ndarray, n: int = 20, *, periods_per_year: float) -> np.ndarray:
    """Annualised realised volatility: sample std of the last ``n`` log returns.

    Parameters
    ----------
    close : numpy.ndarray
    n : int, default 20
        Number of log returns in each window.
    periods_per_year : float
        Candles per year (:func:`bars_per_year`); the std is scaled by its square root.

    Returns
    -------
    numpy.ndarray
        A fraction (0.45 = 45% a year); ``NaN`` for the first ``n`` values.
    """
    return _rv_kernel(_f64(close), int(n), math.sqrt(float(periods_per_year)))


@numba.njit(cache=True)
def _vr_kernel(v, n):  # pragma: no cover - compiled
    size = len(v)
    out = np.full(size, np.nan)
    for i in range(n, size):
        s = 0.0
        for j in range(i - n, i):
            s += v[j]
        m = s / n
        out[i] = v[i] / m if m > 0 else np.nan
    return out


def volume_ratio(volume: np.ndarray, n: int = 20) -> np.ndarray:
    """Each candle's volume over the mean volume of the ``n`` candles before it.

    Returns
    -------
    numpy.ndarray
        ``NaN`` for the first ``n`` values and where the preceding mean is zero.
    """
    return _vr_kernel(_f64(volume), int(n))
