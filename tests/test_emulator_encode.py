"""The fast record encoder spells records exactly as ``json.dumps(to_wire(...))``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from candlekit.emulator.encode import Columns, RecordLayout
from candlekit.frame import make_frame
from candlekit.intervals import close_ms
from candlekit.synthetic import SyntheticMarket, coin_profile
from candlekit.wire import from_wire, to_wire


def columns(df: pd.DataFrame) -> Columns:
    t = df.index.asi8
    q = df["quote_volume"].array
    return Columns(t=t, T=close_ms(t, df.attrs["interval"], alignment=df.attrs["alignment"]),
                   open=df["open"].to_numpy(), high=df["high"].to_numpy(),
                   low=df["low"].to_numpy(), close=df["close"].to_numpy(),
                   volume=df["volume"].to_numpy(),
                   quote_volume=np.asarray(q.to_numpy(dtype=np.float64, na_value=0.0)),
                   quote_null=np.asarray(q.isna()), trades=df["trades"].to_numpy(np.int64),
                   closed=df["closed"].to_numpy())


def reference(df: pd.DataFrame, hydromancer: bool) -> bytes:
    return json.dumps(to_wire(df, hydromancer=hydromancer), separators=(",", ":")).encode()


def encoded(df: pd.DataFrame, hydromancer: bool, *, price_decimals: int, size_decimals: int
            ) -> tuple[bytes, np.ndarray]:
    layout = RecordLayout(df.attrs["symbol"], df.attrs["interval"], hydromancer=hydromancer,
                          price_decimals=price_decimals, size_decimals=size_decimals)
    return layout.encode(columns(df))


@pytest.mark.parametrize("coin, interval", [("BTC", "1m"), ("PURR/USDC", "1m"),
                                            ("xyz:NVDA", "4h"), ("@107", "1d"),
                                            ("TINYCOIN", "5m"), ("ETH", "1w")])
@pytest.mark.parametrize("hydromancer", [False, True])
def test_synthetic_records_match_to_wire(coin, interval, hydromancer):
    df = SyntheticMarket(5).candles(coin, interval, "2025-07-30", "2025-08-03",
                                    now="2025-08-02T13:17:05.5Z")
    if hydromancer:  # some unknown quote volumes too
        df["quote_volume"] = df["quote_volume"].mask(np.arange(len(df)) % 3 == 0)
    p = coin_profile(coin)
    buf, off = encoded(df, hydromancer, price_decimals=p.price_decimals,
                       size_decimals=p.size_decimals)
    assert b"[" + buf[:-1] + b"]" == reference(df, hydromancer)
    assert off[0] == 0 and off[-1] == len(buf) and len(off) == len(df) + 1
    i = len(df) // 2
    assert json.loads(buf[off[i]:off[i + 1] - 1]) == to_wire(df.iloc[i:i + 1],
                                                             hydromancer=hydromancer)[0]


def test_awkward_values_fall_back_to_exact_decimals():
    values = np.array([1e-7, 1.5e-5, 0.1 + 0.2, 123456789012345.6, 3e16, 45000.0, 7.0,
                       1234567890123456.0, 0.5])
    n = len(values)
    df = make_frame(np.arange(n) * 60_000, values, values * 2, values, values,
                    np.abs(values - 7.0), quote_volume=values, trades=np.arange(n),
                    closed=True, symbol='we"ird\\coin', interval="1m", alignment="calendar",
                    source="test")
    for hydro in (False, True):
        for price_decimals, size_decimals in ((4, 2), (-2, 0), (8, 8)):
            buf, _ = encoded(df, hydro, price_decimals=price_decimals,
                             size_decimals=size_decimals)
            assert b"[" + buf[:-1] + b"]" == reference(df, hydro)
    back = from_wire(json.loads(b"[" + buf[:-1] + b"]"), now=10**13)
    assert np.array_equal(back["open"].to_numpy(), values)


def test_empty_input():
    df = SyntheticMarket(1).candles("BTC", "1h", "2025-01-01", "2025-01-02").iloc[:0]
    buf, off = encoded(df, True, price_decimals=0, size_decimals=5)
    assert buf == b"" and off.tolist() == [0]
