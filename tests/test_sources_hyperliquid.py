"""Hyperliquid client: request shape, paging, clipping, empty pages, listing, labels, pacing."""

import math
import random

import pandas as pd
import pytest

from candlekit.errors import InvalidIntervalError, InvalidTimeError, SourceError, UnknownSymbolError
from candlekit.sources import Hyperliquid
from candlekit.sources.testing import Action, FakeUpstream
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00Z"
MINUTE = 60_000


@pytest.fixture
def up():
    with FakeUpstream(now=NOW) as server:
        yield server


def client(up, **kw):
    kw.setdefault("backoff_factor", 0.0)
    kw.setdefault("weight_budget", 100_000)
    return Hyperliquid(up.url, **kw)


def test_request_shape_end_time_is_inclusive_so_end_minus_one_is_sent(up):
    client(up).candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
    assert up.candle_requests() == [{"coin": "BTC", "interval": "1h",
                                     "startTime": to_ms("2026-10-01"),
                                     "endTime": to_ms("2026-10-02") - 1}]
    assert up.received[0].headers["content-type"] == "application/json"


def test_pages_advance_past_the_last_candle_received(up):
    start, end = "2026-10-20", "2026-10-30"                   # 14400 candles
    hl = client(up)
    pages = list(hl.iter_pages("BTC", "1m", start, end))
    assert [p.records for p in pages] == [5000, 5000, 4400]
    assert [p.full for p in pages] == [True, True, False]
    reqs = up.candle_requests()
    assert reqs[1]["startTime"] == int(pages[0].frame.index.asi8[-1]) + MINUTE
    assert reqs[2]["startTime"] == int(pages[1].frame.index.asi8[-1]) + MINUTE
    assert len(reqs) <= math.ceil(14400 / 5000) + 1
    df = pd.concat([p.frame for p in pages])
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", start, end))


def test_exactly_one_full_page_needs_one_more_request_to_know_it_ended(up):
    start = to_ms("2026-10-20")
    end = start + 5000 * MINUTE + 7 * MINUTE
    hl = client(up)
    df = hl.candles("BTC", "1m", start, end, progress=False)
    assert len(df) == 5007 and len(up.candle_requests()) == 2


def test_open_end_stops_at_the_server_clock_and_the_open_candle_is_not_closed(up):
    hl = client(up)
    df = hl.candles("ETH", "1h", "2026-10-25", progress=False)
    assert df.index[-1] == pd.Timestamp(NOW)                 # the candle holding "now"
    assert not df["closed"].iloc[-1] and df["closed"].iloc[:-1].all()
    pd.testing.assert_frame_equal(df, up.truth("ETH", "1h", "2026-10-25", "2026-11-02"))
    assert hl.now_ms() == to_ms(NOW)


def test_a_full_page_that_reaches_the_server_clock_ends_the_paging(up):
    start = to_ms(NOW) - 4999 * MINUTE                       # exactly 5000 candles to now
    df = client(up).candles("BTC", "1m", start, progress=False)
    assert len(df) == 5000 and len(up.candle_requests()) == 1


def test_duplicates_out_of_order_and_records_before_start_are_resolved(up):
    rng = random.Random(1)

    def mess(records):
        before = [dict(r, t=r["t"] - 10 * MINUTE, T=r["T"] - 10 * MINUTE) for r in records[:5]]
        out = before + records + records[100:140]
        rng.shuffle(out)
        return out

    up.push(Action(edit=mess), Action(edit=mess))
    start, end = "2026-10-20T00:00Z", "2026-10-27T00:00Z"    # 10080 candles
    pages = list(client(up).iter_pages("BTC", "1m", start, end))
    assert pages[0].records == 5045 and pages[0].full
    assert pages[0].frame.index[0] == pd.Timestamp(start)    # nothing before start
    df = pd.concat([p.frame for p in pages])
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", start, end))


def test_an_empty_page_where_data_must_exist_is_asked_again(up):
    up.push(Action(), Action(edit=lambda r: []), Action(edit=lambda r: []))
    hl = client(up)
    start, end = "2026-10-20", "2026-10-30"
    pages = list(hl.iter_pages("BTC", "1m", start, end))
    assert pages[1].requests == 3 and pages[1].records == 5000
    assert hl.stats.failures == {"empty": 2} and hl.stats.retries == 2
    df = pd.concat([p.frame for p in pages])
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", start, end))


def test_right_after_a_full_page_an_empty_answer_is_re_asked_twice_as_often(up):
    up.push(Action(), *[Action(edit=lambda r: [])] * 4)
    hl = client(up)                                          # confirm_empty=3 -> 6 here
    pages = list(hl.iter_pages("BTC", "1m", "2026-10-20", "2026-10-30"))
    assert pages[1].requests == 5 and pages[1].records == 5000
    assert sum(len(p.frame) for p in pages) == 14400


