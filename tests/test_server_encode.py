"""Columns to JSON bytes: the same JSON as candlekit.wire's record builders, byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import candlekit as ck
from candlekit.server.encode import dumps, rest_json, wire_json


def _frame() -> pd.DataFrame:
    df = ck.synthetic_candles("xyz:NVDA", "1m", "2026-10-01", "2026-10-01T06:00")
    attrs = dict(df.attrs)
    df = df.copy()
    q = df["quote_volume"].astype("Float64")
    q.iloc[:7] = pd.NA                         # unknown quote volume
    df["quote_volume"] = q
    n = df["trades"].astype("Int64")
    n.iloc[3:9] = pd.NA                        # unknown trade counts
    df["trades"] = n
    df.iloc[-1, df.columns.get_loc("closed")] = False   # the open candle
    v = df.columns.get_loc("volume")
    df.iloc[10, v] = 1.234e-05                 # Python repr: exponent notation
    df.iloc[11, v] = 2.5e16
    df.iloc[12, v] = 0.0
    df.iloc[13, v] = 123456789.123456789
    df.attrs = attrs
    return df


def _compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@pytest.mark.parametrize("hydromancer", [False, True])
def test_wire_bytes_equal_to_wire(hydromancer):
    df = _frame()
    assert wire_json(df, hydromancer=hydromancer) == _compact(ck.to_wire(df,
                                                                           hydromancer=hydromancer))


def test_wire_decimals_are_never_exponents():
    recs = json.loads(wire_json(_frame(), hydromancer=True))
    assert recs[10]["v"] == "0.00001234" and recs[11]["v"] == "25000000000000000.0"
    assert all("e" not in r[k] for r in recs for k in "ohlcv")
    assert recs[0]["q"] is None and recs[3]["n"] is None and recs[-1]["x"] is False


def test_rest_json_equals_to_rest_value_for_value():
    df = _frame()
    ours = json.loads(rest_json(df))
    assert ours == ck.to_rest(df)
    assert list(ours[0]) == ["timestamp", "open", "high", "low", "close", "volume",
                             "quote_volume", "trades", "closed"]


@pytest.mark.parametrize("alignment", ["calendar", "hyperliquid"])
def test_month_and_week_close_times_follow_the_alignment(alignment):
    days = ck.synthetic_candles("BTC", "1d", "2024-01-01", "2024-06-01")
    for iv in ("1w", "1M"):
        out = ck.resample(days, iv, alignment=alignment)
        assert wire_json(out, hydromancer=True) == _compact(ck.to_wire(out, hydromancer=True))


def test_timestamps_across_centuries_and_leap_days():
    t = np.array([ck.timeutil.to_ms("1999-12-31T23:59:59Z"), ck.timeutil.to_ms("2024-02-29")])
    df = ck.make_frame(t // 1000 * 1000, [1.0, 2.0], [1.0, 2.0], [1.0, 2.0], [1.0, 2.0],
                       [0.5, 0.25], symbol="BTC", interval="1s", source="x")
    assert json.loads(rest_json(df)) == ck.to_rest(df)
    assert json.loads(rest_json(df))[0]["timestamp"] == "1999-12-31T23:59:59Z"


def test_empty_frames_and_plain_data():
    empty = ck.empty_frame(symbol="BTC", interval="1h", source="x")
    assert rest_json(empty) == b"[]" and wire_json(empty, hydromancer=True) == b"[]"
    assert json.loads(dumps({"a": np.int64(3), "b": [np.float64(0.5)]})) == {"a": 3, "b": [0.5]}
