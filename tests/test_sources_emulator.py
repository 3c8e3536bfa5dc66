"""The sources against the candlekit emulator: paging, retention, every fault, the budget,
Hydromancer mode and listings, end to end over HTTP on 127.0.0.1."""

import math
from functools import partial

import pandas as pd
import pytest

from candlekit.errors import UnknownSymbolError, UpstreamError
from candlekit.sources import Hydromancer, Hyperliquid, get_source

emulator = pytest.importorskip("candlekit.emulator")
Emulator, Faults, FAULT_NAMES = emulator.Emulator, emulator.Faults, emulator.FAULT_NAMES

NOW = "2026-11-01T00:00Z"
BIG = 10_000_000          # a retention window larger than any range fetched here


def assert_same(df, truth, *, source="emulator"):
    truth = truth.copy()
    truth.attrs["source"] = source
    pd.testing.assert_frame_equal(df, truth)
    assert df.attrs == truth.attrs


def test_full_range_paging_equals_the_truth_in_at_most_n_over_5000_plus_one_requests():
    with Emulator(now=NOW, window=BIG, budget=None) as emu:
        hl = get_source("emulator", base_url=emu.url, weight_budget=100_000)
        start, end = "2026-09-15", "2026-10-01"                    # 23040 one-minute candles
        df = hl.candles("BTC", "1m", start, end, progress=False)
        truth = emu.truth("BTC", "1m", start, end)
        assert_same(df, truth)
        assert df.attrs["source"] == "emulator" and hl.synthetic
        assert hl.stats.requests == emu.stats.requests <= math.ceil(len(truth) / 5000) + 1


def test_retention_the_first_page_starts_at_the_window_and_says_so():
    with Emulator(now="2026-11-01T00:30Z", budget=None) as emu:     # window: 5000 candles
        hl = Hyperliquid(emu.url)
        pages = list(hl.iter_pages("ETH", "1h", "2023-01-01"))
        earliest = emu.earliest("ETH", "1h")
        assert int(pages[0].frame.index.asi8[0]) == earliest
        assert hl.earliest("ETH", "1h") == pd.Timestamp(earliest, unit="ms", tz="UTC")
        df = pd.concat([p.frame for p in pages])
        assert len(df) == 5000 and not df["closed"].iloc[-1]
        assert_same(df, emu.truth("ETH", "1h", earliest, emu.now_ms + 1))


def test_every_fault_at_once_still_gives_exactly_the_truth():
    faults = Faults(server_error=0.2, slow=0.2, truncated=0.2, dropped=0.2, empty=0.2,
                    duplicates=0.2, out_of_order=0.2, stale_open=0.2, slow_seconds=0.8)
    with Emulator(now="2026-11-01T00:30Z", window=BIG, budget=None, faults=faults,
                  fault_seed=11) as emu:
        # default retries (5, in urllib3 and again around it) and confirm_empty (3)
        hl = Hyperliquid(emu.url, timeout=0.4, backoff_factor=0.005, weight_budget=100_000)
        for coin, interval, start, end in [("BTC", "1m", "2026-09-20", "2026-10-10"),
                                           ("ETH", "5m", "2026-06-01", "2026-09-01"),
                                           ("SOL", "1h", "2025-01-01", "2026-10-01"),
                                           ("xyz:NVDA", "15m", "2025-10-01", "2026-01-01")]:
            df = hl.candles(coin, interval, start, end, progress=False)
            assert_same(df, emu.truth(coin, interval, start, end))
        # up to now: a (maybe stale) open candle is served open, every closed one exact
        for coin in emu.coins():
            df = hl.candles(coin, "1h", "2026-10-25", progress=False)
            truth = emu.truth(coin, "1h", "2026-10-25", emu.now_ms + 1)
            assert not df["closed"].iloc[-1] and df.index[-1] == truth.index[-1]
            assert_same(df.iloc[:-1], truth.iloc[:-1])
        injected = emu.stats.faults_injected
    assert set(injected) == set(FAULT_NAMES), injected
    assert hl.stats.retries > 0 and hl.stats.failures.keys() >= {"timeout", "dropped",
                                                                  "truncated", "empty"}


