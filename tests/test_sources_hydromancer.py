"""Hydromancer client: API key, 1s, limit, exclusive endTime, q and x, calendar buckets, errors."""

import json

import pandas as pd
import pytest

from candlekit.errors import UpstreamError
from candlekit.sources import Hydromancer, SourceConfigError
from candlekit.sources.testing import Action, FakeUpstream
from candlekit.timeutil import to_ms

NOW = "2026-11-01T00:00:30Z"
KEY = "secret-key"


@pytest.fixture
def up():
    with FakeUpstream(now=NOW, mode="hydromancer", api_key=KEY) as server:
        yield server


def client(up, **kw):
    kw.setdefault("backoff_factor", 0.0)
    return Hydromancer(KEY, up.url, **kw)


def test_a_missing_api_key_says_to_set_the_environment_variable(monkeypatch):
    monkeypatch.delenv("HYDROMANCER_API_KEY", raising=False)
    with pytest.raises(SourceConfigError, match="HYDROMANCER_API_KEY"):
        Hydromancer()
    with pytest.raises(SourceConfigError, match="HYDROMANCER_API_KEY"):
        Hydromancer("  ")


def test_key_and_url_come_from_the_environment(up, monkeypatch):
    monkeypatch.setenv("HYDROMANCER_API_KEY", KEY)
    monkeypatch.setenv("HYDROMANCER_API_URL", up.url)
    hm = Hydromancer(backoff_factor=0.0)
    assert hm.base_url == up.url and KEY not in repr(hm)
    hm.candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
    assert up.received[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8731", "https://api.hydromancer.xyz",
                                 "  HTTPS://example.org/ "])
def test_a_url_given_as_the_api_key_is_refused_clearly(monkeypatch, url):
    monkeypatch.setenv("HYDROMANCER_API_KEY", KEY)  # the mistake is caught even with a key
    with pytest.raises(SourceConfigError, match=r"is a URL: pass it as base_url="):
        Hydromancer(url)
    assert Hydromancer(base_url="http://127.0.0.1:8731").base_url == "http://127.0.0.1:8731"


def test_a_start_before_1970_says_so_not_the_upstreams_422(up):
    from candlekit.errors import InvalidTimeError

    hm = client(up)
    with pytest.raises(InvalidTimeError, match="before 1970-01-01: no upstream has candles"):
        hm.candles("BTC", "1h", "1900-01-01", "2026-10-02", progress=False)
    with pytest.raises(InvalidTimeError, match="before 1970-01-01"):
        hm.fetch_page("BTC", "1h", -3_600_000, 0)
    assert up.received == []  # refused before any request


def test_the_default_url_is_hydromancers(monkeypatch):
    monkeypatch.delenv("HYDROMANCER_API_URL", raising=False)
    assert Hydromancer(KEY).url == "https://api.hydromancer.xyz/info"


def test_request_sends_limit_and_an_exclusive_end(up):
    client(up).candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
    assert up.candle_requests() == [{"coin": "BTC", "interval": "1h",
                                     "startTime": to_ms("2026-10-01"),
                                     "endTime": to_ms("2026-10-02"), "limit": 5000}]


def test_one_second_candles_with_quote_volume_and_closed_flags(up):
    hm = client(up)
    start = "2026-10-31T23:00:00Z"
    df = hm.candles("BTC", "1s", start, progress=False)     # up to the open second
    assert len(df) == 3631 and len(up.candle_requests()) == 1
    assert df.attrs["alignment"] == "calendar" and df.attrs["source"] == "hydromancer"
    assert df["quote_volume"].notna().all()
    assert not df["closed"].iloc[-1] and df["closed"].iloc[:-1].all()
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1s", start, "2026-11-01T00:00:31Z",
                                               source="hydromancer"))


def test_quote_volume_is_unknown_before_august_2025(up):
    df = client(up).candles("ETH", "1d", "2025-07-20", "2025-08-10", progress=False)
    known = df["quote_volume"].notna()
    assert not known[df.index < "2025-08-01"].any() and known[df.index >= "2025-08-01"].all()


@pytest.mark.parametrize("interval, weekday", [("1w", 0), ("1M", None)])
def test_weeks_start_monday_and_months_follow_the_calendar(up, interval, weekday):
    df = client(up).candles("BTC", interval, "2025-01-01", "2026-10-01", progress=False)
    pd.testing.assert_frame_equal(df, up.truth("BTC", interval, "2025-01-01", "2026-10-01",
                                               source="hydromancer"))
    if weekday is not None:
        assert set(df.index.day_of_week) == {weekday}
    else:
        assert set(df.index.day) == {1}


def test_an_invalid_api_key_is_reported_verbatim_with_advice(up):
    hm = Hydromancer("wrong", up.url)
    with pytest.raises(UpstreamError) as info:
        hm.candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
    assert "Invalid API key" in str(info.value) and "HYDROMANCER_API_KEY" in str(info.value)
    assert info.value.status == 401


@pytest.mark.parametrize("message", ["Invalid interval",
                                     "endTime must be greater than startTime",
                                     "Missing required field: coin"])
def test_hydromancer_error_messages_reach_the_user_verbatim(up, message):
    up.push(Action(status=400, body=json.dumps({"error": message})))
    with pytest.raises(UpstreamError) as info:
        client(up).candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
    assert f"HTTP 400: {message}" in str(info.value)


def test_every_request_weighs_20_points(up):
    hm = client(up, weight_budget=100_000)
    hm.candles("BTC", "1m", "2026-10-20", "2026-10-30", progress=False)   # 3 pages
    assert hm.stats.requests == 3 and hm.stats.weight == 60


def test_the_emulator_header_gives_the_emulator_hydromancer_label():
    with FakeUpstream(now=NOW, mode="hydromancer", emulator_header=True) as up:
        hm = client(up)
        df = hm.candles("BTC", "1h", "2026-10-01", "2026-10-02", progress=False)
        assert df.attrs["source"] == "emulator-hydromancer" and hm.synthetic
