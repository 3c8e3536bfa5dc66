"""Fast ``candleSnapshot`` record encoding: thousands of records in a millisecond.

The emulator answers pages of up to 5000 candles; spelling each record with Python
string formatting costs about 3 µs a record, more than the rest of the server. Here a
compiled kernel writes the records straight into a byte buffer.

The bytes are exactly ``json.dumps(to_wire(df, hydromancer=...), separators=(",", ":"))``
of :func:`candlekit.wire.to_wire`, record by record (the tests check it):

* A price or volume that is an integer number of ``10 ** -d`` (the coin's tick or lot
  grid, where synthetic prices and base volumes sit) is written from that integer; the
  shortest decimal that reads back as the float is then that very decimal, trailing
  zeros removed (any decimal of at most 15 significant digits reads back as a distinct
  float, so no shorter one can). Anything else (sums of volumes, quote volumes, huge or
  negative-zero values) falls back to :func:`candlekit.wire.format_decimal`.
* Each record is followed by a comma, and an offsets array marks where each record
  starts, so records ``i..j-1`` joined by commas are ``buf[off[i]:off[j] - 1]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numba
import numpy as np

from ..asciinum import write_int as _write_int
from ..asciinum import write_uint as _write_uint
from ..wire import format_decimal

__all__ = ["Columns", "RecordLayout"]

_INT, _DEC, _DEC_OR_NULL, _BOOL = 0, 1, 2, 3
_MAX_EXACT = 1e15  # integers below this have at most 15 digits


@dataclass(frozen=True)
class Columns:
    """Candle values to encode, one array per field (all the same length).

    Attributes
    ----------
    t, T : numpy.ndarray of int64
        Open and close times (epoch ms).
    open, high, low, close, volume, quote_volume : numpy.ndarray of float64
    quote_null : numpy.ndarray of bool
        Where the quote volume is unknown (written ``null``).
    trades : numpy.ndarray of int64
    closed : numpy.ndarray of bool
        The Hydromancer ``x`` flag.
    """

    t: np.ndarray
    T: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote_volume: np.ndarray
    quote_null: np.ndarray
    trades: np.ndarray
    closed: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@numba.njit(cache=True, nogil=True)
def _write_decimal(out, pos, k, d):  # pragma: no cover - compiled
    """Write ``k * 10**-d`` as the shortest positional decimal with at least one fraction digit."""
    if k < 0:
        out[pos] = 45
        pos += 1
        k = -k
    if d <= 0:
        pos = _write_uint(out, pos, k)
        if k != 0:
            for _ in range(-d):
                out[pos] = 48
                pos += 1
        out[pos] = 46
        out[pos + 1] = 48
        return pos + 2
    p10 = np.int64(1)
    for _ in range(d):
        p10 *= 10
    pos = _write_uint(out, pos, k // p10)
    frac = k % p10
    out[pos] = 46
    pos += 1
    if frac == 0:
        out[pos] = 48
        return pos + 1
    width = d
    while frac % 10 == 0:
        frac //= 10
        width -= 1
    for i in range(width):
        out[pos + width - 1 - i] = 48 + frac % 10
        frac //= 10
    return pos + width


@numba.njit(cache=True, nogil=True)
def _copy(out, pos, src, lo, hi):  # pragma: no cover - compiled
    for i in range(lo, hi):
        out[pos] = src[i]
        pos += 1
    return pos


@numba.njit(cache=True, nogil=True)
def _encode_kernel(lits, lit_off, kinds, cols, ints, mant, decimals, exact, fb_buf, fb_start,
                   fb_end, nulls, flags, out, rec_off):  # pragma: no cover - compiled
    """Write every record (each followed by a comma) into ``out``; fill ``rec_off``."""
    n = ints.shape[0]
    n_slots = kinds.shape[0]
    pos = 0
    for r in range(n):
        rec_off[r] = pos
        for s in range(n_slots):
            pos = _copy(out, pos, lits, lit_off[s], lit_off[s + 1])
            kind = kinds[s]
            c = cols[s]
            if kind == 0:
                pos = _write_int(out, pos, ints[r, c])
            elif kind == 3:
                if flags[r]:
                    for b in (116, 114, 117, 101):  # true
                        out[pos] = b
                        pos += 1
                else:
                    for b in (102, 97, 108, 115, 101):  # false
                        out[pos] = b
                        pos += 1
            elif kind == 2 and nulls[r]:
                for b in (110, 117, 108, 108):  # null
                    out[pos] = b
                    pos += 1
            else:
                out[pos] = 34
                pos += 1
                if exact[r, c]:
                    pos = _write_decimal(out, pos, mant[r, c], decimals[c])
                else:
                    pos = _copy(out, pos, fb_buf, fb_start[r, c], fb_end[r, c])
                out[pos] = 34
                pos += 1
        pos = _copy(out, pos, lits, lit_off[n_slots], lit_off[n_slots + 1])
        out[pos] = 44  # the comma after each record
        pos += 1
    rec_off[n] = pos
    return pos


def _mantissas(x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Integers ``k`` with ``x == k * 10**-d`` exactly where ``exact`` says so."""
    with np.errstate(invalid="ignore", over="ignore"):
        if d >= 0:
            scale = 10.0**d
            k = np.round(x * scale)
            back = k / scale
        else:
            scale = 10.0**-d
            k = np.round(x / scale)
            back = k * scale
        exact = (back == x) & (np.abs(k) < _MAX_EXACT) & ~np.signbit(x)
    return np.where(exact, k, 0.0).astype(np.int64), exact