def test_a_range_before_listing_is_believed_empty_after_confirm_empty_re_asks(up):
    hl = client(up, confirm_empty=2)
    df = hl.candles("BTC", "1d", "2020-01-01", "2021-01-01", progress=False)
    assert df.empty and df.attrs["symbol"] == "BTC" and df.attrs["source"] == "hyperliquid"
    # 1 + 2 * 2 re-asks (a first page), then once up to the clock: it starts later
    assert len(up.candle_requests()) == 6
    kinds = [r.payload["type"] for r in up.received if r.payload["type"] != "candleSnapshot"]
    assert kinds == ["meta", "perpDexs", "meta", "spotMeta"]  # the coin was checked once


def test_a_page_that_stays_empty_where_candles_exist_raises(up):
    up.push(Action(), *[Action(edit=lambda r: [])] * 7)
    with pytest.raises(SourceError, match="kept answering an empty list .* not proof"):
        client(up).candles("BTC", "1m", "2026-10-20", "2026-10-30", progress=False)


def test_a_first_page_answered_empty_under_load_is_not_believed(up):
    up.push(*[Action(edit=lambda r: [])] * 7)  # the first answer and every re-ask
    hl = client(up)
    start, end = "2026-10-30", "2026-10-31"
    df = hl.candles("BTC", "1h", start, end, progress=False)  # the probe up to now got it
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1h", start, end))
    up.push(*[Action(edit=lambda r: [])] * 8)
    with pytest.raises(SourceError, match="also when asked up to now"):
        hl.candles("BTC", "1h", start, end, progress=False)


def test_an_empty_page_for_the_open_bucket_is_believed_at_once(up):
    df = client(up).candles("BTC", "1d", "2026-11-01T00:00:01Z", progress=False)
    assert df.empty and len(up.candle_requests()) == 1


def test_an_unlisted_coin_answered_with_an_empty_list_raises_with_suggestions():
    with (FakeUpstream(now=NOW, unknown_as_empty=True) as up,
          pytest.raises(UnknownSymbolError) as info):
        client(up).candles("BTCC", "1h", "2026-10-01", progress=False)
    assert str(info.value) == ("Unknown coin 'BTCC' on hyperliquid; `candlekit symbols "
                               "--upstream SOURCE` lists coins; did you mean 'BTC'?")
    assert len(up.candle_requests()) == 1                    # no re-asks for a typo


def test_retention_the_first_page_starts_where_the_window_starts():
    with FakeUpstream(now=NOW, window=300) as up:
        hl = client(up)
        pages = list(hl.iter_pages("BTC", "1h", "2023-01-01"))
        first = to_ms(NOW) - 299 * 3_600_000
        assert int(pages[0].frame.index.asi8[0]) == first
        assert hl.earliest("BTC", "1h") == pd.Timestamp(first, unit="ms", tz="UTC")
        assert sum(len(p.frame) for p in pages) == 300


def test_closed_follows_the_server_date_header_and_the_local_clock_without_one():
    with FakeUpstream(now="2026-11-01T00:30Z") as up:
        df = client(up).candles("BTC", "1h", "2026-10-31T22:00Z", progress=False)
        assert df["closed"].tolist() == [True, True, False]
    with FakeUpstream(now="2026-11-01T00:30Z", send_date=False) as up:
        # no Date: the local clock (later than the fake market's) decides
        df = client(up).candles("BTC", "1h", "2026-10-31T22:00Z", "2026-11-01T01:00Z",
                                progress=False)
        assert df["closed"].tolist() == [True, True, True]


def test_a_server_that_says_it_is_the_emulator_labels_its_data_synthetic():
    with FakeUpstream(now=NOW, emulator_header=True) as up:
        hl = client(up)
        assert hl.label == "hyperliquid" and not hl.synthetic
        df = hl.candles("BTC", "4h", "2026-10-01", "2026-10-02", progress=False)
        assert df.attrs["source"] == "emulator" and hl.label == "emulator" and hl.synthetic


def test_identify_asks_the_server_once():
    with FakeUpstream(now=NOW, emulator_header=True) as up:
        hl = client(up)
        assert hl.identify() == "emulator" and hl.identify() == "emulator"
        assert [r.payload["type"] for r in up.received] == ["meta"]


