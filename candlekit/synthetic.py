"""A seeded, deterministic synthetic market: realistic candles for any coin name.

Data from here is always labelled ``df.attrs["source"] == "synthetic"``.

How the market is built
-----------------------
*Daily anchors.* Each coin has a daily random walk of its log price, computed
sequentially from 1970-01-01 (cheap: one step per day, compiled with numba, cached):
a slow pull towards the coin's reference level (so prices stay plausible at any date),
a volatility regime that persists for weeks, and drift regimes (trending up, trending
down, ranging) lasting weeks to months. Its value at 00:00 UTC of each day is that day's
*anchor* price.

*Intraday paths.* Every UTC day is generated on its own, from a random generator seeded
by ``(seed, crc32(symbol), base, day)``, as a path of base candles (1s or 1m) from the
day's anchor to the next day's anchor (a Brownian bridge weighted by the intraday
variance). Within the day: volatility clustering (a log-volatility process with a one
hour memory), slow trending and ranging stretches, an intraday and weekly seasonality of
volume and volatility (busy US hours, quiet Asian nights and weekends, a burst after
each hourly funding), trade counts drawn from a gamma-mixed Poisson law whose rate
follows volume, and volumes that grow with volatility. High and low come from the
exact law of a Brownian maximum within the candle. Prices sit on the coin's tick grid
(fixed per coin: five significant figures at its reference level, as Hyperliquid's)
and volumes on its lot size.

Because each day depends only on ``(seed, symbol, base, day)`` and the anchors, a candle
is the same whatever range is asked for: windows of the market can be served as a
clock advances.

Conventions
-----------
* A candle opens at the previous candle's close.
* A *no-trade* candle (a quiet second, or a quiet minute on an illiquid coin) has
  ``volume == 0``, ``trades == 0``, ``quote_volume == 0`` and
  ``open == high == low == close ==`` the previous close.
* ``quote_volume`` is ``volume`` times a typical price inside the candle (the mean of
  open, high, low and close), so it lies between ``low * volume`` and ``high * volume``.
* Coarser intervals are exactly :func:`candlekit.resample.resample` of the base candles.
* ``base="1s"`` and ``base="1m"`` are two different markets: they share the daily
  anchors (so every day opens at the same price in both) but not the paths within a day.
  1s candles need ``base="1s"``.
* With ``now`` given, only the past exists: base candles opening at or after ``now`` are
  not generated, and the base candle holding ``now`` is built from the trades made
  before ``now`` (see :meth:`SyntheticMarket.candles`), so it is open (``closed=False``)
  and usually differs from the candle it closes as.
"""

from __future__ import annotations

import functools
import itertools
import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np
import pandas as pd

from .errors import InvalidIntervalError, InvalidTimeError, ResampleError
from .frame import empty_frame
from .intervals import (
    DAY,
    Alignment,
    check_alignment,
    ordinal_bounds,
    ordinal_to_ms,
    parse_interval,
)
from .resample import resample
from .timeutil import TimeLike, to_index, to_ms

__all__ = ["SOURCE", "CoinProfile", "SyntheticMarket", "coin_profile", "synthetic_candles"]

SOURCE = "synthetic"
BASES = ("1s", "1m")

# --- coins -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoinProfile:
    """What a synthetic coin looks like.

    Attributes
    ----------
    symbol : str
    key : int
        ``zlib.crc32`` of the symbol (stable across runs, unlike ``hash``).
    price : float
        Reference price level the daily walk is pulled towards.
    price_decimals : int
        Prices are multiples of ``10 ** -price_decimals`` (negative: tens, hundreds).
    size_decimals : int
        Volumes are multiples of ``10 ** -size_decimals``.
    daily_vol : float
        Typical standard deviation of a daily log return.
    daily_notional : float
        Typical quote volume traded per day.
    trade_notional : float
        Typical quote value of one trade.
    """

    symbol: str
    key: int
    price: float
    price_decimals: int
    size_decimals: int
    daily_vol: float
    daily_notional: float
    trade_notional: float


# price, daily vol, daily notional, notional per trade
_KNOWN: dict[str, tuple[float, float, float, float]] = {
    "BTC": (60_000.0, 0.028, 2.5e9, 4_000.0),
    "ETH": (3_000.0, 0.036, 1.2e9, 2_500.0),
    "SOL": (150.0, 0.048, 4e8, 1_200.0),
    "HYPE": (30.0, 0.060, 3e8, 800.0),
}


