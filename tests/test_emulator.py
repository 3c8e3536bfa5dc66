"""The emulator end to end over HTTP: what exists at the clock, paging, truth, errors, SDK."""

from __future__ import annotations

import email.utils

import pandas as pd
import pytest
import requests

from candlekit.emulator import EMULATOR_PORT, MODES, Emulator, EmulatorConfigError
from candlekit.errors import InvalidIntervalError, InvalidTimeError, UnknownSymbolError
from candlekit.intervals import close_ms, parse_interval
from candlekit.emulator.market import snap_to_grid
from candlekit.synthetic import SyntheticMarket, coin_profile
from candlekit.timeutil import to_ms
from candlekit.wire import from_wire

NOW = "2026-11-01T00:30:30.250Z"
NOW_MS = to_ms(NOW)
MIN = 60_000
CUTOFF = to_ms("2025-08-01")


@pytest.fixture(scope="module")
def emus():
    """One frozen emulator per mode, shared (their caches make the module fast)."""
    with Emulator("hyperliquid", now=NOW, budget=None) as hl, \
            Emulator("hydromancer", now=NOW, budget=None) as hm:
        yield {"hyperliquid": hl, "hydromancer": hm}


@pytest.fixture(scope="module")
def session():
    with requests.Session() as s:
        yield s


def post(session, emu, payload, *, path="/info", **kw):
    return session.post(emu.url + path, json=payload, timeout=30, **kw)


def snapshot(session, emu, coin, interval, start, end=None, **extra):
    req = {"coin": coin, "interval": interval, "startTime": start, **extra}
    if end is not None:
        req["endTime"] = end
    r = post(session, emu, {"type": "candleSnapshot", "req": req})
    assert r.status_code == 200, r.text
    return r.json()


def fetch_all(session, emu, coin, interval, start):
    """What a perfect client does: pages oldest first, from past the last t received."""
    out = []
    while True:
        end = emu.now_ms if emu.mode == "hyperliquid" else emu.now_ms + 1
        page = snapshot(session, emu, coin, interval, start, end)
        out += page
        if len(page) < 5000:
            return out
        start = page[-1]["t"] + 1


def read(emu, records, coin, interval):
    return from_wire(records, symbol=coin, interval=interval, now=emu.now_ms,
                     alignment=emu.market.alignment, source="emulator")


# --- truth == what a perfect client stores ------------------------------------------------

CASES = [(m, iv) for m in MODES for iv in ("1m", "15m", "1h", "4h", "1d", "3d", "1w", "1M")]
CASES.append(("hydromancer", "1s"))


@pytest.mark.parametrize("mode, interval", CASES)
def test_truth_equals_a_full_fault_free_fetch(emus, session, mode, interval):
    emu = emus[mode]
    coin = "xyz:NVDA"  # listed 2025-10-01: the whole history is quick to generate
    iv = parse_interval(interval)
    start = max(emu.earliest(coin, interval), NOW_MS - 12_000 * iv.nominal_ms)
    got = read(emu, fetch_all(session, emu, coin, interval, start), coin, interval)
    want = emu.truth(coin, interval, start, NOW_MS + 1)
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs
    assert want.attrs["source"] == "emulator"
    assert want.attrs["alignment"] == ("hyperliquid" if mode == "hyperliquid" else "calendar")
    assert not want["closed"].iloc[-1] and want["closed"].iloc[:-1].all()
    assert want.index[-1].value // 10**6 <= NOW_MS < close_ms(
        want.index.asi8[-1:], interval, alignment=want.attrs["alignment"])[0]
    if mode == "hyperliquid":
        assert want["quote_volume"].isna().all()
    else:
        assert want["quote_volume"].notna().all()  # listed after 2025-08-01


