"""A small multi-series store for the cluster tests, built from ``synthetic_candles``.

Every series crosses at least one period-file boundary (monthly files for 1s, yearly up
to 12h, per decade above) and has candles dropped across that boundary, so buckets and
gaps straddle two files; some have open candles at the end and unknown quote volume or
trades across a boundary. Everything here is synthetic data (source ``"synthetic"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import candlekit as ck


def _drop(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    """Drop candles opening in ``[start, end)``."""
    t = df.index
    keep = ~((t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC")))
    out = df[keep].copy()
    out.attrs = dict(df.attrs)
    return out


def _open_tail(df: pd.DataFrame, n: int) -> pd.DataFrame:
    out = df.copy()
    out.attrs = dict(df.attrs)
    out.iloc[-n:, out.columns.get_loc("closed")] = False
    return out


def _null_block(df: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    out = df.copy()
    out.attrs = dict(df.attrs)
    t = out.index
    sel = (t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC"))
    out.loc[sel, "quote_volume"] = pd.NA
    out.loc[sel, "trades"] = pd.NA
    return out


def build_store(root: Path | ck.Store) -> ck.Store:
    """Write the test store under ``root`` (or into the store given) and return it."""
    store = root if isinstance(root, ck.Store) else ck.Store(root)
    # 1s, monthly files: a gap across Jan/Feb, open candles at the end
    btc_s = ck.synthetic_candles("BTC", "1s", "2026-01-30", "2026-02-03", base="1s", seed=1)
    btc_s = _drop(btc_s, "2026-01-31T23:59:00", "2026-02-01T00:01:30")
    btc_s = _drop(btc_s, "2026-02-02T10:00:00", "2026-02-02T10:00:07")
    store.write(_open_tail(btc_s, 5))
    # 1s across Feb/Mar, the last candle of February missing
    eth_s = ck.synthetic_candles("ETH", "1s", "2026-02-27T12:00", "2026-03-01T12:00", base="1s",
                                 seed=2)
    store.write(_drop(eth_s, "2026-02-28T23:59:59", "2026-03-01T00:00:00"))
    # 1h, yearly files: gaps across the 2025 new year, unknown volumes across it
    for i, sym in enumerate(["BTC", "ETH", "xyz:NVDA", "@107"]):
        h = ck.synthetic_candles(sym, "1h", "2024-12-18", "2025-01-20", seed=10 + i)
        if sym in ("BTC", "xyz:NVDA"):
            h = _drop(h, "2024-12-31T22:00", "2025-01-01T03:00")
        if sym == "ETH":
            h = _null_block(h, "2024-12-31T20:00", "2025-01-01T02:00")
            h = _drop(h, "2025-01-01T00:00", "2025-01-01T01:00")  # the first hour of the file
        if sym == "@107":
            h = _open_tail(h, 3)
        store.write(h)
    # 1d, decade files: a gap across 2020-01-01
    for i, sym in enumerate(["BTC", "SOL"]):
        d = ck.synthetic_candles(sym, "1d", "2019-10-01", "2020-04-01", seed=20 + i)
        store.write(_drop(d, "2019-12-30", "2020-01-03") if sym == "BTC" else d)
    # 1w and 1M under both alignments, across the decade boundary, with gaps there
    base = ck.synthetic_candles("BTC", "1d", "2019-06-01", "2020-09-01", seed=30)
    w_hl = ck.resample(base, "1w", alignment="hyperliquid")
    w_hl = w_hl[w_hl.constituents == w_hl.expected_constituents].drop(
        columns=["constituents", "expected_constituents"])
    w_hl.attrs = {**base.attrs, "interval": "1w", "alignment": "hyperliquid"}
    store.write(_drop(w_hl, "2019-12-20", "2020-01-10"))
    w_cal = ck.synthetic_candles("SOL", "1w", "2019-06-03", "2020-09-07", seed=31)
    store.write(_drop(w_cal, "2019-12-23", "2020-01-07"))
    m_hl = ck.synthetic_candles("ETH", "1M", "2018-01-01", "2021-06-01", seed=32,
                                alignment="hyperliquid")
    store.write(_drop(m_hl, "2019-12-01", "2020-01-30"))
    m_cal = ck.synthetic_candles("SOL", "1M", "2018-01-01", "2021-06-01", seed=33)
    store.write(_drop(m_cal, "2019-12-01", "2020-02-01"))
    return store


_BUILT: dict[str, Path] = {}


def shared_store(tmp_path_factory) -> ck.Store:
    """The test store, built once per test session (tests that change it copy it first)."""
    if "root" not in _BUILT:
        _BUILT["root"] = build_store(tmp_path_factory.mktemp("cluster-store")).root
    return ck.Store(_BUILT["root"])


def whole_series_resample(store: ck.Store, key: ck.SeriesKey, to: str,
                          alignment: str | None) -> pd.DataFrame:
    """The single-process reference: ``resample`` of the whole stored series."""
    df = store.read(key.symbol, key.interval, source=key.source)
    return ck.resample(df, to, alignment=alignment)


SUMS = ["volume", "quote_volume"]


def assert_same_resample(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal frames: bit for bit except float sums, which may differ in summation order."""
    others = [c for c in want.columns if c not in SUMS]
    pd.testing.assert_frame_equal(got[others], want[others], check_exact=True)
    pd.testing.assert_frame_equal(got[SUMS], want[SUMS], check_exact=False, rtol=1e-12)
    assert got.attrs == want.attrs
    assert np.array_equal(got.index.asi8, want.index.asi8)
