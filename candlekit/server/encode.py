"""Candle frames to JSON bytes, column by column: no per-row Python objects.

Every number is formatted once per column (``orjson`` writes a whole float64 array as
the shortest text that reads back as the same float), and a compiled kernel then
interleaves the columns into records. The bytes are the JSON of
:func:`candlekit.wire.to_rest` and :func:`candlekit.wire.to_wire` (the tests compare
them value for value):

* kline REST records: ``{"timestamp": "2026-04-01T00:00:00Z", "open": 67000.0, ...,
  "volume", "quote_volume" (or null), "trades" (or null), "closed"}``; the timestamp
  shows milliseconds only when they are not zero;
* ``candleSnapshot`` records: ``{"t", "T", "s", "i", "o", "h", "l", "c", "v", ["q"],
  "n", ["x"]}``, decimals as strings never in exponent notation (the rare value orjson
  writes with an exponent is spelled by :func:`candlekit.wire.format_decimal`).
"""

from __future__ import annotations

import json

import numba
import numpy as np
import pandas as pd

from ..asciinum import write_int as _int
from ..frame import masked_parts
from ..intervals import close_ms
from ..wire import format_decimal
from ._deps import orjson

__all__ = ["dumps", "rest_json", "wire_json"]

# slot kinds
_INT, _INT_NULL, _TOKEN, _QTOKEN, _QTOKEN_NULL, _BOOL, _ISO = range(7)