def test_symbols_lists_perps_hip3_and_spot_with_human_pair_names(up):
    hl = client(up)
    listing = hl.symbols()
    assert list(listing.columns) == ["symbol", "kind", "dex", "name"]
    rows = {r.symbol: (r.kind, r.dex, r.name) for r in listing.itertuples()}
    assert rows == {"BTC": ("perp", "", "BTC"), "ETH": ("perp", "", "ETH"),
                    "xyz:NVDA": ("hip3", "xyz", "NVDA"),
                    "PURR/USDC": ("spot", "", "PURR/USDC"), "@107": ("spot", "", "HYPE/USDC")}
    hl.symbols()
    assert len(up.received) == 4                             # cached
    assert {"type": "meta", "dex": "xyz"} in [r.payload for r in up.received]


@pytest.mark.parametrize("coin", ["xyz:NVDA", "@107", "PURR/USDC"])
def test_hip3_and_spot_coins_are_fetched_by_their_listing_name(up, coin):
    df = client(up).candles(coin, "1d", "2026-10-01", "2026-10-10", progress=False)
    pd.testing.assert_frame_equal(df, up.truth(coin, "1d", "2026-10-01", "2026-10-10"))


@pytest.mark.parametrize("interval", ["3d", "1w", "1M"])
def test_long_intervals_use_the_exchange_alignment(up, interval):
    df = client(up).candles("BTC", interval, "2025-01-01", "2026-10-01", progress=False)
    assert df.attrs["alignment"] == "hyperliquid"
    pd.testing.assert_frame_equal(df, up.truth("BTC", interval, "2025-01-01", "2026-10-01"))
    if interval == "1w":
        assert set(df.index.day_of_week) == {3}                # Thursdays


@pytest.mark.parametrize("args, error, text", [
    (("BTC", "1s", "2026-10-01"), InvalidIntervalError, "Hydromancer"),
    (("BTC", "2m", "2026-10-01"), InvalidIntervalError, "Invalid interval"),
    (("BTC", "1h", "2026-10-02", "2026-10-01"), InvalidTimeError, "must be after"),
    (("BTC", "1h", "2026-10-01", "2026-10-01"), InvalidTimeError, "must be after"),
    (("BTC", "1h", "yesterday-ish"), InvalidTimeError, "Unparseable"),
    (("", "1h", "2026-10-01"), UnknownSymbolError, "coin"),
    ((None, "1h", "2026-10-01"), UnknownSymbolError, "coin"),
])
def test_bad_arguments_fail_before_any_request(up, args, error, text):
    hl = client(up)
    with pytest.raises(error, match=text):
        hl.candles(*args, progress=False)
    with pytest.raises(error, match=text):
        next(hl.iter_pages(*args))
    assert up.received == []


def test_progress_bar_counts_buckets(up, capsys):
    df = client(up).candles("BTC", "1m", "2026-10-25", "2026-10-30", progress=True)
    assert len(df) == 7200
    err = capsys.readouterr().err
    assert "7200/7200" in err and "BTC 1m" in err


def test_a_budget_bound_run_keeps_whole_pages_and_never_gets_429():
    with FakeUpstream(now=NOW, budget=230, budget_window=0.6) as up:
        hl = client(up, weight_budget=230, weight_window=0.6)
        start, end = "2026-10-10", "2026-10-20"               # 14400 candles
        df = hl.candles("BTC", "1m", start, end, progress=False)
        pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", start, end))
        assert 429 not in up.statuses and hl.stats.wait_seconds > 0
        assert len(up.candle_requests()) == math.ceil(14400 / 5000)


def test_fill_budget_spends_the_slack_on_shorter_pages_and_never_gets_429():
    # the server enforces 230 weight per 0.6 s; full pages weigh 104, so two fit and the
    # remaining 22 buy a 120-candle page instead of idling
    with FakeUpstream(now=NOW, budget=230, budget_window=0.6) as up:
        hl = client(up, weight_budget=230, weight_window=0.6, fill_budget=True)
        start, end = "2026-10-10", "2026-10-20"
        df = hl.candles("BTC", "1m", start, end, progress=False)
        pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", start, end))
        assert 429 not in up.statuses and hl.stats.rate_limited == 0
        spans = [r["endTime"] + 1 - r["startTime"] for r in up.candle_requests()]
        assert min(spans) < 5000 * MINUTE                    # a shorter page was used


def test_several_clients_share_the_host_budget_without_429():
    with FakeUpstream(now=NOW, budget=300, budget_window=0.5) as up:
        a = client(up, weight_budget=300, weight_window=0.5)
        b = Hyperliquid(up.url)                              # same host: same limiter
        assert a.limiter is b.limiter
        for hl, coin in [(a, "BTC"), (b, "ETH"), (a, "ETH"), (b, "BTC")]:
            hl.candles(coin, "5m", "2026-09-01", "2026-10-01", progress=False)
        assert 429 not in up.statuses
        assert (a.limiter.budget, a.limiter.window) == (300, 0.5)
        assert a.stats.wait_seconds + b.stats.wait_seconds > 0
