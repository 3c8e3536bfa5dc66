"""Helpers of the server tests: stores built in the test, a server on 127.0.0.1."""

from __future__ import annotations

import pandas as pd

import candlekit as ck
from candlekit.store import Store


def put(store: Store, df: pd.DataFrame, *, source: str = "hyperliquid") -> pd.DataFrame:
    """Store ``df`` under ``source``; returns the frame as stored."""
    df = df.copy()
    df.attrs = {**df.attrs, "source": source}
    store.write(df)
    return df


def synthetic(symbol: str, interval: str, start: str, end: str, *, alignment: str = "calendar",
              source: str = "hyperliquid") -> pd.DataFrame:
    """Synthetic candles relabelled as ``source`` (so tests see a non-emulator label)."""
    df = ck.synthetic_candles(symbol, interval, start, end, alignment=alignment,
                              base="1s" if interval == "1s" else "1m")
    df.attrs = {**df.attrs, "source": source}
    return df


def complete(df: pd.DataFrame) -> pd.DataFrame:
    """Only the complete buckets of a resampled frame, without the count columns."""
    attrs = dict(df.attrs)
    out = df[df.constituents == df.expected_constituents].drop(
        columns=["constituents", "expected_constituents"])
    out.attrs = attrs
    return out