@pytest.mark.parametrize("interval", ["1h", "1d", "1w"])
def test_truth_values_are_the_synthetic_markets(emus, interval):
    emu = emus["hydromancer"]
    raw = SyntheticMarket(emu.seed).candles("ETH", interval, "2025-09-01", "2025-10-01")
    got = emu.truth("ETH", interval, raw.index[0], raw.index[-1] + pd.Timedelta(1, "ms"))
    # the synthetic market's values, on the exchange's decimal grids (sums of lots exact)
    prof = coin_profile("ETH")
    want = snap_to_grid(raw, price_decimals=prof.price_decimals,
                        size_decimals=prof.size_decimals)
    cols = ["open", "high", "low", "close", "volume", "quote_volume", "trades", "closed"]
    pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=True)
    lot = 10.0 ** -prof.size_decimals
    assert (got["volume"] - raw["volume"]).abs().max() < lot / 1000  # only float noise


def test_truth_errors(emus):
    with pytest.raises(UnknownSymbolError, match="DOGE"):
        emus["hyperliquid"].truth("DOGE", "1h", "2026-01-01", "2026-01-02")
    with pytest.raises(InvalidIntervalError, match="Invalid interval"):
        emus["hyperliquid"].truth("BTC", "1s", "2026-10-31", "2026-11-01")
    with pytest.raises(InvalidTimeError):
        emus["hyperliquid"].truth("BTC", "1h", "not a time", "2026-11-01")
    assert emus["hyperliquid"].truth("BTC", "1h", "2022-01-01", "2022-02-01").empty  # listing
    labelled = emus["hydromancer"].truth("BTC", "1h", "2026-10-01", "2026-10-02",
                                         source="emulator-hydromancer")
    assert labelled.attrs["source"] == "emulator-hydromancer" and len(labelled) == 24


# --- what exists at the clock -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_hydromancer_and_hyperliquid_record_shapes(emus, session, mode):
    emu = emus[mode]
    recs = snapshot(session, emu, "BTC", "1h", NOW_MS - 3 * 3_600_000, NOW_MS)
    keys = ["t", "T", "s", "i", "o", "h", "l", "c", "v", "n"]
    if mode == "hydromancer":
        keys = ["t", "T", "s", "i", "o", "h", "l", "c", "v", "q", "n", "x"]
        assert [r["x"] for r in recs] == [True] * (len(recs) - 1) + [False]
    assert all(list(r) == keys for r in recs)
    assert all(isinstance(r[k], str) for r in recs for k in "ohlcv")
    assert recs[-1]["t"] <= NOW_MS < recs[-1]["T"]


def test_hydromancer_quote_volume_null_before_august_2025(emus, session):
    emu = emus["hydromancer"]
    for interval in ("1h", "1d", "3d", "1w", "1M"):
        recs = snapshot(session, emu, "BTC", interval, to_ms("2025-06-20"), to_ms("2025-09-10"))
        assert all((r["q"] is None) == (r["t"] < CUTOFF) for r in recs), interval
        assert any(r["q"] is None for r in recs) and any(r["q"] is not None for r in recs)
        if interval == "1w":  # the week of Monday 2025-07-28 holds July and August days
            straddling = [r for r in recs if r["t"] < CUTOFF <= r["T"]]
            assert straddling and all(r["q"] is None for r in straddling)


def test_hydromancer_calendar_alignment(emus, session):
    weeks = snapshot(session, emus["hydromancer"], "BTC", "1w", to_ms("2026-01-01"),
                     to_ms("2026-03-01"))
    assert {pd.Timestamp(r["t"], unit="ms").day_name() for r in weeks} == {"Monday"}
    months = snapshot(session, emus["hydromancer"], "BTC", "1M", to_ms("2025-12-01"),
                      to_ms("2026-04-01"))
    assert [pd.Timestamp(r["t"], unit="ms").strftime("%m-%d") for r in months] == [
        "12-01", "01-01", "02-01", "03-01"]
    hl_weeks = snapshot(session, emus["hyperliquid"], "BTC", "1w", to_ms("2026-01-01"),
                        to_ms("2026-03-01"))
    assert {pd.Timestamp(r["t"], unit="ms").day_name() for r in hl_weeks} == {"Thursday"}


