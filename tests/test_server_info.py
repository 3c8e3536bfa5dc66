"""``POST /info`` against a running ``candlekit serve`` (uvicorn on 127.0.0.1): the official
hyperliquid-python-sdk unchanged (construction, history older than the last 5000 candles,
HIP-3 and spot coins, every error), Hydromancer's dialect in detail, the hyperliquid
dialect, and candlekit's own Hydromancer client using the server as its upstream."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import requests
from _server_helpers import complete, put, synthetic
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError

import candlekit as ck
from candlekit.intervals import close_ms
from candlekit.server import serve
from candlekit.store import Store
from candlekit.timeutil import to_ms

DAY = 86_400_000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = Store(tmp_path_factory.mktemp("info"))
    btc = synthetic("BTC", "1m", "2026-10-01", "2026-10-08")      # 10,080 candles
    btc.iloc[-1, btc.columns.get_loc("closed")] = False
    q = btc["quote_volume"].astype("Float64")
    q.iloc[:60] = pd.NA                                           # unknown quote volume
    btc["quote_volume"] = q
    put(st, btc)
    put(st, synthetic("BTC", "1d", "2024-01-01", "2024-07-01"))
    put(st, synthetic("BTC", "1s", "2026-10-01T00:00", "2026-10-01T00:10"))
    put(st, synthetic("xyz:NVDA", "1h", "2026-10-01", "2026-10-08"))
    put(st, synthetic("@107", "1h", "2026-10-01", "2026-10-08"))
    put(st, synthetic("PURR/USDC", "1h", "2026-10-01", "2026-10-03"))
    return st


@pytest.fixture(scope="module")
def server(store):
    with serve(store, port=0, background=True, run_worker=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def info(server):
    return Info(server.url, skip_ws=True, perp_dexs=["", "xyz"])


def post(server, body, **kw):
    return requests.post(server.url + "/info", json=body, timeout=10, **kw)


def snapshot(coin, interval, start, end, **extra):
    return {"type": "candleSnapshot", "req": {"coin": coin, "interval": interval,
                                              "startTime": start, "endTime": end, **extra}}


def test_sdk_constructs_from_the_stores_symbols(info):
    for coin in ("BTC", "xyz:NVDA", "@107", "PURR/USDC"):
        assert info.name_to_coin[coin] == coin
    assert info.coin_to_asset["@107"] == 10107
    assert info.coin_to_asset["xyz:NVDA"] >= 110000  # a builder dex
    assert info.name_to_coin["PURR/USDC"] == "PURR/USDC"


def test_sdk_history_older_than_the_last_5000_candles(info, store):
    t0 = to_ms("2026-10-01")
    got = info.candles_snapshot("BTC", "1m", t0, t0 + DAY)
    expected = store.read("BTC", "1m", t0, t0 + DAY)
    assert len(got) == 1440 and got == ck.to_wire(expected, hydromancer=True)
    assert got[0]["t"] == t0 and got[-1]["T"] == t0 + DAY - 1   # endTime exclusive
    assert got[0]["q"] is None and got[-1]["q"] is not None


@pytest.mark.parametrize("coin", ["xyz:NVDA", "@107", "PURR/USDC"])
def test_sdk_hip3_and_spot_coins(info, store, coin):
    t0 = to_ms("2026-10-02")
    got = info.candles_snapshot(coin, "1h", t0, t0 + DAY)
    assert got == ck.to_wire(store.read(coin, "1h", t0, t0 + DAY), hydromancer=True)
    assert {r["s"] for r in got} == {coin}


def test_sdk_intervals_resampled_from_the_store(info, store):
    t0 = to_ms("2026-10-02")
    got = info.candles_snapshot("xyz:NVDA", "4h", t0, t0 + DAY)
    expected = complete(ck.resample(store.read("xyz:NVDA", "1h"), "4h"))
    assert got == ck.to_wire(expected.loc["2026-10-02":"2026-10-02T23:00"], hydromancer=True)


@pytest.mark.parametrize("call, status, message", [
    (lambda i: i.candles_snapshot("BTC", "2m", 0, 10**13), 400, "Invalid interval"),
    (lambda i: i.candles_snapshot("BTC", "1h", 10**12, 10**12), 400,
     "endTime must be greater than startTime"),
    (lambda i: i.post("/info", {"type": "candleSnapshot", "req": {
        "interval": "1h", "startTime": 0, "endTime": 10**13}}), 400,
     "Missing required field: coin"),
    (lambda i: i.post("/info", {"type": "candleSnapshot", "req": {
        "coin": "BTC", "interval": "1h", "startTime": 0}}), 400,
     "Missing required field: endTime"),
    (lambda i: i.post("/info", {"type": "candleSnapshot", "req": {
        "coin": "BTC", "interval": "1h", "startTime": "yesterday"}}), 422,
     "Failed to deserialize the JSON body into the target type"),
    (lambda i: i.post("/info", {"type": "clearinghouseState"}), 422,
     "Failed to deserialize the JSON body into the target type"),
    (lambda i: i.post("/info", {"type": "candleSnapshot", "req": {
        "coin": "DOGE", "interval": "1h", "startTime": 0, "endTime": 10**13}}), 422,
     "Unknown coin: DOGE"),
    (lambda i: i.candles_snapshot("xyz:NVDA", "1m", 0, 10**13), 422, "No xyz:NVDA 1m candles"),
])
def test_sdk_turns_every_error_into_client_error(info, call, status, message):
    with pytest.raises(ClientError) as err:
        call(info)
    assert err.value.status_code == status
    assert err.value.error_message.startswith(message), err.value.error_message


def test_error_bodies_exactly(server):
    r = post(server, snapshot("BTC", "2m", 0, 1))
    assert r.status_code == 400 and r.json() == {"error": "Invalid interval", "code": 400,
                                                 "msg": "Invalid interval"}
    r = requests.post(server.url + "/info", data=b"{oops", timeout=10)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/plain")
    assert r.text == "Failed to deserialize the JSON body into the target type"


def test_limit_is_the_first_candles_from_start_time(server, store):
    t0 = to_ms("2026-10-01")
    full = post(server, snapshot("BTC", "1m", t0, t0 + 7 * DAY)).json()
    assert len(full) == 5000 and full[0]["t"] == t0
    assert [r["t"] for r in full] == sorted(r["t"] for r in full)
    few = post(server, snapshot("BTC", "1m", t0 - 10 * DAY, t0 + 7 * DAY, limit=3)).json()
    assert [r["t"] for r in few] == [t0, t0 + 60_000, t0 + 120_000]
    for bad in (0, 5001, "10"):
        r = post(server, snapshot("BTC", "1m", t0, t0 + DAY, limit=bad))
        assert r.status_code in (400, 422) and r.status_code < 500


def test_open_candles_say_x_false(server, store):
    last = store.read("BTC", "1m").index[-1].value // 10**6
    recs = post(server, snapshot("BTC", "1m", last - 120_000, last + 60_000)).json()
    assert [r["x"] for r in recs] == [True, True, False]


def test_one_second_candles(server, store):
    t0 = to_ms("2026-10-01")
    recs = post(server, snapshot("BTC", "1s", t0, t0 + 600_000)).json()
    assert recs == ck.to_wire(store.read("BTC", "1s"), hydromancer=True)


def test_monday_weeks_and_calendar_months(server, store):
    days = store.read("BTC", "1d")
    weeks = post(server, snapshot("BTC", "1w", to_ms("2024-01-01"), to_ms("2024-07-01"))).json()
    assert weeks == ck.to_wire(complete(ck.resample(days, "1w")), hydromancer=True)
    assert {pd.Timestamp(r["t"], unit="ms").day_name() for r in weeks} == {"Monday"}
    months = post(server, snapshot("BTC", "1M", to_ms("2024-01-01"), to_ms("2024-07-01"))).json()
    assert [pd.Timestamp(r["t"], unit="ms").strftime("%m-%d") for r in months] == [
        "01-01", "02-01", "03-01", "04-01", "05-01", "06-01"]
    assert months[1]["T"] == to_ms("2024-03-01") - 1  # leap February


def test_meta_payloads(server):
    meta = post(server, {"type": "meta"}).json()
    assert [u["name"] for u in meta["universe"]] == ["BTC"]
    assert [u["name"] for u in post(server, {"type": "meta", "dex": "xyz"}).json()[
        "universe"]] == ["xyz:NVDA"]
    dexs = post(server, {"type": "perpDexs"}).json()
    assert dexs[0] is None and [d["name"] for d in dexs[1:]] == ["xyz"]
    spot = post(server, {"type": "spotMeta"}).json()
    assert {u["name"]: u["index"] for u in spot["universe"]}["@107"] == 107
    assert [t["index"] for t in spot["tokens"]] == list(range(len(spot["tokens"])))
    r = post(server, {"type": "meta", "dex": "abc"})
    assert r.status_code == 422 and r.json()["msg"] == "Unknown dex: abc"


def test_root_path_speaks_the_same(server):
    r = requests.post(server.url + "/", json={"type": "meta"}, timeout=10)
    assert r.json() == post(server, {"type": "meta"}).json()


def test_hyperliquid_dialect(store):
    with serve(store, port=0, background=True, run_worker=False,
               dialect="hyperliquid") as srv:
        info = Info(srv.url, skip_ws=True)
        t0 = to_ms("2026-10-01")
        got = info.candles_snapshot("BTC", "1m", t0, t0 + 60_000)  # endTime inclusive
        assert got == ck.to_wire(store.read("BTC", "1m", t0, t0 + 120_000))
        assert "q" not in got[0] and "x" not in got[0]
        days = store.read("BTC", "1d")
        weeks = info.candles_snapshot("BTC", "1w", to_ms("2024-01-01"), to_ms("2024-07-01"))
        assert {pd.Timestamp(r["t"], unit="ms").day_name() for r in weeks} == {"Thursday"}
        assert weeks == ck.to_wire(complete(ck.resample(days, "1w", alignment="hyperliquid")))
        months = info.candles_snapshot("BTC", "1M", to_ms("2024-01-01"), to_ms("2024-07-01"))
        assert all(r["T"] - r["t"] + 1 == 30 * DAY for r in months)
        assert months[0]["t"] == close_ms([to_ms("2024-01-01")], "1M",
                                          alignment="hyperliquid")[0] + 1
        for call in (lambda: info.candles_snapshot("BTC", "1s", t0, t0 + 60_000),
                     lambda: info.candles_snapshot("BTC", "2m", t0, t0 + 60_000)):
            with pytest.raises(ClientError) as err:
                call()
            assert err.value.status_code == 422
            assert err.value.error_message == ("Failed to deserialize the JSON body into the "
                                               "target type")
        assert info.candles_snapshot("BTC", "1m", t0 + 60_000, t0) == []


def test_candlekits_hydromancer_client_uses_the_server_as_upstream(store):
    with serve(store, port=0, background=True, run_worker=False, token="s3cret") as srv:
        hy = ck.Hydromancer(api_key="s3cret", base_url=srv.url, weight_budget=10**9)
        df = hy.candles("BTC", "1m", "2026-10-01", "2026-10-03")
        stored = store.read("BTC", "1m", "2026-10-01", "2026-10-03")
        assert len(df) == 2880 and (df.index == stored.index).all()
        pd.testing.assert_frame_equal(df[["open", "high", "low", "close", "volume"]],
                                      stored[["open", "high", "low", "close", "volume"]])
        with pytest.raises(ck.SourceError):
            ck.Hydromancer(api_key="wrong", base_url=srv.url, max_retries=0).candles(
                "BTC", "1m", "2026-10-01", "2026-10-02")


def test_sdk_with_a_token(store):
    with serve(store, port=0, background=True, run_worker=False, token="t0k",
               public_meta=True) as srv:
        info = Info(srv.url, skip_ws=True)          # meta and spotMeta are public
        with pytest.raises(ClientError) as err:
            info.candles_snapshot("BTC", "1h", 0, 10**13)
        assert err.value.status_code == 401
        info.session.headers["Authorization"] = "Bearer t0k"
        assert len(info.candles_snapshot("@107", "1h", 0, 10**13)) == 7 * 24
    with serve(store, port=0, background=True, run_worker=False, token="t0k") as srv:
        with pytest.raises(ClientError) as err:
            Info(srv.url, skip_ws=True)
        assert err.value.status_code == 401
        auth = {"Authorization": "Bearer t0k"}
        meta = post(srv, {"type": "meta"}, headers=auth).json()
        spot = post(srv, {"type": "spotMeta"}, headers=auth).json()
        info = Info(srv.url, skip_ws=True, meta=meta, spot_meta=spot)
        info.session.headers.update(auth)
        assert json.dumps(info.candles_snapshot("BTC", "1m", 0, to_ms("2026-10-01T00:05")))


def test_an_internal_candlekit_error_on_info_reaches_the_sdk_as_client_error(store,
                                                                             monkeypatch):
    """Any CandlekitError raised while answering /info has the body the SDK can read."""
    from candlekit.errors import InvalidTimeError
    from candlekit.server import series

    def refuse(*args, **kwargs):
        raise InvalidTimeError("a time the store refused: pass epoch milliseconds")

    monkeypatch.setattr(series.CandleReader, "read", refuse)
    with serve(store, port=0, background=True, run_worker=False) as srv:
        info = Info(srv.url, skip_ws=True)
        with pytest.raises(ClientError) as err:
            info.candles_snapshot("BTC", "1h", 0, 10**13)
        assert err.value.status_code == 400 and "epoch milliseconds" in err.value.error_message
