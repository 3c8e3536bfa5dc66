"""What candles exist at the market clock, and their wire records, served fast.

The market
----------
Candles come from :class:`candlekit.synthetic.SyntheticMarket` (seeded, deterministic,
range-independent), relabelled ``source="emulator"``:

* Hyperliquid mode serves ``alignment="hyperliquid"`` buckets (epoch-aligned 3d, Thursday
  weeks, 30-day months) of the ``base="1m"`` market; no 1s candles.
* Hydromancer mode serves ``alignment="calendar"`` buckets (Monday weeks, calendar months).
  Intervals of 1m and coarser come from the ``base="1m"`` market and 1s candles from the
  ``base="1s"`` market. **These are two different markets** (they share each day's opening
  price but not the paths within a day), exactly as ``SyntheticMarket`` documents: 1s
  candles do not aggregate to the 1m candles served.

What exists at the clock ``now``
--------------------------------
* No candle opens before the coin's listing time (:mod:`.catalog`): the first candle of
  a 3d/1w/1M series is the first bucket opening at or after the listing.
* The last candle is the bucket holding ``now - 1 ms``: it is the *open* candle (built
  from the trades before ``now``, ``x: false``) when ``now`` is inside it, and closed when
  ``now`` is exactly at its end. Nothing opens at or after ``now``.
* Hyperliquid mode: only the last ``window`` buckets of each coin and interval (the open
  one included) are served, as the exchange keeps only its most recent 5000 candles.
* Hydromancer mode: the whole history from listing, except 1s candles: only the last 7
  days before the clock are kept (memory stays bounded).
* Hydromancer's quote volume ``q`` is ``null`` for every bucket opening before 2025-08-01
  (for 3d/1w/1M: every bucket holding such a day); Hyperliquid's records have no ``q``.

Caching
-------
Closed candles never change, whatever the clock, so they are cached in blocks of up to
8192 buckets per coin and interval (fewer for coarse intervals, so that a block never
needs more than 64 days of base candles): numpy columns plus the encoded records of each
wire flavour (encoded lazily, one byte buffer with record offsets per block; see
:mod:`.encode`). A block only grows, towards the clock, and only up to it; blocks are
evicted least-recently-used beyond ``cache_rows`` rows. The open candle is computed per
clock value (small LRU cache). :meth:`EmulatedMarket.truth` does not use the caches: it
asks the synthetic market directly, which makes it an independent check of the server.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from ..errors import EmulatorConfigError, InvalidIntervalError, UnknownSymbolError
from ..frame import empty_frame
from ..intervals import (
    DAY,
    INTERVALS,
    Interval,
    bucket_ordinal,
    close_ms,
    ordinal_to_ms,
    parse_interval,
)
from ..synthetic import SyntheticMarket, coin_profile
from ..timeutil import TimeLike, to_ms
from .catalog import COINS, Coin, by_name
from .encode import Columns, RecordLayout

__all__ = [
    "HYDROMANCER_1S_HISTORY_MS",
    "HYPERLIQUID_INTERVALS",
    "MODES",
    "QUOTE_VOLUME_SINCE_MS",
    "SOURCE",
    "CandleRow",
    "EmulatedMarket",
    "Flavor",
    "Page",
]

Flavor = Literal["hyperliquid", "hydromancer"]
MODES: tuple[str, ...] = ("hyperliquid", "hydromancer")
SOURCE = "emulator"
HYPERLIQUID_INTERVALS: tuple[str, ...] = tuple(i for i in INTERVALS if i != "1s")
QUOTE_VOLUME_SINCE_MS = to_ms("2025-08-01")
HYDROMANCER_1S_HISTORY_MS = 7 * DAY

_BLOCK_MAX = 8192
_BLOCK_BASE_SPAN_MS = 64 * DAY
_OPEN_CACHE = 64


class CandleRow(NamedTuple):
    """One candle's values (the open candle, for faults that alter it)."""

    t: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int