def dumps(obj: object) -> bytes:
    """JSON bytes of plain data (dicts, lists, numpy scalars and arrays)."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


# --- the kernel ------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _digits(out, pos, v, width):  # pragma: no cover - compiled
    for i in range(width):
        out[pos + width - 1 - i] = 48 + v % 10
        v //= 10
    return pos + width


@numba.njit(cache=True, nogil=True)
def _iso(out, pos, ms):  # pragma: no cover - compiled
    """``"YYYY-MM-DDTHH:MM:SS[.mmm]Z"`` (quoted) of epoch ms (Hinnant's civil_from_days)."""
    days = ms // 86_400_000
    rem = ms - days * 86_400_000
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    out[pos] = 34
    pos = _digits(out, pos + 1, y, 4)
    out[pos] = 45
    pos = _digits(out, pos + 1, m, 2)
    out[pos] = 45
    pos = _digits(out, pos + 1, d, 2)
    out[pos] = 84
    pos = _digits(out, pos + 1, rem // 3_600_000, 2)
    out[pos] = 58
    pos = _digits(out, pos + 1, (rem // 60_000) % 60, 2)
    out[pos] = 58
    pos = _digits(out, pos + 1, (rem // 1000) % 60, 2)
    if rem % 1000:
        out[pos] = 46
        pos = _digits(out, pos + 1, rem % 1000, 3)
    out[pos] = 90
    out[pos + 1] = 34
    return pos + 2


@numba.njit(cache=True, nogil=True)
def _null(out, pos):  # pragma: no cover - compiled
    out[pos] = 110
    out[pos + 1] = 117
    out[pos + 2] = 108
    out[pos + 3] = 108
    return pos + 4


@numba.njit(cache=True, nogil=True)
def _records(lits, lit_off, kinds, icol, mcol, tcol, ints, masks, toks, tok_start, tok_end,
             out):  # pragma: no cover - compiled
    """Write ``[rec,rec,...]`` into ``out``; return the length written."""
    n = ints.shape[0]
    n_slots = kinds.shape[0]
    pos = 0
    out[pos] = 91
    pos += 1
    for r in range(n):
        if r:
            out[pos] = 44
            pos += 1
        for s in range(n_slots):
            for b in range(lit_off[s], lit_off[s + 1]):
                out[pos] = lits[b]
                pos += 1
            kind = kinds[s]
            if (kind == 1 or kind == 4) and masks[r, mcol[s]]:
                pos = _null(out, pos)
            elif kind == 0 or kind == 1:
                pos = _int(out, pos, ints[r, icol[s]])
            elif kind == 5:
                if masks[r, mcol[s]]:
                    for b in (116, 114, 117, 101):
                        out[pos] = b
                        pos += 1
                else:
                    for b in (102, 97, 108, 115, 101):
                        out[pos] = b
                        pos += 1
            elif kind == 6:
                pos = _iso(out, pos, ints[r, icol[s]])
            else:
                c = tcol[s]
                quoted = kind != 2
                if quoted:
                    out[pos] = 34
                    pos += 1
                for b in range(tok_start[r, c], tok_end[r, c]):
                    out[pos] = toks[b]
                    pos += 1
                if quoted:
                    out[pos] = 34
                    pos += 1
        for b in range(lit_off[n_slots], lit_off[n_slots + 1]):
            out[pos] = lits[b]
            pos += 1
    out[pos] = 93
    return pos + 1


# --- columns ---------------------------------------------------------------------------------


def _float_tokens(x: np.ndarray, *, positional: bool) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Shortest round-trip text of every float (NaN as ``null``), with start/end offsets."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    buf = orjson.dumps(x, option=orjson.OPT_SERIALIZE_NUMPY)
    view = np.frombuffer(buf, dtype=np.uint8)
    commas = np.flatnonzero(view == 44)  # floats never hold a comma
    starts = np.empty(len(commas) + 1, dtype=np.int64)
    ends = np.empty(len(commas) + 1, dtype=np.int64)
    starts[0], ends[-1] = 1, len(view) - 1
    starts[1:] = commas + 1
    ends[:-1] = commas
    if positional:
        exps = np.flatnonzero(view == 101)  # 'e': only in exponent notation
        if len(exps):
            rows = np.unique(np.searchsorted(starts, exps, side="right") - 1)
            extra = [format_decimal(v).encode("ascii") for v in x[rows].tolist()]
            lens = np.fromiter(map(len, extra), dtype=np.int64, count=len(extra))
            new_ends = len(buf) + np.cumsum(lens)
            starts[rows], ends[rows] = new_ends - lens, new_ends
            buf = buf + b"".join(extra)
    return buf, starts, ends


class _Records:
    """One record shape, built slot by slot from whole columns, written by the kernel."""

    def __init__(self, n: int):
        self.n = n
        self.pieces: list[str] = []
        self.slots: list[tuple[int, int, int, int]] = []  # kind, int col, mask col, tok col
        self.ints: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.tok_bufs: list[bytes] = []
        self.tok_start: list[np.ndarray] = []
        self.tok_end: list[np.ndarray] = []
        self._tok_size = 0
        self.width = 0  # bytes per record beyond literals and tokens, at most
        self._prefix = ""

    def _slot(self, key: str, kind: int, *, ints: np.ndarray | None = None,
              mask: np.ndarray | None = None, tok: int = -1, width: int) -> None:
        sep = "{" if not self.pieces else ","
        self.pieces.append(self._prefix + sep + json.dumps(key) + ":")
        self._prefix = ""
        ic = mc = -1
        if ints is not None:
            self.ints.append(np.asarray(ints, dtype=np.int64))
            ic = len(self.ints) - 1
        if mask is not None:
            self.masks.append(np.asarray(mask, dtype=bool))
            mc = len(self.masks) - 1
        self.slots.append((kind, ic, mc, tok))
        self.width += width

    def constant(self, key: str, value: object) -> None:
        """The same JSON value in every record (written with the next slot's literal)."""
        if not self.pieces:
            raise ValueError("a record cannot start with a constant")  # pragma: no cover
        self._prefix += "," + json.dumps(key) + ":" + json.dumps(value)

    def integer(self, key: str, values: np.ndarray, mask: np.ndarray | None = None) -> None:
        if mask is not None and mask.any():
            self._slot(key, _INT_NULL, ints=values, mask=mask, width=21)
        else:
            self._slot(key, _INT, ints=values, width=21)

    def iso(self, key: str, ms: np.ndarray) -> None:
        self._slot(key, _ISO, ints=ms, width=28)

    def boolean(self, key: str, values: np.ndarray) -> None:
        self._slot(key, _BOOL, mask=values, width=5)

    def floats(self, key: str, values: np.ndarray, *, quoted: bool,
               mask: np.ndarray | None = None) -> None:
        x = np.asarray(values, dtype=np.float64)
        nullable = mask is not None and bool(mask.any())
        if nullable:
            x = np.where(mask, np.nan, x)  # orjson writes NaN as null
        buf, s, e = _float_tokens(x, positional=quoted)
        self.tok_bufs.append(buf)
        self.tok_start.append(s + self._tok_size)
        self.tok_end.append(e + self._tok_size)
        self._tok_size += len(buf)
        tok = len(self.tok_start) - 1
        if nullable and quoted:
            self._slot(key, _QTOKEN_NULL, mask=mask, tok=tok, width=2)
        else:
            self._slot(key, _QTOKEN if quoted else _TOKEN, tok=tok, width=2)

    def build(self) -> bytes:
        n = self.n
        if n == 0:
            return b"[]"
        pieces, slots = list(self.pieces), list(self.slots)
        pieces.append(self._prefix + "}")
        raw = [p.encode("utf-8") for p in pieces]
        lits = np.frombuffer(b"".join(raw), dtype=np.uint8)
        lit_off = np.concatenate([[0], np.cumsum([len(p) for p in raw])]).astype(np.int64)

        def matrix(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
            if not arrays:
                return np.zeros((n, 1), dtype=dtype)
            return np.ascontiguousarray(np.column_stack(arrays), dtype=dtype)

        toks = np.frombuffer(b"".join(self.tok_bufs) or b"\0", dtype=np.uint8)
        cols = np.array(slots, dtype=np.int64).reshape(-1, 4)
        size = n * (len(lits) + self.width + 1) + len(toks) + 2
        out = np.empty(size, dtype=np.uint8)
        end = _records(lits, lit_off, np.ascontiguousarray(cols[:, 0]),
                       np.ascontiguousarray(cols[:, 1]), np.ascontiguousarray(cols[:, 2]),
                       np.ascontiguousarray(cols[:, 3]), matrix(self.ints, np.int64),
                       matrix(self.masks, np.bool_), toks, matrix(self.tok_start, np.int64),
                       matrix(self.tok_end, np.int64), out)
        return out[:end].tobytes()


def _nullable(df: pd.DataFrame, name: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    values, mask = masked_parts(df[name])
    return np.asarray(values).astype(dtype, copy=False), np.asarray(mask, dtype=bool)


# --- the two shapes --------------------------------------------------------------------------


def rest_json(df: pd.DataFrame) -> bytes:
    """Kline REST records of a canonical frame, as JSON bytes (see the module notes).

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame (from the store or the resampler).

    Returns
    -------
    bytes
        A JSON array, oldest first: the JSON of :func:`candlekit.wire.to_rest`.
    """
    rec = _Records(len(df))
    if not len(df):
        return b"[]"
    rec.iso("timestamp", df.index.asi8)
    for name in ("open", "high", "low", "close", "volume"):
        rec.floats(name, df[name].to_numpy(), quoted=False)
    q, q_null = _nullable(df, "quote_volume", np.float64)
    rec.floats("quote_volume", q, quoted=False, mask=q_null)
    trades, t_null = _nullable(df, "trades", np.int64)
    rec.integer("trades", trades, t_null)
    rec.boolean("closed", df["closed"].to_numpy(dtype=bool))
    return rec.build()


def wire_json(df: pd.DataFrame, *, hydromancer: bool) -> bytes:
    """``candleSnapshot`` records of a canonical frame, as JSON bytes.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame with ``attrs`` ``symbol``, ``interval`` and
        ``alignment`` (which decides ``T`` of 1w and 1M candles).
    hydromancer : bool
        Add ``q`` and ``x`` (Hydromancer's records) or not (Hyperliquid's).

    Returns
    -------
    bytes
        The JSON of :func:`candlekit.wire.to_wire` for the same frame.
    """
    if not len(df):
        return b"[]"
    t = df.index.asi8
    iv = df.attrs["interval"]
    rec = _Records(len(df))
    rec.integer("t", t)
    rec.integer("T", close_ms(t, iv, alignment=df.attrs.get("alignment") or "calendar"))
    rec.constant("s", df.attrs["symbol"])
    rec.constant("i", iv)
    for key, name in zip("ohlcv", ("open", "high", "low", "close", "volume")):
        rec.floats(key, df[name].to_numpy(), quoted=True)
    if hydromancer:
        q, q_null = _nullable(df, "quote_volume", np.float64)
        rec.floats("q", q, quoted=True, mask=q_null)
    trades, t_null = _nullable(df, "trades", np.int64)
    rec.integer("n", trades, t_null)
    if hydromancer:
        rec.boolean("x", df["closed"].to_numpy(dtype=bool))
    return rec.build()
