"""Emulator faults, weight budget and counters."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import requests

from candlekit.emulator import FAULT_NAMES, Emulator, EmulatorConfigError, Faults, candle_weight
from candlekit.emulator.budget import WeightBudget
from candlekit.emulator.faults import FaultInjector, perturb_open
from candlekit.emulator.market import CandleRow
from candlekit.timeutil import to_ms
from candlekit.wire import from_wire

NOW = "2026-11-01T00:30:30.250Z"
NOW_MS = to_ms(NOW)
MIN = 60_000
START = NOW_MS // MIN * MIN - 30 * MIN  # 31 one-minute candles up to the open one


@pytest.fixture(scope="module")
def emu():
    with Emulator("hydromancer", now=NOW, budget=None, faults=Faults(slow_seconds=0.05)) as e:
        yield e


@pytest.fixture
def fresh(emu):
    emu.faults = None
    emu.reset_stats()
    yield emu
    emu.faults = None


def ask(emu, start=START, **kw):
    return requests.post(emu.url + "/info", timeout=30, json={"type": "candleSnapshot", "req": {
        "coin": "BTC", "interval": "1m", "startTime": start, "endTime": NOW_MS + 1, **kw}})


def frame(emu, records):
    return from_wire(records, symbol="BTC", interval="1m", now=emu.now_ms,
                     source="emulator").loc[pd.Timestamp(START, unit="ms", tz="UTC"):]


def truth(emu):
    return emu.truth("BTC", "1m", START, NOW_MS + 1)


@pytest.mark.parametrize("name", FAULT_NAMES)
def test_each_fault_absent_at_rate_zero(fresh, name):
    fresh.faults = Faults(**{name: 0.0}, slow_seconds=0.05)
    r = ask(fresh)
    assert r.status_code == 200
    pd.testing.assert_frame_equal(frame(fresh, r.json()), truth(fresh))
    assert fresh.stats.faults_injected == {}


def test_dropped(fresh):
    fresh.faults = Faults(dropped=1.0)
    with pytest.raises(requests.ConnectionError):
        ask(fresh)
    stats = fresh.stats
    assert stats.faults_injected == {"dropped": 1} and stats.by_status == {}
    assert stats.requests == 1


def test_server_error(fresh):
    fresh.faults = Faults(server_error=1.0)
    statuses = set()
    for _ in range(12):
        r = ask(fresh)
        statuses.add(r.status_code)
        assert r.text in ("Internal Server Error", "Bad Gateway", "Service Unavailable")
    assert statuses <= {500, 502, 503} and len(statuses) > 1
    assert fresh.stats.faults_injected == {"server_error": 12}


def test_slow_answers_normally(fresh):
    fresh.faults = Faults(slow=1.0, slow_seconds=0.05)
    r = ask(fresh)
    pd.testing.assert_frame_equal(frame(fresh, r.json()), truth(fresh))
    assert fresh.stats.faults_injected == {"slow": 1}


def test_truncated(fresh):
    full = ask(fresh).content
    fresh.faults = Faults(truncated=1.0)
    r = ask(fresh)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    assert 0 < len(r.content) < len(full) and full.startswith(r.content)
    with pytest.raises(ValueError):
        json.loads(r.content)
    assert fresh.stats.faults_injected == {"truncated": 1}
    assert fresh.stats.candles_served == 31  # the full answer only


def test_empty(fresh):
    fresh.faults = Faults(empty=1.0)
    assert ask(fresh).json() == []
    assert len(truth(fresh)) == 31
    assert fresh.stats.faults_injected == {"empty": 1}


def test_duplicates(fresh):
    clean = ask(fresh).json()
    fresh.faults = Faults(duplicates=1.0)
    recs = ask(fresh).json()
    texts = [json.dumps(r, sort_keys=True) for r in recs]
    assert len(texts) > len(set(texts))  # some records repeated, with identical values
    assert {json.dumps(r, sort_keys=True) for r in clean} <= set(texts)
    before = [r for r in recs if r["t"] < START]
    assert 1 <= len(before) <= 3 and recs[: len(before)] == before
    pd.testing.assert_frame_equal(frame(fresh, recs), truth(fresh))
    assert fresh.stats.faults_injected == {"duplicates": 1}


def test_out_of_order(fresh):
    fresh.faults = Faults(out_of_order=1.0)
    recs = ask(fresh).json()
    ts = [r["t"] for r in recs]
    assert ts != sorted(ts) and len(ts) == 31
    pd.testing.assert_frame_equal(frame(fresh, recs), truth(fresh))
    assert fresh.stats.faults_injected == {"out_of_order": 1}


def test_stale_open(fresh):
    fresh.faults = Faults(stale_open=1.0)
    recs = ask(fresh).json()
    got, want = frame(fresh, recs), truth(fresh)  # from_wire validates the stale candle
    pd.testing.assert_frame_equal(got.iloc[:-1], want.iloc[:-1])
    assert not got["closed"].iloc[-1]
    assert got.iloc[-1]["close"] != want.iloc[-1]["close"]
    assert got.iloc[-1]["volume"] != want.iloc[-1]["volume"]
    assert fresh.stats.faults_injected == {"stale_open": 1}
    ask(fresh, start=START, limit=5)  # no open candle in the page: nothing to alter
    assert fresh.stats.faults_injected == {"stale_open": 1}


def test_faults_never_touch_metadata(fresh):
    fresh.faults = Faults(**{name: 1.0 for name in FAULT_NAMES}, slow_seconds=0.05)
    for payload in ({"type": "meta"}, {"type": "spotMeta"}, {"type": "perpDexs"},
                    {"type": "meta", "dex": "xyz"}):
        r = requests.post(fresh.url + "/info", json=payload, timeout=10)
        assert r.status_code == 200 and r.json()
    r = requests.post(fresh.url + "/emulator", json={"stats": True}, timeout=10)
    assert r.status_code == 200
    assert fresh.stats.faults_injected == {}


def test_fault_draws_are_seeded():
    faults = Faults(server_error=0.5, empty=0.5)
    a, b = FaultInjector(3), FaultInjector(3)
    draws = [a.draw(faults) for _ in range(50)]
    assert draws == [b.draw(faults) for _ in range(50)]
    assert {frozenset(), frozenset({"server_error", "empty"})} <= set(draws)


def test_faults_settings():
    with pytest.raises(EmulatorConfigError, match="between 0 and 1"):
        Faults(empty=1.5)
    with pytest.raises(EmulatorConfigError):
        Faults(slow_seconds=-1)
    assert Faults.parse(["server_error=0.25", "slow_seconds=3"]) == Faults(server_error=0.25,
                                                                           slow_seconds=3)
    for bad in (["nope=1"], ["empty"], ["empty=lots"]):
        with pytest.raises(EmulatorConfigError):
            Faults.parse(bad)
    assert not Faults().any() and Faults(slow=0.1).any()


def test_perturbed_open_candle_stays_valid():
    row = CandleRow(0, 100.0, 101.0, 99.5, 101.0, 0.0, 0.0, 0)
    stale = perturb_open("BTC", row)
    assert stale.close > row.close and stale.high >= stale.close and stale.low <= stale.open
    assert stale.volume > 0 and stale.trades == 1


# --- weight budget ------------------------------------------------------------------------


def test_budget_429_with_retry_after_then_recovers():
    with Emulator(now=NOW, budget=40, budget_window=1.0) as emu, requests.Session() as s:
        codes = [s.post(emu.url + "/info", json={"type": "meta"}, timeout=10)
                 for _ in range(3)]
        assert [r.status_code for r in codes] == [200, 200, 429]
        limited = codes[2]
        assert limited.headers["Retry-After"] == "1" and "error" in limited.json()
        assert limited.headers["X-Candlekit-Emulator"] == "hyperliquid"
        stats = emu.stats
        assert (stats.rate_limited, stats.weight_used, stats.requests) == (1, 40, 3)
        assert stats.by_status == {200: 2, 429: 1}
        time.sleep(int(limited.headers["Retry-After"]))
        assert s.post(emu.url + "/info", json={"type": "meta"}, timeout=10).ok


def test_candle_weight_charged():
    with Emulator("hydromancer", now=NOW, budget=None) as emu:
        r = ask(emu, start=START - 30 * MIN)
        assert len(r.json()) == 61
        assert emu.stats.weight_used == candle_weight(61) == 22
        assert emu.stats.candles_served == 61


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_weight_budget_sliding_window():
    clock = FakeClock()
    b = WeightBudget(100, window_s=10, clock=clock)
    assert b.admit() is None
    clock.t += 4
    b.charge(70)  # per-candle weight
    assert b.used() == 90
    assert b.admit() == pytest.approx(6.0)  # the first 20 expire at t=110
    clock.t += 6
    assert b.admit() is None and b.used() == 90
    clock.t += 4
    assert b.used() == 20
    b.charge(500)  # charged even past the limit
    assert b.used() == 520 and b.admit() == pytest.approx(10.0)
    assert WeightBudget(None).admit() is None
    with pytest.raises(EmulatorConfigError):
        WeightBudget(19)