def _unit(symbol: str, salt: bytes) -> float:
    """A stable number in [0, 1) derived from the symbol."""
    return zlib.crc32(salt + symbol.encode("utf-8")) / 2.0**32


@functools.lru_cache(maxsize=1024)
def coin_profile(symbol: str) -> CoinProfile:
    """The :class:`CoinProfile` of ``symbol``: BTC, ETH, SOL and HYPE at familiar levels,
    any other name at a level derived from a stable hash of the name."""
    if not isinstance(symbol, str) or not symbol:
        raise TypeError(f"symbol must be a non-empty string such as 'BTC', got {symbol!r}")
    if symbol in _KNOWN:
        price, vol, notional, per_trade = _KNOWN[symbol]
    else:
        price = 10.0 ** (-3.0 + 6.0 * _unit(symbol, b"price:"))
        vol = 0.04 + 0.05 * _unit(symbol, b"vol:")
        notional = 10.0 ** (6.0 + 2.0 * _unit(symbol, b"notional:"))
        per_trade = 10.0 ** (2.0 + 1.3 * _unit(symbol, b"trade:"))
    magnitude = math.floor(math.log10(price))
    return CoinProfile(symbol=symbol, key=zlib.crc32(symbol.encode("utf-8")), price=price,
                       price_decimals=4 - magnitude,
                       size_decimals=min(max(magnitude + 1, 0), 8), daily_vol=vol,
                       daily_notional=notional, trade_notional=per_trade)


def _round_to(x: np.ndarray, decimals: int) -> np.ndarray:
    """Round to a decimal grid so that the floats print as short decimals."""
    if decimals >= 0:
        scale = 10.0**decimals
        return np.round(x * scale) / scale
    scale = 10.0**-decimals
    return np.round(x / scale) * scale


# --- daily anchors -----------------------------------------------------------------------

_BLOCK_DAYS = 4096
_DAILY_STREAM, _INTRADAY_STREAM, _TRADES_STREAM = 1, 2, 3
_BASE_CODE = {"1s": 1, "1m": 60}


