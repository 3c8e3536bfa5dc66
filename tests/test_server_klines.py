"""The kline REST API against a store built here: every seed endpoint with the seed's
example request, field by field; all 15 intervals (stored or resampled on the fly); open
candles; source preference; errors (backfill endpoints: test_server_backfill.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from _server_helpers import complete, put, synthetic
from fastapi.testclient import TestClient

import candlekit as ck
from candlekit.intervals import INTERVALS
from candlekit.server import create_app
from candlekit.store import Store

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = Store(tmp_path_factory.mktemp("served"))
    btc = synthetic("BTC", "1h", "2026-03-01", "2026-04-10")
    gap = (btc.index >= "2026-03-15T00:00Z") & (btc.index < "2026-03-15T06:00Z")
    btc = btc[~gap]
    btc.iloc[-1, btc.columns.get_loc("closed")] = False  # the candle still open
    put(st, btc)
    put(st, synthetic("ETH", "1m", "2026-01-01", "2026-03-01"))
    put(st, synthetic("ETH", "1s", "2026-01-10T00:00", "2026-01-10T01:00"))
    put(st, synthetic("SOL", "1h", "2026-03-01", "2026-03-03"), source="emulator")
    put(st, synthetic("ARB", "1h", "2026-03-01", "2026-03-02"), source="hyperliquid")
    arb = synthetic("ARB", "1h", "2026-03-01", "2026-03-02")
    arb["volume"] = arb["volume"] * 2
    put(st, arb, source="hydromancer")
    return st


@pytest.fixture(scope="module")
def client(store):
    with TestClient(create_app(store, run_worker=False)) as c:
        yield c


def test_data_seed_example_field_by_field(client, store):
    r = client.get("/api/klines/data?symbol=BTC&interval=1h&start=2026-04-01&end=2026-04-09")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    rows = r.json()
    stored = store.read("BTC", "1h", "2026-04-01", "2026-04-09")
    assert len(rows) == len(stored) == 8 * 24
    first = rows[0]
    assert first["timestamp"] == "2026-04-01T00:00:00Z"
    for key in ("open", "high", "low", "close", "volume"):
        assert type(first[key]) is float
    for row, (t, c) in zip(rows, stored.iterrows()):
        assert ISO_Z.match(row["timestamp"])
        assert pd.Timestamp(row["timestamp"]) == t
        assert [row[k] for k in ("open", "high", "low", "close", "volume")] == [
            c.open, c.high, c.low, c.close, c.volume]
    assert [pd.Timestamp(x["timestamp"]) for x in rows] == sorted(
        pd.Timestamp(x["timestamp"]) for x in rows)
    assert r.headers["x-candlekit-source"] == "hyperliquid"
    assert "x-candlekit-synthetic" not in r.headers


def test_open_candles_left_out_unless_asked(client):
    rows = client.get("/api/klines/data?symbol=BTC&interval=1h&start=2026-04-09T20:00Z").json()
    assert [x["timestamp"] for x in rows][-1] == "2026-04-09T22:00:00Z"
    assert all(x["closed"] for x in rows)
    rows = client.get("/api/klines/data?symbol=BTC&interval=1h&start=2026-04-09T20:00Z"
                      "&include_open=true").json()
    assert rows[-1]["timestamp"] == "2026-04-09T23:00:00Z" and rows[-1]["closed"] is False


@pytest.mark.parametrize("interval", INTERVALS)
def test_every_interval_stored_or_resampled(client, store, interval):
    r = client.get(f"/api/klines/data?symbol=ETH&interval={interval}&start=2026-01-01"
                   "&end=2026-03-01")
    assert r.status_code == 200, r.text
    if interval == "1s":
        expected = store.read("ETH", "1s")
        assert r.headers["x-candlekit-stored-interval"] == "1s"
    else:
        expected = complete(ck.resample(store.read("ETH", "1m"), interval))
        assert r.headers["x-candlekit-stored-interval"] == "1m"
    assert len(expected) > 0
    assert r.json() == ck.to_rest(expected)


def test_resampling_leaves_out_incomplete_buckets_unless_asked(client, store):
    # the 6-hour gap on 2026-03-15 makes that day's 1d bucket incomplete
    rows = client.get("/api/klines/data?symbol=BTC&interval=1d&start=2026-03-14"
                      "&end=2026-03-17").json()
    assert [x["timestamp"][:10] for x in rows] == ["2026-03-14", "2026-03-16"]
    rows = client.get("/api/klines/data?symbol=BTC&interval=1d&start=2026-03-14"
                      "&end=2026-03-17&include_open=true").json()
    assert [(x["timestamp"][:10], x["closed"]) for x in rows] == [
        ("2026-03-14", True), ("2026-03-15", False), ("2026-03-16", True)]


def test_weeks_and_months_follow_the_alignment_asked(client, store):
    cal = client.get("/api/klines/data?symbol=ETH&interval=1w").json()
    hl = client.get("/api/klines/data?symbol=ETH&interval=1w&alignment=hyperliquid").json()
    assert {pd.Timestamp(x["timestamp"]).day_name() for x in cal} == {"Monday"}
    assert {pd.Timestamp(x["timestamp"]).day_name() for x in hl} == {"Thursday"}
    months = client.get("/api/klines/data?symbol=ETH&interval=1M").json()
    assert [x["timestamp"] for x in months] == ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]


def test_source_preference_and_synthetic_label(client, store):
    default = client.get("/api/klines/data?symbol=ARB&interval=1h")
    hl = client.get("/api/klines/data?symbol=ARB&interval=1h&source=hyperliquid")
    assert default.headers["x-candlekit-source"] == "hydromancer"
    assert [x["volume"] for x in default.json()] == [2 * x["volume"] for x in hl.json()]
    sol = client.get("/api/klines/data?symbol=SOL&interval=1h")
    assert sol.headers["x-candlekit-synthetic"] == "true"


def test_coverage_seed_example(client, store):
    rows = client.get("/api/klines/coverage").json()
    cov = store.coverage()
    assert len(rows) == len(cov)
    for row, c in zip(rows, cov.itertuples()):
        assert {"symbol", "interval", "earliest", "latest", "total_candles"} <= set(row)
        assert (row["symbol"], row["interval"], row["total_candles"]) == (
            c.symbol, c.interval, c.total_candles)
        assert type(row["total_candles"]) is int
        assert ISO_Z.match(row["earliest"]) and ISO_Z.match(row["latest"])
        assert pd.Timestamp(row["earliest"]) == c.earliest
        assert pd.Timestamp(row["latest"]) == c.latest
    btc = client.get("/api/klines/coverage?symbol=BTC&interval=1h").json()
    assert btc == [r for r in rows if r["symbol"] == "BTC" and r["interval"] == "1h"]
    assert btc[0]["latest"] == "2026-04-09T23:00:00Z" and btc[0]["open_candles"] == 1
    assert {r["symbol"]: r["synthetic"] for r in rows if r["interval"] == "1h"}["SOL"] is True
    assert btc[0]["synthetic"] is False


def test_supported_symbols_seed_example(client):
    assert client.get("/api/klines/supported-symbols").json() == {
        "symbols": ["ARB", "BTC", "ETH", "SOL"]}


def test_gaps_seed_example(client):
    body = client.get("/api/klines/gaps/BTC?interval=1h").json()
    assert body == {"symbol": "BTC", "gaps": [
        {"start": "2026-03-15T00:00:00Z", "end": "2026-03-15T06:00:00Z", "missing_candles": 6,
         "interval": "1h"}]}


def test_gaps_of_a_range_and_of_every_interval(client):
    body = client.get("/api/klines/gaps/BTC?interval=1h&start=2026-02-28T22:00Z"
                      "&end=2026-03-01T02:00Z").json()
    assert body["gaps"] == [{"start": "2026-02-28T22:00:00Z", "end": "2026-03-01T00:00:00Z",
                             "missing_candles": 2, "interval": "1h"}]
    every = client.get("/api/klines/gaps/ETH").json()
    assert every == {"symbol": "ETH", "gaps": []}
    months = client.get("/api/klines/gaps/ETH?interval=1M&start=2025-11-01&end=2026-03-01")
    assert months.json()["gaps"] == [{"start": "2025-11-01T00:00:00Z",
                                      "end": "2026-01-01T00:00:00Z", "missing_candles": 2,
                                      "interval": "1M"}]


@pytest.mark.parametrize("url, status, code, hint", [
    ("/api/klines/data?symbol=BTC&interval=2m", 400, "invalid_interval", "Use one of"),
    ("/api/klines/data?symbol=DOGE&interval=1h", 404, "not_found", "supported-symbols"),
    ("/api/klines/data?symbol=BTC&interval=1h&start=yesterday", 400, "invalid_time",
     "ISO 8601"),
    ("/api/klines/data?symbol=BTC&interval=1h&start=2026-04-02&end=2026-04-01", 400,
     "invalid_time", "swap"),
    ("/api/klines/data?symbol=BTC&end=99999999999999999999", 400, "invalid_time", "range"),
    ("/api/klines/data?symbol=BTC&start=-99999999999999", 400, "invalid_time", "range"),
    ("/api/klines/data?interval=1h", 422, "invalid_request", "symbol"),
    ("/api/klines/data?symbol=BTC&alignment=lunar", 400, "invalid_alignment", "calendar"),
    ("/api/klines/data?symbol=BTC&source=binance", 404, "not_found", "Stored symbols"),
    ("/api/klines/data?symbol=SOL&interval=1s", 404, "not_found", "Backfill"),
    ("/api/klines/gaps/DOGE?interval=1h", 404, "not_found", "backfill"),
    ("/api/klines/backfill/status/bf-00000000", 404, "task_not_found", "tasks"),
    ("/api/klines/nothing", 404, "not_found", "openapi.json"),
])
def test_errors_are_json_saying_what_to_do(client, url, status, code, hint):
    r = client.get(url)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and hint in body["message"], body


def test_malformed_backfill_body_is_a_json_422(client):
    r = client.post("/api/klines/backfill", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post("/api/klines/backfill", json={"interval": "1h"})
    assert r.status_code == 422 and "symbol" in r.json()["message"]


def test_data_bytes_are_the_columns_not_python_rows(client, store):
    """A large answer is one JSON array equal to to_rest of the stored frame."""
    r = client.get("/api/klines/data?symbol=ETH&interval=1m")
    expected = store.read("ETH", "1m")
    assert len(r.json()) == len(expected) == 59 * 1440
    assert json.loads(r.content) == ck.to_rest(expected)
    assert np.isclose(sum(x["volume"] for x in r.json()), expected["volume"].sum())


def test_a_corrupted_file_is_named_and_the_rest_is_served(tmp_path):
    st = Store(tmp_path)
    for sym in ("BTC", "ETH"):
        put(st, synthetic(sym, "1h", "2026-10-01", "2026-10-02"))
    bad = next(tmp_path.rglob("symbol=BTC/**/part-0.parquet"))
    bad.write_bytes(b"garbage")
    with TestClient(create_app(st, run_worker=False)) as c:
        r = c.get("/api/klines/data?symbol=BTC")
        assert r.status_code == 500 and r.json()["error"] == "corrupt_file"
        assert str(bad) in r.json()["message"] and "backfill" in r.json()["message"]
        assert len(c.get("/api/klines/data?symbol=ETH").json()) == 24
        with pytest.warns(RuntimeWarning, match="skipped a file"):
            rows = c.get("/api/klines/coverage").json()
        assert [x["symbol"] for x in rows] == ["ETH"]
    assert bad.read_bytes() == b"garbage"  # never rewritten by a read