class RecordLayout:
    """How one series' records are spelled: coin, interval, and the API's shape.

    Parameters
    ----------
    coin : str
        The coin name written in ``"s"``.
    interval : str
        The interval written in ``"i"``.
    hydromancer : bool
        Add ``"q"`` (quote volume or ``null``) and ``"x"`` (closed), as Hydromancer does.
    price_decimals, size_decimals : int
        The coin's tick and lot grids (``10 ** -decimals``); values off the grid are still
        written exactly, only more slowly.
    """

    def __init__(self, coin: str, interval: str, *, hydromancer: bool, price_decimals: int,
                 size_decimals: int):
        self.coin = coin
        self.interval = interval
        self.hydromancer = hydromancer
        head = f',"s":{json.dumps(coin)},"i":{json.dumps(interval)},"o":'
        pieces = ['{"t":', ',"T":', head, ',"h":', ',"l":', ',"c":', ',"v":']
        kinds = [_INT, _INT, _DEC, _DEC, _DEC, _DEC, _DEC]
        cols = [0, 1, 0, 1, 2, 3, 4]
        if hydromancer:
            pieces += [',"q":', ',"n":', ',"x":']
            kinds += [_DEC_OR_NULL, _INT, _BOOL]
            cols += [5, 2, 0]
        else:
            pieces += [',"n":']
            kinds += [_INT]
            cols += [2]
        pieces.append("}")
        raw = [p.encode("utf-8") for p in pieces]
        self._lits = np.frombuffer(b"".join(raw), dtype=np.uint8)
        self._lit_off = np.concatenate([[0], np.cumsum([len(p) for p in raw])]).astype(np.int64)
        self._kinds = np.array(kinds, dtype=np.int64)
        self._cols = np.array(cols, dtype=np.int64)
        self._decimals = np.array([price_decimals] * 4 + [size_decimals, size_decimals],
                                  dtype=np.int64)
        self._n_dec = 6 if hydromancer else 5

    def encode(self, c: Columns) -> tuple[bytes, np.ndarray]:
        """Encode candles as comma-terminated records.

        Parameters
        ----------
        c : Columns
            The candles, oldest first.

        Returns
        -------
        buf : bytes
            Every record followed by ``,``.
        offsets : numpy.ndarray of int64
            ``len(c) + 1`` positions: record ``i`` is ``buf[offsets[i]:offsets[i + 1] - 1]``.
        """
        n = len(c)
        ints = np.empty((n, 3), dtype=np.int64)
        ints[:, 0], ints[:, 1], ints[:, 2] = c.t, c.T, c.trades
        values = (c.open, c.high, c.low, c.close, c.volume, c.quote_volume)[: self._n_dec]
        mant = np.empty((n, self._n_dec), dtype=np.int64)
        exact = np.empty((n, self._n_dec), dtype=bool)
        fb_start = np.zeros((n, self._n_dec), dtype=np.int64)
        fb_end = np.zeros((n, self._n_dec), dtype=np.int64)
        fallback: list[bytes] = []
        size = 0
        for j, x in enumerate(values):
            mant[:, j], exact[:, j] = _mantissas(np.asarray(x, dtype=np.float64),
                                                 int(self._decimals[j]))
            if j == 5:  # null quote volumes are never formatted
                exact[:, j] |= c.quote_null
            idx = np.flatnonzero(~exact[:, j])
            if len(idx):
                texts = [format_decimal(v).encode("ascii") for v in x[idx].tolist()]
                ends = size + np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)))
                fb_end[idx, j] = ends
                fb_start[idx, j] = ends - np.fromiter(map(len, texts), np.int64, len(texts))
                fallback += texts
                size = int(ends[-1])
        fb_buf = np.frombuffer(b"".join(fallback) or b"\0", dtype=np.uint8)
        per_record = (len(self._lits) + 3 * 21 + 7
                      + int(sum(24 + abs(int(d)) for d in self._decimals[: self._n_dec])))
        out = np.empty(n * per_record + size + 1, dtype=np.uint8)
        offsets = np.empty(n + 1, dtype=np.int64)
        nulls = np.ascontiguousarray(c.quote_null, dtype=bool)
        flags = np.ascontiguousarray(c.closed, dtype=bool)
        end = _encode_kernel(self._lits, self._lit_off, self._kinds, self._cols, ints, mant,
                             self._decimals, exact, fb_buf, fb_start, fb_end, nulls, flags,
                             out, offsets)
        return out[:end].tobytes(), offsets
