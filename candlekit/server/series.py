"""Which stored series answers a request, and the candles it gives.

An interval is served from its own stored series when there is one under the wanted
alignment; otherwise it is resampled on the fly from the coarsest stored interval that
tiles it (``candlekit.tiles``): 1h from 1m, calendar weeks from 1d, ... Only complete
buckets of a resampled series are final; an incomplete one is left out, or kept marked
open (``closed=False``) when asked, and the bucket holding the clock is always kept open.

When several sources hold a symbol, the server's ``sources`` order decides (default:
``hydromancer``, ``hyperliquid``, then the rest alphabetically); a request may name one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InvalidTimeError, SeriesNotFoundError
from ..intervals import (
    INTERVALS,
    Interval,
    bucket_ordinal,
    close_ms,
    ordinal_to_ms,
    parse_interval,
    tiles,
)
from ..resample import resample
from ..store import Store
from ..timeutil import utc_now_ms

__all__ = ["DEFAULT_SOURCE_ORDER", "CandleReader", "Plan"]

DEFAULT_SOURCE_ORDER = ("hydromancer", "hyperliquid")


@dataclass(frozen=True)
class Plan:
    """Where the candles of one request come from.

    Attributes
    ----------
    symbol, interval, alignment : str
        What is served.
    source : str
        The store source label read.
    stored : str
        The stored interval read (``interval`` itself, or the finer one resampled).
    """

    symbol: str
    interval: str
    alignment: str
    source: str
    stored: str

    @property
    def resampled(self) -> bool:
        """Whether the candles are resampled from a finer stored interval."""
        return self.stored != self.interval


class CandleReader:
    """Reads served candles from a store (see the module notes).

    Parameters
    ----------
    store : Store
    sources : sequence of str, optional
        Only these source labels, in this order of preference.
    """

    def __init__(self, store: Store, *, sources: tuple[str, ...] | None = None):
        self.store = store
        self.sources = tuple(sources) if sources else None

    # --- listing ---------------------------------------------------------------------------

    def source_order(self, available: list[str]) -> list[str]:
        """``available`` labels in the order of preference (only allowed ones)."""
        if self.sources is not None:
            return [s for s in self.sources if s in available]
        first = [s for s in DEFAULT_SOURCE_ORDER if s in available]
        return first + sorted(s for s in available if s not in first)

    def symbols(self) -> list[str]:
        """Every symbol served, sorted."""
        keys = self.store.series()
        return sorted({k.symbol for k in keys
                       if self.sources is None or k.source in self.sources})

    def has_symbol(self, symbol: object) -> bool:
        """Whether ``symbol`` has any series served."""
        return isinstance(symbol, str) and bool(self._keys(symbol))

    def _keys(self, symbol: str, source: str | None = None) -> list:
        keys = self.store.series(symbol=symbol, source=source)
        return [k for k in keys if self.sources is None or k.source in self.sources]

    def _alignment(self, symbol: str, interval: str, source: str) -> str:
        cov = self.store.coverage(symbol=symbol, interval=interval, source=source)
        return str(cov["alignment"].iloc[0]) if len(cov) else "calendar"

    def plan(self, symbol: str, interval: str | Interval, *, alignment: str = "calendar",
             source: str | None = None) -> Plan:
        """The stored series that serves ``symbol`` at ``interval``.

        Raises
        ------
        SeriesNotFoundError
            When nothing stored serves it; the message says what is stored.
        """
        iv = parse_interval(interval)
        keys = self._keys(symbol, source)
        if not keys:
            raise self._unknown(symbol, source)
        by_source: dict[str, list[str]] = {}
        for k in keys:
            by_source.setdefault(k.source, []).append(k.interval)
        order = self.source_order(list(by_source))
        for src in order:  # the interval itself, under the wanted alignment
            if iv.name in by_source[src] and (not iv.depends_on_alignment() or self._alignment(
                    symbol, iv.name, src) == alignment):
                return Plan(symbol, iv.name, alignment, src, iv.name)
        for src in order:  # else the coarsest finer interval that tiles it
            finer = sorted((parse_interval(i) for i in by_source[src]
                            if parse_interval(i).nominal_ms < iv.nominal_ms),
                           key=lambda f: -f.nominal_ms)
            for f in finer:
                f_al = (self._alignment(symbol, f.name, src) if f.depends_on_alignment()
                        else alignment)
                if tiles(f, iv, fine_alignment=f_al, coarse_alignment=alignment):
                    return Plan(symbol, iv.name, alignment, src, f.name)
        listing = "; ".join(f"{src}: {', '.join(sorted(ivs, key=INTERVALS.index))}"
                            for src, ivs in sorted(by_source.items()))
        raise SeriesNotFoundError(
            f"No {symbol} {iv.name} candles ({alignment} alignment) can be served: none are "
            f"stored and no stored interval tiles {iv.name} (stored: {listing}). Backfill "
            f"{symbol} {iv.name}, or a finer interval that tiles it (1m tiles every interval).",
            (source, symbol, iv.name))

    def _unknown(self, symbol: str, source: str | None) -> SeriesNotFoundError:
        syms = self.symbols()
        shown = ", ".join(syms[:30]) + (" ..." if len(syms) > 30 else "")
        where = f" from source {source!r}" if source else ""
        return SeriesNotFoundError(
            f"No {symbol!r} candles{where} in the store. Stored symbols: {shown or 'none'}. "
            "Use one of those (GET /api/klines/supported-symbols), or backfill it first "
            "(POST /api/klines/backfill).", (source, symbol, None))

    # --- reading ---------------------------------------------------------------------------

    def earliest(self, plan: Plan) -> int | None:
        """Open time of the first stored candle of the plan's stored series."""
        cov = self.store.coverage(symbol=plan.symbol, interval=plan.stored, source=plan.source)
        if not len(cov):
            return None
        return int(cov["earliest"].iloc[0].value // 1_000_000)

    def read(self, plan: Plan, start_ms: int | None, end_ms: int | None, *,
             limit: int | None = None, partial: bool = False, now_ms: int | None = None
             ) -> pd.DataFrame:
        """Candles of ``plan`` with open time in ``[start_ms, end_ms)``, oldest first.

        Parameters
        ----------
        plan : Plan
        start_ms, end_ms : int or None
            Epoch ms bounds (None: unbounded).
        limit : int, optional
            At most this many candles, the first ones from ``start_ms``.
        partial : bool, default False
            Keep incomplete resampled buckets (marked ``closed=False``); by default only
            complete ones and the bucket holding the clock are kept.
        now_ms : int, optional
            The clock (default: now).

        Returns
        -------
        pandas.DataFrame
            A canonical frame (attrs: symbol, interval, alignment, source).
        """
        if start_ms is not None and end_ms is not None and end_ms <= start_ms:
            raise InvalidTimeError("end must be after start: swap them or widen the range.",
                                   (start_ms, end_ms))
        if limit is None:
            return self._read(plan, start_ms, end_ms, partial, now_ms)
        iv = parse_interval(plan.interval)
        lo = start_ms
        if lo is None:
            lo = self.earliest(plan)
            if lo is None:
                return self._read(plan, start_ms, end_ms, partial, now_ms)
        now = utc_now_ms() if now_ms is None else now_ms
        parts: list[pd.DataFrame] = []
        got = 0
        span = limit
        jumped = False
        while end_ms is None or lo < end_ms:
            hi = int(ordinal_to_ms(bucket_ordinal(np.array([lo]), iv, alignment=plan.alignment)
                                   + span, iv, alignment=plan.alignment)[0])
            if end_ms is not None:
                hi = min(hi, end_ms)
            part = self._read(plan, lo, hi, partial, now_ms)
            if len(part):
                parts.append(part.iloc[: limit - got])
                got += len(parts[-1])
            if got >= limit or hi > now:  # nothing opens after the clock
                break
            lo = hi
            if not got and not jumped:  # nothing yet: skip to the first stored candle
                jumped = True
                first = self.earliest(plan)
                if first is None:
                    break
                lo = max(lo, first)
            else:
                span *= 2  # sparse history: widen the window
        if not parts:
            return self._read(plan, lo, lo + 1, partial, now_ms).iloc[:0]
        out = parts[0] if len(parts) == 1 else pd.concat(parts)
        out.attrs = dict(parts[0].attrs)
        return out

    def _read(self, plan: Plan, start_ms: int | None, end_ms: int | None, partial: bool,
              now_ms: int | None) -> pd.DataFrame:
        if not plan.resampled:
            df = self.store.read(plan.symbol, plan.stored, _ts(start_ms), _ts(end_ms),
                                 source=plan.source)
            df.attrs["alignment"] = df.attrs.get("alignment") or plan.alignment
            return df
        iv = parse_interval(plan.interval)
        al = plan.alignment
        lo = None if start_ms is None else int(ordinal_to_ms(
            bucket_ordinal(np.array([start_ms]), iv, alignment=al), iv, alignment=al)[0])
        hi = None if end_ms is None else int(ordinal_to_ms(
            bucket_ordinal(np.array([end_ms - 1]), iv, alignment=al) + 1, iv, alignment=al)[0])
        fine = self.store.read(plan.symbol, plan.stored, _ts(lo), _ts(hi), source=plan.source)
        out = resample(fine, iv, alignment=al)
        t = out.index.asi8
        keep = np.ones(len(out), dtype=bool)
        if start_ms is not None:
            keep &= t >= start_ms
        if end_ms is not None:
            keep &= t < end_ms
        if not partial:
            complete = (out["constituents"].to_numpy() == out["expected_constituents"].to_numpy())
            now = utc_now_ms() if now_ms is None else now_ms
            keep &= complete | (close_ms(t, iv, alignment=al) >= now)
        attrs = dict(out.attrs)
        out = out.loc[keep].drop(columns=["constituents", "expected_constituents"])
        out.attrs = attrs
        return out


def _ts(ms: int | None) -> pd.Timestamp | None:
    """A computed bound in epoch ms as a Timestamp, so that a legitimate early bound (say
    ``startTime=0`` plus 5000 hours) is never mistaken for user input in epoch seconds."""
    return None if ms is None else pd.Timestamp(int(ms), unit="ms", tz="UTC")