def test_listing_time(emus, session):
    emu = emus["hydromancer"]
    recs = snapshot(session, emu, "HYPE", "1d", 0, to_ms("2024-12-05"))
    assert recs[0]["t"] == to_ms("2024-11-29")
    assert emu.earliest("HYPE", "1d") == to_ms("2024-11-29")
    weeks = snapshot(session, emu, "HYPE", "1w", 0, to_ms("2024-12-20"))
    assert weeks[0]["t"] == to_ms("2024-12-02")  # the first Monday week opening after listing


def test_hydromancer_1s_only_last_seven_days(emus, session):
    emu = emus["hydromancer"]
    first = emu.earliest("BTC", "1s")
    assert first == -(-(NOW_MS - 7 * 86_400_000) // 1000) * 1000
    recs = snapshot(session, emu, "BTC", "1s", 0, NOW_MS + 1, limit=3)
    assert [r["t"] for r in recs] == [first, first + 1000, first + 2000]
    assert snapshot(session, emu, "BTC", "1s", 0, first) == []


def test_nothing_opens_at_or_after_now(emus, session):
    for emu in emus.values():
        recs = snapshot(session, emu, "ETH", "1m", NOW_MS - 5 * MIN, NOW_MS + 86_400_000)
        assert recs[-1]["t"] == NOW_MS // MIN * MIN and len(recs) == 5  # 00:26 .. 00:30


def test_no_open_candle_when_the_clock_is_on_a_boundary(session):
    with Emulator("hydromancer", now="2026-11-01T00:30Z", budget=None) as emu:
        recs = snapshot(session, emu, "ETH", "1m", emu.now_ms - 3 * MIN, emu.now_ms + MIN)
        assert [r["t"] for r in recs] == [emu.now_ms - 3 * MIN + i * MIN for i in range(3)]
        assert all(r["x"] for r in recs) and recs[-1]["T"] == emu.now_ms - 1


# --- paging -------------------------------------------------------------------------------


def test_pages_are_oldest_first_and_tile_the_range(emus, session):
    emu = emus["hydromancer"]
    start, end = NOW_MS - 12_345 * MIN, NOW_MS + 1
    first = snapshot(session, emu, "SOL", "1m", start, end)
    assert len(first) == 5000 and first[0]["t"] == -(-start // MIN) * MIN
    ts = [r["t"] for r in first]
    assert ts == sorted(ts) and len(set(ts)) == 5000
    second = snapshot(session, emu, "SOL", "1m", ts[-1] + 1, end)
    assert second[0]["t"] == ts[-1] + MIN
    records = fetch_all(session, emu, "SOL", "1m", start)
    got = read(emu, records, "SOL", "1m")
    pd.testing.assert_frame_equal(got, emu.truth("SOL", "1m", start, end))


def test_end_time_inclusive_in_hyperliquid_exclusive_in_hydromancer(emus, session):
    t0 = NOW_MS // MIN * MIN - 100 * MIN
    hl = snapshot(session, emus["hyperliquid"], "BTC", "1m", t0, t0 + 2 * MIN)
    hm = snapshot(session, emus["hydromancer"], "BTC", "1m", t0, t0 + 2 * MIN)
    assert [r["t"] for r in hl] == [t0, t0 + MIN, t0 + 2 * MIN]
    assert [r["t"] for r in hm] == [t0, t0 + MIN]
    assert snapshot(session, emus["hyperliquid"], "BTC", "1m", t0, t0) == hl[:1]
    assert snapshot(session, emus["hyperliquid"], "BTC", "1m", t0 + 1, t0) == []


def test_hydromancer_limit(emus, session):
    emu = emus["hydromancer"]
    t0 = NOW_MS // MIN * MIN - 100 * MIN
    recs = snapshot(session, emu, "ETH", "1m", t0, NOW_MS, limit=7)
    assert [r["t"] for r in recs] == [t0 + i * MIN for i in range(7)]
    for bad in (0, 5001, "10", 2.5):
        r = post(session, emu, {"type": "candleSnapshot", "req": {
            "coin": "ETH", "interval": "1m", "startTime": t0, "limit": bad}})
        assert r.status_code == 400 and r.json() == {"error": "limit must be between 1 and 5000"}


def test_hyperliquid_window_rolls_out_as_the_clock_advances(session):
    with Emulator(now=NOW, window=50, budget=None) as emu:
        assert emu.earliest("BTC", "1m") == NOW_MS // MIN * MIN - 49 * MIN
        before = snapshot(session, emu, "BTC", "1m", 0, emu.now_ms)
        assert len(before) == 50 and before[0]["t"] == emu.earliest("BTC", "1m")
        emu.advance("10m")
        after = snapshot(session, emu, "BTC", "1m", 0, emu.now_ms)
        assert len(after) == 50 and after[0]["t"] == before[0]["t"] + 10 * MIN
        assert after[:39] == before[10:49]  # closed candles never change
        assert snapshot(session, emu, "BTC", "1m", 0, before[9]["t"]) == []
        hours = snapshot(session, emu, "BTC", "1h", 0, emu.now_ms)
        assert len(hours) == 50 and hours[-1]["t"] == emu.now_ms // 3_600_000 * 3_600_000


def test_open_candle_then_its_closed_value(session):
    with Emulator(now=NOW, budget=None) as emu:
        t_open = NOW_MS // 3_600_000 * 3_600_000
        early = snapshot(session, emu, "BTC", "1h", t_open, t_open)[0]
        assert early["T"] >= emu.now_ms
        assert read(emu, [early], "BTC", "1h")["closed"].tolist() == [False]
        emu.advance("10m")
        later = snapshot(session, emu, "BTC", "1h", t_open, t_open)[0]
        assert later["n"] >= early["n"] and float(later["h"]) >= float(early["h"])
        emu.advance("1h")
        final = snapshot(session, emu, "BTC", "1h", t_open, t_open)[0]
        got = read(emu, [final], "BTC", "1h")
        assert got["closed"].tolist() == [True]
        assert (final["v"], final["n"]) != (early["v"], early["n"])
        pd.testing.assert_frame_equal(got, emu.truth("BTC", "1h", t_open, t_open + 1))


def test_clock_frozen_running_set_and_advance():
    with Emulator(now=NOW, budget=None) as emu:
        assert emu.now_ms == NOW_MS and not emu.clock.running
        assert emu.advance("3d") == NOW_MS + 3 * 86_400_000
        assert emu.advance(pd.Timedelta(minutes=1)) == NOW_MS + 3 * 86_400_000 + MIN
        assert emu.advance("1M") == NOW_MS + 33 * 86_400_000 + MIN
        assert emu.set_time("2026-01-01") == to_ms("2026-01-01") == emu.now_ms
        with pytest.raises(InvalidTimeError):
            emu.advance(-1)
    with Emulator(budget=None) as emu:
        real = pd.Timestamp.now(tz="UTC").value // 10**6
        assert emu.clock.running and abs(emu.now_ms - real) < 60_000
        emu.advance("1d")
        assert emu.now_ms - pd.Timestamp.now(tz="UTC").value // 10**6 > 86_400_000 - 60_000
        emu.set_time("2025-01-01", running=False)
        assert emu.now_ms == to_ms("2025-01-01") and not emu.clock.running


def test_settings_are_checked():
    for kw in ({"mode": "binance"}, {"window": 0}, {"budget": 10}, {"budget_window": 0},
               {"port": -1}, {"seed": "x"}, {"faults": "empty=1"}, {"api_key": ""}):
        with pytest.raises(EmulatorConfigError):
            Emulator(**kw)
    with pytest.raises(InvalidTimeError):
        Emulator(now="yesterday-ish")
    assert EMULATOR_PORT == 8731


# --- HTTP details and errors --------------------------------------------------------------


def test_headers_date_from_market_clock_and_keep_alive(emus, session):
    emu = emus["hyperliquid"]
    r = post(session, emu, {"type": "meta"})
    assert r.headers["X-Candlekit-Emulator"] == "hyperliquid"
    assert email.utils.parsedate_to_datetime(r.headers["Date"]).timestamp() == NOW_MS // 1000
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert r.headers.get("Connection", "").lower() != "close"
    assert emus["hydromancer"].url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("mode", MODES)
def test_errors_both_modes(emus, session, mode):
    emu = emus[mode]
    bad_json = session.post(emu.url + "/info", data=b"{nope", timeout=10)
    assert bad_json.status_code == 422
    assert bad_json.text == "Failed to deserialize the JSON body into the target type"
    unknown_type = post(session, emu, {"type": "userFills"})
    assert unknown_type.status_code == 422
    unknown_coin = post(session, emu, {"type": "candleSnapshot", "req": {
        "coin": "DOGE", "interval": "1h", "startTime": 0, "endTime": NOW_MS}})
    assert (unknown_coin.status_code, unknown_coin.text) == (422, "Unknown coin: DOGE")
    assert post(session, emu, {"type": "meta", "dex": "abc"}).status_code == 422
    assert session.get(emu.url + "/info", timeout=10).status_code == 405
    assert post(session, emu, {}, path="/nope").status_code == 404


def test_hyperliquid_deserialization_errors(emus, session):
    emu = emus["hyperliquid"]
    for req in ({"coin": "BTC", "interval": "1s", "startTime": 0},
                {"coin": "BTC", "interval": "1h"},
                {"coin": "BTC", "interval": "1h", "startTime": "0"},
                {"interval": "1h", "startTime": 0},
                {"coin": "BTC", "interval": "2m", "startTime": 0}):
        r = post(session, emu, {"type": "candleSnapshot", "req": req})
        assert r.status_code == 422, req
        assert r.text == "Failed to deserialize the JSON body into the target type"


def test_hydromancer_errors_verbatim(emus, session):
    emu = emus["hydromancer"]
    cases = [
        ({"interval": "1h", "startTime": 0}, "Missing required field: coin"),
        ({"coin": "BTC", "interval": "2h30", "startTime": 0}, "Invalid interval"),
        ({"coin": "BTC", "interval": "1h", "startTime": 10, "endTime": 10},
         "endTime must be greater than startTime"),
    ]
    for req, message in cases:
        r = post(session, emu, {"type": "candleSnapshot", "req": req})
        assert (r.status_code, r.json()) == (400, {"error": message})


def test_hydromancer_api_key(session):
    with Emulator("hydromancer", now=NOW, api_key="sekret", budget=None) as emu:
        payload = {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1h",
                                                     "startTime": to_ms("2026-10-31T23:00Z")}}
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = post(session, emu, payload, headers=headers)
            assert (r.status_code, r.json()) == (401, {"error": "Invalid API key"})
        ok = post(session, emu, payload, headers={"Authorization": "Bearer sekret"})
        assert ok.status_code == 200 and len(ok.json()) == 2
        assert emu.stats.by_status == {401: 2, 200: 1}


def test_metadata_endpoints(emus, session):
    emu = emus["hydromancer"]
    meta = post(session, emu, {"type": "meta"}).json()
    assert [u["name"] for u in meta["universe"]] == ["BTC", "ETH", "SOL", "HYPE", "ARB"]
    xyz = post(session, emu, {"type": "meta", "dex": "xyz"}).json()
    assert [u["name"] for u in xyz["universe"]] == ["xyz:NVDA", "xyz:TSLA"]
    dexes = post(session, emu, {"type": "perpDexs"}).json()
    assert dexes[0] is None and dexes[1]["name"] == "xyz"
    spot = post(session, emu, {"type": "spotMeta"}).json()
    pairs = {p["name"]: p for p in spot["universe"]}
    tokens = {t["index"]: t["name"] for t in spot["tokens"]}
    assert [tokens[i] for i in pairs["@107"]["tokens"]] == ["HYPE", "USDC"]
    assert [tokens[i] for i in pairs["PURR/USDC"]["tokens"]] == ["PURR", "USDC"]
    assert sorted(emu.coins()) == sorted(["BTC", "ETH", "SOL", "HYPE", "ARB", "xyz:NVDA",
                                          "xyz:TSLA", "PURR/USDC", "@107"])


def test_official_sdk_works_unchanged():
    from hyperliquid.info import Info

    with Emulator(now=NOW) as emu:
        info = Info(emu.url, skip_ws=True)
        assert info.name_to_coin["HYPE/USDC"] == "@107"
        start = NOW_MS - 5 * 3_600_000
        for name, coin in (("BTC", "BTC"), ("HYPE/USDC", "@107"), ("PURR/USDC", "PURR/USDC")):
            candles = info.candles_snapshot(name, "1h", start, NOW_MS)
            got = read(emu, candles, coin, "1h")
            pd.testing.assert_frame_equal(got, emu.truth(coin, "1h", start, NOW_MS + 1))
        hip3 = Info(emu.url, skip_ws=True, perp_dexs=["", "xyz"])
        assert hip3.coin_to_asset["xyz:NVDA"] == 110000
        candles = hip3.candles_snapshot("xyz:NVDA", "1d", NOW_MS - 10 * 86_400_000, NOW_MS)
        assert len(candles) == 10 and candles[-1]["s"] == "xyz:NVDA"  # Oct 23 .. Nov 1


# --- the control endpoint -----------------------------------------------------------------


def test_control_endpoint_drives_the_clock(session):
    with Emulator(now=NOW, budget=None) as emu:
        r = post(session, emu, {"set_time": to_ms("2026-06-01")}, path="/emulator").json()
        assert r["now_ms"] == to_ms("2026-06-01") == emu.now_ms and r["mode"] == "hyperliquid"
        r = post(session, emu, {"advance_ms": 90_000}, path="/emulator").json()
        assert r["now_ms"] == to_ms("2026-06-01") + 90_000
        assert r["now"].startswith("2026-06-01T00:01:30") and r["running"] is False
        post(session, emu, {"type": "meta"})
        r = post(session, emu, {"stats": True, "reset_stats": True}, path="/emulator").json()
        assert r["stats"]["requests"] == 1 and r["stats"]["by_status"] == {"200": 1}
        assert emu.stats.requests == 0  # reset, and control requests are not counted
        r = post(session, emu, {"faults": {"empty": 1.0}}, path="/emulator").json()
        assert r["faults"]["empty"] == 1.0 and emu.faults.empty == 1.0
        assert snapshot(session, emu, "BTC", "1m", emu.now_ms - 5 * MIN) == []
        for bad in ({"advance_ms": "soon"}, {"bogus": 1}, {"faults": {"nope": 1}},
                    {"faults": {"empty": 2}}, {"set_time": "never"}, [1, 2]):
            r = post(session, emu, bad, path="/emulator")
            assert r.status_code == 422 and "error" in r.json(), bad


def test_a_bug_answers_500_rather_than_dropping_the_client(session, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("kaput")

    with Emulator(now=NOW, budget=None) as emu:
        monkeypatch.setattr(emu.market, "page", boom)
        r = post(session, emu, {"type": "candleSnapshot", "req": {
            "coin": "BTC", "interval": "1h", "startTime": 0}})
        assert r.status_code == 500 and "kaput" in r.text
        assert post(session, emu, {"type": "meta"}).status_code == 200  # still serving