class _Grid:
    """Bucket arithmetic on Python ints for one interval and alignment."""

    def __init__(self, iv: Interval, alignment: str):
        self.iv = iv
        self.alignment = alignment
        self.step = iv.step_ms(alignment)
        self.offset = iv.offset_ms(alignment)

    def ord(self, ms: int) -> int:
        """Ordinal of the bucket holding ``ms``."""
        if self.step is not None:
            return (ms - self.offset) // self.step
        return int(bucket_ordinal(np.array([ms], dtype=np.int64), self.iv,
                                  alignment=self.alignment)[0])

    def ceil_ord(self, ms: int) -> int:
        """Ordinal of the first bucket opening at or after ``ms``."""
        return self.ord(ms - 1) + 1

    def open(self, o: int) -> int:
        """Open time of bucket ``o``."""
        if self.step is not None:
            return o * self.step + self.offset
        return int(ordinal_to_ms(np.array([o], dtype=np.int64), self.iv,
                                 alignment=self.alignment)[0])

    def close(self, o: int) -> int:
        """Close time ``T`` (last millisecond) of bucket ``o``."""
        return self.open(o + 1) - 1


def _block_len(iv: Interval) -> int:
    return int(min(_BLOCK_MAX, max(1, _BLOCK_BASE_SPAN_MS // iv.nominal_ms)))


class _Encoding:
    __slots__ = ("buf", "count", "off")

    def __init__(self, cap: int):
        self.buf = bytearray()
        self.off = np.zeros(cap + 1, dtype=np.int64)
        self.count = 0


class _Block:
    """Closed candles of buckets ``[lo, lo + cap)``, filled from ``lo`` on."""

    __slots__ = ("cap", "cols", "count", "enc", "lo", "t")

    def __init__(self, lo: int, cap: int):
        self.lo = lo
        self.cap = cap
        self.count = 0
        self.t = np.empty(cap, dtype=np.int64)
        self.cols = {name: np.empty(cap) for name in
                     ("open", "high", "low", "close", "volume", "quote_volume")}
        self.cols["trades"] = np.empty(cap, dtype=np.int64)
        self.enc: dict[str, _Encoding] = {}


def snap_to_grid(df: pd.DataFrame, *, price_decimals: int, size_decimals: int
                 ) -> pd.DataFrame:
    """Candles with every value on the decimal grid the exchange would send it on.

    The exchange keeps prices and sizes as fixed-point decimals, so its strings are exact
    decimals (``"1881.39809"``), never the float noise of summing sizes
    (``1881.3980899999997``). Prices are rounded to the coin's tick (``10 **
    -price_decimals``), volumes to its lot (``10 ** -size_decimals``) and quote volumes to
    their product (``10 ** -(price_decimals + size_decimals)``), each to the float nearest
    that decimal, whose shortest spelling is then that decimal.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame.
    price_decimals, size_decimals : int
        The coin's grids (:func:`candlekit.synthetic.coin_profile`).

    Returns
    -------
    pandas.DataFrame
        A new frame (same attrs); ``df`` is not changed.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"open": [1.5], "high": [1.5], "low": [1.5], "close": [1.5],
    ...                    "volume": [1881.3980899999997],
    ...                    "quote_volume": pd.array([115527.56124000001], dtype="Float64")})
    >>> out = snap_to_grid(df, price_decimals=1, size_decimals=5)
    >>> repr(float(out["volume"].iloc[0])), repr(float(out["quote_volume"].iloc[0]))
    ('1881.39809', '115527.56124')
    """
    out = df.copy()
    for name in ("open", "high", "low", "close"):
        out[name] = np.round(out[name].to_numpy(dtype=np.float64), price_decimals)
    out["volume"] = np.round(out["volume"].to_numpy(dtype=np.float64), size_decimals)
    if "quote_volume" in out:
        q = out["quote_volume"].array
        values = np.round(np.asarray(q.to_numpy(dtype=np.float64, na_value=0.0)),
                          price_decimals + size_decimals)
        mask = np.asarray(pd.isna(q))
        out["quote_volume"] = pd.arrays.FloatingArray(values, mask)
    out.attrs = dict(df.attrs)
    return out


class _Series:
    """One coin and interval as this market serves it."""

    def __init__(self, coin: Coin, iv: Interval, alignment: str, synth: SyntheticMarket):
        self.coin = coin
        self.iv = iv
        self.alignment = alignment
        self.synth = synth
        self.grid = _Grid(iv, alignment)
        self.block_len = _block_len(iv)
        self.first_ord = self.grid.ceil_ord(coin.listed_ms)
        self.lock = threading.Lock()
        self._layouts: dict[str, RecordLayout] = {}
        profile = coin_profile(coin.name)
        self._decimals = (profile.price_decimals, profile.size_decimals)

    def snap(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with its values on the exchange's decimal grids (see :func:`snap_to_grid`)."""
        return snap_to_grid(df, price_decimals=self._decimals[0],
                            size_decimals=self._decimals[1])

    def layout(self, flavor: str) -> RecordLayout:
        lay = self._layouts.get(flavor)
        if lay is None:
            lay = self._layouts[flavor] = RecordLayout(
                self.coin.name, self.iv.name, hydromancer=flavor == "hydromancer",
                price_decimals=self._decimals[0], size_decimals=self._decimals[1])
        return lay

    def columns(self, t: np.ndarray, cols: dict[str, np.ndarray], *, closed: bool,
                flavor: str) -> Columns:
        hydro = flavor == "hydromancer"
        return Columns(t=t, T=close_ms(t, self.iv, alignment=self.alignment),
                       open=cols["open"], high=cols["high"], low=cols["low"],
                       close=cols["close"], volume=cols["volume"],
                       quote_volume=cols["quote_volume"],
                       quote_null=(t < QUOTE_VOLUME_SINCE_MS) if hydro else np.ones(len(t), bool),
                       trades=cols["trades"], closed=np.full(len(t), closed))


@dataclass
class Page:
    """The candles of one ``candleSnapshot`` answer, oldest first, as encoded records.

    Attributes
    ----------
    chunks : list of (bytes, numpy.ndarray)
        Closed candles: records joined by commas, with the offsets where each starts
        (one past the end: the chunk length plus one).
    open_row : CandleRow or None
        The open candle, last, when the page reaches it.
    open_record : bytes or None
        Its encoded record.
    count : int
        Records in the page.
    """

    chunks: list[tuple[bytes, np.ndarray]] = field(default_factory=list)
    open_row: CandleRow | None = None
    open_record: bytes | None = None
    count: int = 0

    def body(self) -> bytes:
        """The JSON array of the page's records."""
        parts = [c for c, _ in self.chunks if c]
        if self.open_record is not None:
            parts.append(self.open_record)
        return b"[" + b",".join(parts) + b"]"

    def records(self) -> list[bytes]:
        """Every record of the page, one ``bytes`` each."""
        out = [bytes(chunk[off[i]:off[i + 1] - 1]) for chunk, off in self.chunks
               for i in range(len(off) - 1)]
        if self.open_record is not None:
            out.append(self.open_record)
        return out


class EmulatedMarket:
    """The candles an emulated API serves at a given clock.

    Parameters
    ----------
    seed : int
        Seed of the synthetic market.
    mode : {"hyperliquid", "hydromancer"}
        Which API is emulated (alignment, intervals, history; see the module notes).
    window : int, default 5000
        Hyperliquid mode: buckets kept per coin and interval, the open one included.
    cache_rows : int, default 1_000_000
        Closed candles kept in the block cache (about 200 bytes each).

    Notes
    -----
    Thread-safe.
    """

    def __init__(self, seed: int, *, mode: str = "hyperliquid", window: int = 5000,
                 cache_rows: int = 1_000_000):
        if mode not in MODES:
            raise EmulatorConfigError("mode", mode, f"use one of {', '.join(MODES)}")
        for name, value in (("window", window), ("cache_rows", cache_rows)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EmulatorConfigError(name, value, "use a positive integer")
        self.seed = seed
        self.mode = mode
        self.window = window
        self.cache_rows = cache_rows
        self.alignment = "hyperliquid" if mode == "hyperliquid" else "calendar"
        self.intervals = HYPERLIQUID_INTERVALS if mode == "hyperliquid" else INTERVALS
        self._synth = {"1m": SyntheticMarket(seed, base="1m")}
        if mode == "hydromancer":
            self._synth["1s"] = SyntheticMarket(seed, base="1s")
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._blocks: collections.OrderedDict[tuple, _Block] = collections.OrderedDict()
        self._open: collections.OrderedDict[tuple, tuple[CandleRow, dict]] = (
            collections.OrderedDict())

    # --- what is listed ------------------------------------------------------------------

    def coins(self) -> list[str]:
        """Names of every coin served."""
        return [c.name for c in COINS]

    def has_coin(self, name: object) -> bool:
        """Whether ``name`` is a coin served."""
        return isinstance(name, str) and by_name(name) is not None

    def _get_series(self, coin: str, interval: str | Interval) -> _Series:
        c = by_name(coin) if isinstance(coin, str) else None
        if c is None:
            raise UnknownSymbolError(f"Unknown coin: {coin!r}. The emulator serves "
                                     f"{', '.join(self.coins())}.", coin)
        iv = parse_interval(interval)
        if iv.name not in self.intervals:
            raise InvalidIntervalError(iv.name, self.intervals)
        key = (c.name, iv.name)
        series = self._series.get(key)
        if series is None:
            with self._lock:
                series = self._series.get(key)
                if series is None:
                    base = "1s" if iv.name == "1s" else "1m"
                    series = self._series[key] = _Series(c, iv, self.alignment,
                                                         self._synth[base])
        return series

    def _bounds(self, s: _Series, now_ms: int) -> tuple[int, int, bool]:
        """(first ordinal served, last ordinal existing, whether the last is open)."""
        last = s.grid.ord(now_ms - 1)
        first = s.first_ord
        if self.mode == "hyperliquid":
            first = max(first, last - self.window + 1)
        elif s.iv.name == "1s":
            first = max(first, s.grid.ceil_ord(now_ms - HYDROMANCER_1S_HISTORY_MS))
        return first, last, s.grid.close(last) >= now_ms

    def earliest(self, coin: str, interval: str, now_ms: int) -> int:
        """Open time (epoch ms) of the earliest candle served at ``now_ms``.

        When nothing exists yet (the clock is before the listing), the open time of the
        first candle the coin will have.

        Raises
        ------
        UnknownSymbolError, InvalidIntervalError
            For a coin or interval this market does not serve.
        """
        s = self._get_series(coin, interval)
        return s.grid.open(self._bounds(s, now_ms)[0])

    # --- pages ---------------------------------------------------------------------------

    def page(self, coin: str, interval: str, lo_ms: int, hi_ms: int, now_ms: int, *,
             limit: int = 5000, flavor: Flavor | None = None) -> Page:
        """The oldest ``limit`` candles served with open time in ``[lo_ms, hi_ms)``.

        Parameters
        ----------
        coin, interval : str
        lo_ms, hi_ms : int
            Open-time range, ``hi_ms`` exclusive.
        now_ms : int
            The market clock.
        limit : int, default 5000
        flavor : {"hyperliquid", "hydromancer"}, optional
            Record shape (default: the market's mode).

        Returns
        -------
        Page

        Raises
        ------
        UnknownSymbolError, InvalidIntervalError
            For a coin or interval this market does not serve.
        """
        s = self._get_series(coin, interval)
        flavor = flavor or self.mode
        page = Page()
        lo_ms, hi_ms = max(lo_ms, 0), min(hi_ms, now_ms)
        if hi_ms <= lo_ms:
            return page
        first, last, last_open = self._bounds(s, now_ms)
        a = max(s.grid.ceil_ord(lo_ms), first)
        b = min(s.grid.ord(hi_ms - 1), last, a + limit - 1)
        if a > b:
            return page
        with_open = b == last and last_open
        page.chunks = self._closed_chunks(s, a, b - 1 if with_open else b,
                                          last - 1 if last_open else last, flavor)
        page.count = sum(len(off) - 1 for _, off in page.chunks)
        if with_open:
            page.open_row, page.open_record = self._open_candle(s, last, now_ms, flavor)
            page.count += 1
        return page

    def preceding(self, coin: str, interval: str, before_ms: int, now_ms: int, k: int, *,
                  flavor: Flavor | None = None) -> list[bytes]:
        """Up to ``k`` served closed candles opening just before ``before_ms``, oldest first."""
        s = self._get_series(coin, interval)
        first, last, last_open = self._bounds(s, now_ms)
        b = min(s.grid.ceil_ord(before_ms) - 1, last - 1 if last_open else last)
        a = max(b - k + 1, first)
        if a > b or k < 1:
            return []
        page = Page(chunks=self._closed_chunks(s, a, b, b, flavor or self.mode))
        return page.records()

    def encode_open(self, coin: str, interval: str, row: CandleRow, *,
                    flavor: Flavor | None = None) -> bytes:
        """The record of ``row`` as an open candle (``x: false``)."""
        s = self._get_series(coin, interval)
        return self._encode_row(s, row, flavor or self.mode)

    def _closed_chunks(self, s: _Series, a: int, c: int, last_closed: int, flavor: str
                       ) -> list[tuple[bytes, np.ndarray]]:
        """Encoded closed candles of buckets ``a..c`` (inclusive), one chunk per block."""
        if c < a:
            return []
        chunks = []
        touched = []
        with s.lock:
            for k in range(a // s.block_len, c // s.block_len + 1):
                block = self._block(s, k)
                touched.append((s.coin.name, s.iv.name, k))
                self._fill(s, block, min((k + 1) * s.block_len, last_closed + 1))
                enc = self._encoded(s, block, flavor)
                i = max(a, block.lo) - block.lo
                j = min(c + 1, block.lo + block.count) - block.lo
                if j <= i:
                    continue
                off = enc.off[i:j + 1] - enc.off[i]
                chunks.append((enc.buf[enc.off[i]:enc.off[j] - 1], off))
        self._touch(touched)
        return chunks

    def _block(self, s: _Series, k: int) -> _Block:
        key = (s.coin.name, s.iv.name, k)
        with self._lock:
            block = self._blocks.get(key)
            if block is None:
                lo = max(k * s.block_len, s.first_ord)
                block = self._blocks[key] = _Block(lo, (k + 1) * s.block_len - lo)
        return block

    def _touch(self, keys: list[tuple]) -> None:
        with self._lock:
            for key in keys:
                if key in self._blocks:
                    self._blocks.move_to_end(key)
            rows = sum(b.count for b in self._blocks.values())
            while rows > self.cache_rows and len(self._blocks) > 1:
                _, old = self._blocks.popitem(last=False)
                rows -= old.count

    def _fill(self, s: _Series, block: _Block, upto: int) -> None:
        """Generate the block's closed candles up to bucket ``upto`` (exclusive)."""
        start = block.lo + block.count
        if upto <= start:
            return
        df = s.snap(s.synth.candles(s.coin.name, s.iv.name, s.grid.open(start),
                                    s.grid.open(upto), alignment=s.alignment))
        i, j = block.count, block.count + len(df)
        block.t[i:j] = df.index.asi8
        for name, col in block.cols.items():
            if name == "trades":
                col[i:j] = df[name].to_numpy(dtype=np.int64, na_value=0)
            else:
                col[i:j] = df[name].to_numpy(dtype=np.float64, na_value=np.nan)
        block.count = j

    def _encoded(self, s: _Series, block: _Block, flavor: str) -> _Encoding:
        enc = block.enc.get(flavor)
        if enc is None:
            enc = block.enc[flavor] = _Encoding(block.cap)
        if enc.count < block.count:
            i, j = enc.count, block.count
            cols = {name: col[i:j] for name, col in block.cols.items()}
            buf, off = s.layout(flavor).encode(s.columns(block.t[i:j], cols, closed=True,
                                                         flavor=flavor))
            enc.off[i:j + 1] = off + len(enc.buf)
            enc.buf += buf
            enc.count = j
        return enc

    def _open_candle(self, s: _Series, o: int, now_ms: int, flavor: str
                     ) -> tuple[CandleRow, bytes]:
        key = (s.coin.name, s.iv.name, o, now_ms)
        with self._lock:
            hit = self._open.get(key)
        if hit is None:
            t = s.grid.open(o)
            df = s.snap(s.synth.candles(s.coin.name, s.iv.name, t, t + 1,
                                        alignment=s.alignment, now=now_ms))
            r = df.iloc[-1]
            row = CandleRow(t, float(r["open"]), float(r["high"]), float(r["low"]),
                            float(r["close"]), float(r["volume"]), float(r["quote_volume"]),
                            int(r["trades"]))
            hit = (row, {})
            with self._lock:
                self._open[key] = hit
                while len(self._open) > _OPEN_CACHE:
                    self._open.popitem(last=False)
        row, records = hit
        record = records.get(flavor)
        if record is None:
            record = records[flavor] = self._encode_row(s, row, flavor)
        return row, record

    def _encode_row(self, s: _Series, row: CandleRow, flavor: str) -> bytes:
        cols = {name: np.array([getattr(row, name)], dtype=np.int64 if name == "trades"
                               else np.float64)
                for name in ("open", "high", "low", "close", "volume", "quote_volume",
                             "trades")}
        buf, _ = s.layout(flavor).encode(
            s.columns(np.array([row.t], dtype=np.int64), cols, closed=False, flavor=flavor))
        return buf[:-1]

    # --- the truth -----------------------------------------------------------------------

    def truth(self, coin: str, interval: str, start: TimeLike, end: TimeLike, now_ms: int, *,
              source: str = SOURCE) -> pd.DataFrame:
        """Every candle of the market with open time in ``[start, end)`` at ``now_ms``.

        Ignores the Hyperliquid window and the 7-day limit on Hydromancer 1s history
        (see :meth:`earliest` for what is served), not the listing time. The candle
        holding ``now_ms`` is open (``closed=False``); ``quote_volume`` is null where the
        wire has none (every candle in Hyperliquid mode, buckets before 2025-08-01 in
        Hydromancer mode). Computed from the synthetic market directly, not the caches.

        Parameters
        ----------
        coin, interval : str
        start, end : time
            Open-time range, ``end`` exclusive.
        now_ms : int
            The market clock.
        source : str, default "emulator"
            Label put in ``attrs["source"]``.

        Returns
        -------
        pandas.DataFrame
            A canonical frame, ``attrs["source"] == source``, alignment per mode.

        Raises
        ------
        UnknownSymbolError, InvalidIntervalError
            For a coin or interval this market does not serve.
        InvalidTimeError
            For an unreadable time.
        """
        s = self._get_series(coin, interval)
        lo, hi = to_ms(start), min(to_ms(end), now_ms)
        attrs = {"symbol": s.coin.name, "interval": s.iv.name, "alignment": s.alignment,
                 "source": source}
        a = max(s.grid.ceil_ord(max(lo, 0)), s.first_ord)
        b = s.grid.ord(hi - 1)
        if hi <= lo or a > b:
            return empty_frame(**attrs)
        df = s.snap(s.synth.candles(s.coin.name, s.iv.name, s.grid.open(a),
                                    s.grid.open(b) + 1, alignment=s.alignment, now=now_ms))
        t = df.index.asi8
        q = df["quote_volume"].to_numpy(dtype=np.float64, na_value=0.0)
        null = (np.ones(len(t), dtype=bool) if self.mode == "hyperliquid"
                else t < QUOTE_VOLUME_SINCE_MS)
        df["quote_volume"] = pd.arrays.FloatingArray(np.where(null, 0.0, q), null)
        df["closed"] = close_ms(t, s.iv, alignment=s.alignment) < now_ms
        df.attrs = attrs
        return df