@pytest.mark.parametrize("mode", ["hyperliquid", "hydromancer"])
def test_a_budget_that_forces_waiting_never_gets_a_429(mode):
    with Emulator(mode, now=NOW, window=BIG, budget=200, budget_window=2.0) as emu:
        source = Hyperliquid if mode == "hyperliquid" else partial(Hydromancer, "key")
        client = source(emu.url, weight_budget=200, weight_window=2.0)
        coins = ("BTC", "ETH", "SOL")[: 3 if mode == "hyperliquid" else 2]
        for coin in coins:
            df = client.candles(coin, "1m", "2026-10-01", "2026-10-08", progress=False)
            assert len(df) == 10080
        stats = emu.stats
        assert stats.requests == len(coins) * math.ceil(10080 / 5000)
        assert stats.rate_limited == 0 and 429 not in stats.by_status
        assert client.stats.wait_seconds > 0                          # pacing did wait
        assert client.stats.weight >= stats.weight_used


def test_the_open_candle_closes_when_the_market_clock_moves():
    with Emulator(now="2026-11-01T00:30Z", budget=None) as emu:
        hl = Hyperliquid(emu.url)
        before = hl.candles("BTC", "1h", "2026-10-31T22:00Z", progress=False)
        assert before["closed"].tolist() == [True, True, False]
        emu.advance("1h")
        after = hl.candles("BTC", "1h", "2026-10-31T22:00Z", progress=False)
        assert after["closed"].tolist() == [True, True, True, False]
        assert hl.now_ms() == emu.now_ms


def test_symbols_lists_perps_hip3_coins_and_spot_pairs():
    with Emulator(now=NOW, budget=None) as emu:
        hl = Hyperliquid(emu.url)
        listing = hl.symbols().set_index("symbol")
        assert set(listing.index) == set(emu.coins())
        assert listing.loc["xyz:NVDA"].tolist() == ["hip3", "xyz", "NVDA"]
        assert listing.loc["@107"].tolist() == ["spot", "", "HYPE/USDC"]
        assert listing.loc["PURR/USDC", "kind"] == "spot"
        assert listing.loc["BTC"].tolist() == ["perp", "", "BTC"]
        for coin in ("xyz:TSLA", "@107", "PURR/USDC"):
            df = hl.candles(coin, "1d", "2026-09-01", "2026-10-01", progress=False)
            assert_same(df, emu.truth(coin, "1d", "2026-09-01", "2026-10-01"))


def test_an_unknown_coin_names_the_upstream_answer_and_the_likely_coin():
    with Emulator(now=NOW, budget=None) as emu, pytest.raises(UnknownSymbolError) as info:
        Hyperliquid(emu.url).candles("ETHH", "1h", "2026-10-01", progress=False)
    assert "Unknown coin: ETHH" in str(info.value) and "did you mean 'ETH'?" in str(info.value)


def test_hydromancer_mode_with_a_key_1s_quote_volume_and_closed_flags():
    with Emulator("hydromancer", now="2026-11-01T00:00:30.500Z", api_key="k3y", budget=None,
                  window=BIG) as emu:
        hm = Hydromancer("k3y", emu.url)
        start = "2026-10-31T22:00Z"
        df = hm.candles("BTC", "1s", start, progress=False)           # 7231 seconds
        truth = emu.truth("BTC", "1s", start, emu.now_ms + 1)
        assert_same(df, truth, source="emulator-hydromancer")
        assert df["quote_volume"].notna().all() and not df["closed"].iloc[-1]
        assert len(emu.stats.by_status) == 1 and hm.stats.requests == 2
        weekly = hm.candles("ETH", "1w", "2025-01-06", "2026-10-05", progress=False)
        assert set(weekly.index.day_of_week) == {0}                    # Mondays
        assert_same(weekly, emu.truth("ETH", "1w", "2025-01-06", "2026-10-05"),
                    source="emulator-hydromancer")
        with pytest.raises(UpstreamError, match="Invalid API key"):
            Hydromancer("wrong", emu.url).candles("BTC", "1h", "2026-10-01", progress=False)


@pytest.mark.parametrize("change, message", [
    (lambda req: req.pop("coin"), "Missing required field: coin"),
    (lambda req: req.update(interval="2m"), "Invalid interval"),
    (lambda req: req.update(endTime=req["startTime"]), "endTime must be greater than startTime"),
])
def test_hydromancer_error_messages_reach_the_user_verbatim(change, message):
    class Tampered(Hydromancer):
        def _candle_payload(self, coin, iv, start_ms, end_ms):
            payload = super()._candle_payload(coin, iv, start_ms, end_ms)
            change(payload["req"])
            return payload

    with (Emulator("hydromancer", now=NOW, budget=None) as emu,
          pytest.raises(UpstreamError) as info):
        Tampered("any", emu.url).candles("BTC", "1h", "2026-10-01", progress=False)
    assert f"HTTP 400: {message}" in str(info.value) and info.value.status == 400
