"""The offline demo behind ``make demo``: a synthetic market, stored, resampled and audited.

Everything here is synthetic and labelled so (source ``"synthetic"``); nothing touches the
network. Running it twice stores nothing twice: the store upserts.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from .gaps import find_gaps
from .resample import resample
from .store import Store
from .synthetic import synthetic_candles
from .timeutil import to_timestamp

__all__ = ["DEMO_INTERVALS", "DEMO_SYMBOLS", "DemoResult", "run_demo"]

DEMO_SYMBOLS = ("BTC", "ETH", "SOL", "xyz:NVDA")
DEMO_INTERVALS = ("5m", "1h", "4h", "1d", "1w")
SOURCE = "synthetic"


@dataclass
class DemoResult:
    """What the demo stored and found."""

    store: Store
    coverage: pd.DataFrame
    gaps: pd.DataFrame
    outage: tuple[str, pd.Timestamp, pd.Timestamp] | None


def run_demo(store: Store | None = None, *, symbols: tuple[str, ...] = DEMO_SYMBOLS,
             start: str = "2026-10-01", end: str = "2026-11-01", seed: int = 7,
             intervals: tuple[str, ...] = DEMO_INTERVALS,
             outage: tuple[str, str, str] | None = ("ETH", "2026-10-14T03:00Z",
                                                    "2026-10-14T05:30Z"),
             progress: bool = True) -> DemoResult:
    """Generate a seeded synthetic market at 1m, store it, resample it and audit it.

    Parameters
    ----------
    store : Store, optional
        Where to write (default: ``Store()``, i.e. ``$CANDLEKIT_DATA`` or ``./data``).
    symbols : tuple of str
        Coins to generate (any names work, HIP-3 ``dex:COIN`` included).
    start, end : str
        The 1m range generated, ``[start, end)``.
    seed : int
        Seed of the synthetic market.
    intervals : tuple of str
        Coarser intervals resampled from 1m and stored.
    outage : (symbol, start, end) or None
        A simulated upstream outage: 1m candles of ``symbol`` in ``[start, end)`` are left
        out, so the gap table has something real to show.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    DemoResult
        The store, its coverage table and the gaps of every stored series in the range.
    """
    store = store if store is not None else Store()
    cut = None
    if outage is not None:
        cut = (outage[0], to_timestamp(outage[1]), to_timestamp(outage[2]))
    steps = [(s, iv) for s in symbols for iv in ("1m", *intervals)]
    bar = tqdm(steps, desc="demo", unit="series", disable=not progress)
    base: pd.DataFrame | None = None
    for symbol, interval in bar:
        bar.set_postfix_str(f"{symbol} {interval}")
        if interval == "1m":
            base = synthetic_candles(symbol, "1m", start, end, seed=seed)
            if cut is not None and cut[0] == symbol:
                keep = (base.index < cut[1]) | (base.index >= cut[2])
                attrs = dict(base.attrs)
                base = base[keep]
                base.attrs = attrs
            frame = base
        else:
            frame = resample(base, interval)
        store.write(frame)
    gaps = []
    for symbol in symbols:
        for interval in ("1m", *intervals):
            df = store.read(symbol, interval, source=SOURCE)
            found = find_gaps(df, start=start, end=end)
            if len(found):
                gaps.append(found.assign(symbol=symbol, interval=interval, source=SOURCE))
    gap_table = (pd.concat(gaps, ignore_index=True) if gaps else
                 pd.DataFrame(columns=["start", "end", "missing_candles", "symbol", "interval",
                                       "source"]))
    gap_table = gap_table[["symbol", "interval", "source", "start", "end", "missing_candles"]]
    coverage = store.coverage(source=SOURCE)
    return DemoResult(store=store, coverage=coverage, gaps=gap_table, outage=cut)