@numba.njit(cache=True, nogil=True)
def _daily_walk(z_price, z_vol, u_regime, log_ref, vol):  # pragma: no cover - compiled
    """Log price at the start of each day and each day's volatility."""
    n = z_price.shape[0]
    logp = np.empty(n + 1)
    sigma = np.empty(n)
    # pull towards the reference level, half-life 100 to 250 days: diffusion alone keeps
    # the log price within about +-0.3 of it (wider for the most volatile coins)
    kappa = min(max(vol * vol / (2.0 * 0.3 * 0.3), 1.0 / 365.0), 1.0 / 150.0)
    phi = 0.92  # persistence of the daily volatility regime
    s_h = 0.35
    lp = log_ref
    h = 0.0
    regime = 0  # 0 ranging, 1 trending up, 2 trending down
    for d in range(n):
        weekend = (d + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        s = vol * math.exp(h - 0.5 * s_h * s_h) * (0.75 if weekend else 1.0)
        drift = 0.0
        if regime == 1:
            drift = 0.25 * s
        elif regime == 2:
            drift = -0.25 * s
        sigma[d] = s
        logp[d] = lp
        lp = lp + drift - kappa * (lp - log_ref) + s * z_price[d]
        h = phi * h + math.sqrt(1.0 - phi * phi) * s_h * z_vol[d]
        if u_regime[d] < 0.035:
            regime = int(u_regime[d] / 0.035 * 3.0) % 3
    logp[n] = lp
    return logp, sigma


@functools.lru_cache(maxsize=64)
def _anchors(seed: int, symbol: str, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Anchor prices (day starts, on the tick grid) and daily vols for days < n_blocks*4096.

    Each block of days draws from its own generator, so the first days are the same
    whatever ``n_blocks`` is.
    """
    p = coin_profile(symbol)
    parts = []
    for block in range(n_blocks):
        rng = np.random.default_rng([seed, p.key, _DAILY_STREAM, block])
        parts.append((rng.standard_normal(_BLOCK_DAYS), rng.standard_normal(_BLOCK_DAYS),
                      rng.random(_BLOCK_DAYS)))
    z_p, z_h, u = (np.concatenate(cols) for cols in zip(*parts))
    logp, sigma = _daily_walk(z_p, z_h, u, math.log(p.price), p.daily_vol)
    tick = 10.0**-p.price_decimals
    anchors = np.maximum(_round_to(np.exp(logp), p.price_decimals), tick)
    anchors.flags.writeable = False
    sigma.flags.writeable = False
    return anchors, sigma


def _day_anchor(seed: int, symbol: str, day: int) -> tuple[float, float, float]:
    """(anchor of ``day``, anchor of the next day, daily vol of ``day``)."""
    anchors, sigma = _anchors(seed, symbol, (day + 1) // _BLOCK_DAYS + 1)
    return float(anchors[day]), float(anchors[day + 1]), float(sigma[day])


# --- one day of base candles -------------------------------------------------------------


class _Day(NamedTuple):
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    trades: np.ndarray


@numba.njit(cache=True, nogil=True)
def _ar1(z, phi, scale):  # pragma: no cover - compiled
    """Stationary AR(1) with standard deviation ``scale`` driven by normals ``z``."""
    out = np.empty(z.shape[0])
    x = scale * z[0]
    out[0] = x
    c = math.sqrt(1.0 - phi * phi) * scale
    for i in range(1, z.shape[0]):
        x = phi * x + c * z[i]
        out[i] = x
    return out


def _seasonality(day: int) -> np.ndarray:
    """Relative activity of each minute of ``day`` (mean about 1 on weekdays)."""
    minute = np.arange(1440)
    hour = minute / 60.0
    s = (1.0 + 0.45 * np.cos(2 * np.pi * (hour - 15.0) / 24.0)
         + 0.15 * np.cos(4 * np.pi * (hour - 9.0) / 24.0))
    s *= 1.0 + 0.4 * np.exp(-(minute % 60) / 3.0)  # hourly funding
    if (day + 3) % 7 >= 5:
        s *= 0.7
    return s


_VOL_MEMORY_MIN = 60.0  # time constant of intraday volatility clustering, minutes
_VOL_SPREAD = 0.45
_TREND_MEMORY_MIN = 90.0


@functools.lru_cache(maxsize=16)
def _day_candles(seed: int, base: str, symbol: str, day: int) -> _Day:
    """All base candles of one UTC day (read-only arrays)."""
    p = coin_profile(symbol)
    a0, a1, sigma_day = _day_anchor(seed, symbol, day)
    per_min = 60 if base == "1s" else 1
    n = 1440 * per_min
    rng = np.random.default_rng([seed, p.key, _INTRADAY_STREAM, _BASE_CODE[base], day])

    season = np.repeat(_seasonality(day), per_min)
    log_vol = np.repeat(_ar1(rng.standard_normal(1440), math.exp(-1 / _VOL_MEMORY_MIN),
                             _VOL_SPREAD), per_min)
    trend = np.repeat(_ar1(rng.standard_normal(1440), math.exp(-1 / _TREND_MEMORY_MIN),
                           0.8 / math.sqrt(_TREND_MEMORY_MIN * per_min)), per_min)
    activity = season * np.exp(log_vol - 0.5 * _VOL_SPREAD**2)

    # trades: gamma-mixed Poisson (bursty), busier when volatile
    trades_per_step = p.daily_notional / p.trade_notional / n
    rate = trades_per_step * activity * (sigma_day / p.daily_vol)
    burst = 1.0 if base == "1s" else 4.0
    trades = rng.poisson(rate * rng.gamma(burst, 1.0 / burst, n)).astype(np.int64)
    traded = trades > 0
    if not traded.any():
        trades[int(np.argmax(rate))] = 1
        traded = trades > 0

    # log-price path: the price moves only when something trades; bridge to next anchor
    variance = np.sqrt(season) * np.exp(2.0 * log_vol) * traded
    variance *= sigma_day**2 / variance.sum()
    shocks = rng.standard_normal(n)
    step = np.sqrt(variance) * (shocks + trend)
    x = np.cumsum(step)
    w = np.cumsum(variance)
    x -= w / w[-1] * (x[-1] - math.log(a1 / a0))
    close = a0 * np.exp(x)
    last = int(np.flatnonzero(traded)[-1])
    close[last:] = a1
    open_ = np.empty(n)
    open_[0] = a0
    open_[1:] = close[:-1]

    # high and low: law of the maximum of a Brownian bridge from open to close; an
    # excursion beyond open/close needs a trade of its own (two trades for both sides)
    b = np.diff(x, prepend=0.0)
    two = rng.random(n) < 0.5
    has_hi = (trades >= 3) | ((trades == 2) & two)
    has_lo = (trades >= 3) | ((trades == 2) & ~two)
    hi_ex = 0.5 * (b + np.sqrt(b * b - 2.0 * variance * np.log1p(-rng.random(n))))
    lo_ex = 0.5 * (b - np.sqrt(b * b - 2.0 * variance * np.log1p(-rng.random(n))))
    high = np.where(has_hi, open_ * np.exp(hi_ex), 0.0)
    low = np.where(has_lo, open_ * np.exp(lo_ex), np.inf)
    high = np.maximum(high, np.maximum(open_, close))
    low = np.minimum(low, np.minimum(open_, close))
    tick = 10.0**-p.price_decimals
    open_, high, low, close = (np.maximum(_round_to(a, p.price_decimals), tick)
                               for a in (open_, high, low, close))

    # volume: trades times a lognormal trade size, larger on violent candles
    scale = 10.0**p.size_decimals  # lots per unit (size_decimals is never negative)
    size = p.trade_notional / a0
    volume = (trades * size * np.exp(0.5 * rng.standard_normal(n) - 0.125)
              * (0.5 + 0.5 * np.abs(shocks)) / 0.9)
    volume = np.where(traded, np.maximum(np.round(volume * scale), 1.0) / scale, 0.0)
    quote = volume * ((open_ + high + low + close) / 4.0)
    out = _Day(open_, high, low, close, volume, quote, trades)
    for arr in out:
        arr.flags.writeable = False
    return out


# --- the candle holding `now` ------------------------------------------------------------

_MAX_POINTS = 200


def _partial_candle(seed: int, base: str, symbol: str, open_ms: int, step_ms: int,
                    final: tuple, cut_ms: int) -> tuple:
    """The candle opening at ``open_ms`` as seen at ``cut_ms`` (inside it).

    The final candle ``(open, high, low, close, volume, quote, trades)`` is split into
    up to 200 trades (groups of trades on liquid coins) at seeded times, with prices on a
    seeded path from open to close that touches the final high and low; the partial
    candle aggregates the trades made before ``cut_ms``. With more of the candle seen,
    high only rises, low only falls, volume and trades only grow; all trades seen gives
    the final candle.
    """
    o, h, lo, c, v, _, n = final
    if n == 0:
        return final
    p = coin_profile(symbol)
    rng = np.random.default_rng([seed, p.key, _TRADES_STREAM, _BASE_CODE[base], open_ms])
    m = min(int(n), _MAX_POINTS)
    times = np.sort(rng.integers(0, step_ms, m))
    counts = 1 + rng.multinomial(int(n) - m, np.full(m, 1.0 / m))
    # the path's fixed points: index -> (log price, price); the last trade is the close
    marks = {m - 1: (math.log(c), c)}
    extremes = [(math.log(h), h)] if h > max(o, c) else []
    extremes += [(math.log(lo), lo)] if lo < min(o, c) else []
    extremes = extremes[: m - 1]
    for idx, mark in zip(rng.choice(m - 1, size=len(extremes), replace=False), extremes):
        marks[int(idx)] = mark
    x = np.empty(m)
    sd = max(math.log(h / lo), 1e-12) / (2.0 * math.sqrt(m))
    prev_i, prev_x = -1, math.log(o)
    for i in sorted(marks):
        span = i - prev_i
        walk = np.cumsum(rng.standard_normal(span)) * sd
        frac = np.arange(1, span + 1) / span
        x[prev_i + 1:i + 1] = prev_x + walk - frac * (walk[-1] - (marks[i][0] - prev_x))
        prev_i, prev_x = i, marks[i][0]
    prices = np.clip(_round_to(np.exp(x), p.price_decimals), lo, h)
    for i, (_, price) in marks.items():
        prices[i] = price

    k = int(np.searchsorted(times, cut_ms - open_ms, side="left"))
    if k == 0:
        return (o, o, o, o, 0.0, 0.0, 0)
    if k == m:
        return final
    seen = prices[:k]
    n_seen = int(counts[:k].sum())
    scale = 10.0**p.size_decimals
    v_seen = min(max(math.floor(v * n_seen / n * scale), 1) / scale, v)
    hi_seen, lo_seen = max(o, float(seen.max())), min(o, float(seen.min()))
    mean_price = float(np.dot(counts[:k], seen) / n_seen)
    q_seen = v_seen * min(max(mean_price, lo_seen), hi_seen)
    return (o, hi_seen, lo_seen, float(seen[-1]), v_seen, q_seen, n_seen)


# --- assembling frames -------------------------------------------------------------------

_CHUNK_ROWS = 1 << 21  # base rows generated per coarse chunk (bounded memory)


class SyntheticMarket:
    """A deterministic synthetic market at a 1s or 1m base.

    Parameters
    ----------
    seed : int, default 0
        Any integer; different seeds are different markets.
    base : {"1m", "1s"}, default "1m"
        The finest candles; the two bases are two different markets (sharing daily
        anchors). 1s candles need ``base="1s"``.

    Examples
    --------
    >>> market = SyntheticMarket(seed=7)
    >>> hourly = market.candles("BTC", "1h", "2025-07-01", "2025-07-02")
    >>> len(hourly), hourly.attrs["source"]
    (24, 'synthetic')
    """

    def __init__(self, seed: int = 0, *, base: str = "1m"):
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)):
            raise TypeError(f"seed must be an integer, got {seed!r}")
        if base not in BASES:
            raise InvalidIntervalError(base, BASES)
        self.seed = int(seed) % 2**64
        self.base = base
        self._step = parse_interval(base).nominal_ms

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed}, base={self.base!r})"

    def profile(self, symbol: str) -> CoinProfile:
        """Price level, tick, lot size, volatility and liquidity of ``symbol``."""
        return coin_profile(symbol)

    def price_hint(self, symbol: str) -> float:
        """The reference price level of ``symbol`` (its prices wander around it)."""
        return coin_profile(symbol).price

    def candles(self, symbol: str, interval: str, start: TimeLike, end: TimeLike, *,
                alignment: Alignment = "calendar", now: TimeLike | None = None
                ) -> pd.DataFrame:
        """Candles of ``symbol`` for every bucket overlapping ``[start, end)``.

        Parameters
        ----------
        symbol : str
            Any coin name (``"BTC"``, ``"xyz:NVDA"``, ...).
        interval : str
            One of the 15 intervals; ``"1s"`` needs ``base="1s"``.
        start, end : time
            Epoch ms, ISO string, datetime or Timestamp (naive = UTC); ``end`` exclusive.
            Buckets are whole: the first and last are complete even where they reach
            outside the range.
        alignment : {"calendar", "hyperliquid"}, default "calendar"
            Bucket alignment of 3d/1w/1M.
        now : time, optional
            The market's clock. Candles only exist before it: base candles opening at or
            after ``now`` do not exist; the base candle holding ``now`` is built from the
            trades made before ``now`` and is open, and so is every coarser bucket
            holding ``now``. ``None`` (the default) means the whole range is history:
            every candle is closed.

        Returns
        -------
        pandas.DataFrame
            A valid canonical frame, ``attrs["source"] == "synthetic"``.

        Raises
        ------
        InvalidTimeError
            If ``end`` is not after ``start``, or the range starts before 1970-01-01.
        InvalidIntervalError
            For an unknown interval.
        ResampleError
            For ``"1s"`` with ``base="1m"``.
        """
        coin_profile(symbol)  # a clear error for a bad symbol before any work
        iv = parse_interval(interval)
        check_alignment(alignment)
        if iv.nominal_ms < self._step:
            raise ResampleError(
                f"Synthetic {iv.name} candles need base='1s': the base={self.base!r} market "
                f"has nothing finer than {self.base}. Use SyntheticMarket(base='1s') "
                "(a different market), or ask for 1m or coarser.")
        first, last = ordinal_bounds(start, end, iv, alignment=alignment)
        ords = np.arange(first, last + 2, dtype=np.int64)
        edges = ordinal_to_ms(ords, iv, alignment=alignment)
        if edges[0] < 0:
            raise InvalidTimeError(
                f"Synthetic candles begin at 1970-01-01T00:00Z; the {iv.name} bucket holding "
                f"start opens at {pd.Timestamp(int(edges[0]), unit='ms', tz='UTC')}. "
                "Start later.", start)
        now_ms = None if now is None else to_ms(now)
        if now_ms is not None:
            edges = edges[: int(np.searchsorted(edges[:-1], now_ms, side="left")) + 1]
        attrs = {"symbol": symbol, "interval": iv.name, "alignment": alignment, "source": SOURCE}
        if len(edges) < 2:
            return empty_frame(**attrs)
        if iv.name == self.base:
            return self._base_frame(symbol, int(edges[0]), int(edges[-1]), now_ms, attrs)
        return self._coarse_frame(symbol, iv.name, edges, now_ms, attrs)

    def _coarse_frame(self, symbol: str, interval: str, edges: np.ndarray,
                      now_ms: int | None, attrs: dict) -> pd.DataFrame:
        rows = np.cumsum(np.diff(edges) // self._step)
        cuts = [0]
        while cuts[-1] < len(rows):
            done = rows[cuts[-1] - 1] if cuts[-1] else 0
            cuts.append(max(int(np.searchsorted(rows, done + _CHUNK_ROWS, side="right")),
                            cuts[-1] + 1))
        base_attrs = {**attrs, "interval": self.base}
        parts = []
        for a, b in itertools.pairwise(cuts):
            fine = self._base_frame(symbol, int(edges[a]), int(edges[b]), now_ms, base_attrs)
            parts.append(resample(fine, interval, alignment=attrs["alignment"])
                         .drop(columns=["constituents", "expected_constituents"]))
        out = parts[0] if len(parts) == 1 else pd.concat(parts)
        out.attrs = dict(attrs)
        return out

    def _base_frame(self, symbol: str, lo: int, hi: int, now_ms: int | None,
                    attrs: dict) -> pd.DataFrame:
        """Base candles opening in ``[lo, hi)`` (base-aligned), cut at ``now_ms``."""
        step = self._step
        partial_at = None
        if now_ms is not None and now_ms < hi:
            first_missing = -(-now_ms // step) * step  # the first open at or after now
            if now_ms % step:
                partial_at = first_missing - step
            hi = max(min(hi, first_missing), lo)
        n = (hi - lo) // step
        cols = [np.empty(n) for _ in range(6)] + [np.empty(n, dtype=np.int64)]
        for day in range(lo // DAY, -(-hi // DAY)):
            day_lo, day_hi = max(lo, day * DAY), min(hi, (day + 1) * DAY)
            src = slice((day_lo - day * DAY) // step, (day_hi - day * DAY) // step)
            dst = slice((day_lo - lo) // step, (day_hi - lo) // step)
            for out, arr in zip(cols, _day_candles(self.seed, self.base, symbol, day)):
                out[dst] = arr[src]
        closed = np.ones(n, dtype=bool)
        if partial_at is not None and lo <= partial_at:
            i = (partial_at - lo) // step
            final = tuple(col[i].item() for col in cols)
            for col, val in zip(cols, _partial_candle(self.seed, self.base, symbol,
                                                      partial_at, step, final, now_ms)):
                col[i] = val
            closed[i] = False
        o, h, lo_, c, v, q, trades = cols
        df = pd.DataFrame(
            {"open": o, "high": h, "low": lo_, "close": c, "volume": v,
             "quote_volume": pd.arrays.FloatingArray(q, np.zeros(n, dtype=bool)),
             "trades": pd.arrays.IntegerArray(trades, np.zeros(n, dtype=bool)),
             "closed": closed},
            index=to_index(np.arange(lo, hi, step, dtype=np.int64)), copy=False)
        df.attrs = dict(attrs)
        return df


def synthetic_candles(symbol: str, interval: str, start: TimeLike, end: TimeLike, *,
                      seed: int = 0, base: str = "1m", alignment: Alignment = "calendar",
                      now: TimeLike | None = None) -> pd.DataFrame:
    """Synthetic candles of any coin: ``SyntheticMarket(seed, base=base).candles(...)``.

    Deterministic (same arguments, same candles) and range-independent (a candle does
    not depend on the range asked for). See :mod:`candlekit.synthetic` for how the market
    is built.

    Parameters
    ----------
    symbol : str
        Any coin name (``"BTC"``, ``"xyz:NVDA"``, ``"@107"`` ...).
    interval : str
        Target interval; ``1s`` needs ``base="1s"``.
    start, end : time
        The buckets overlapping ``[start, end)``.
    seed : int, default 0
        Seed of the market.
    base : {"1m", "1s"}, default "1m"
        Resolution the market is generated at (two different markets); coarser intervals
        are exactly :func:`candlekit.resample` of the base candles.
    alignment : {"calendar", "hyperliquid"}, default "calendar"
    now : time, optional
        Generate only up to ``now``; the candle holding it is partial and not closed.

    Returns
    -------
    pandas.DataFrame
        A canonical frame with ``attrs["source"] == "synthetic"``.

    Examples
    --------
    >>> df = synthetic_candles("ETH", "1d", "2025-01-01", "2025-02-01", seed=1)
    >>> len(df), bool(df["closed"].all())
    (31, True)
    """
    return SyntheticMarket(seed, base=base).candles(symbol, interval, start, end,
                                                    alignment=alignment, now=now)
