"""Transport and body faults against a local scripted server: retried, accounted, explained."""

import json

import pandas as pd
import pytest
import requests

from candlekit.errors import RateLimitError, SourceError, UnknownSymbolError, UpstreamError
from candlekit.sources import Hyperliquid
from candlekit.sources.http import (
    AccountedRetry,
    attempt_hooks,
    backoff_delay,
    make_session,
)
from candlekit.sources.testing import Action, FakeUpstream

START, END = "2026-10-30T00:00Z", "2026-10-30T06:00Z"   # 360 one-minute candles


@pytest.fixture
def up():
    with FakeUpstream() as server:
        yield server


def client(up, **kw):
    kw.setdefault("backoff_factor", 0.0)
    kw.setdefault("weight_budget", 100_000)
    return Hyperliquid(up.url, **kw)


def fetch(hl, up):
    df = hl.candles("BTC", "1m", START, END, progress=False)
    pd.testing.assert_frame_equal(df, up.truth("BTC", "1m", START, END))
    return df


def bad_high(records):
    records[3] = dict(records[3], h="1.0")        # high below open and close
    return records


def test_backoff_is_exponential_jittered_and_capped():
    for n in range(1, 8):
        base = min(30.0, 0.25 * 2 ** (n - 1))
        draws = [backoff_delay(n, factor=0.25, maximum=30.0) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in draws)
        assert len(set(draws)) > 1
    assert backoff_delay(40, factor=0.25, maximum=30.0) <= 30.0
    assert backoff_delay(3, factor=0.0, maximum=30.0) == 0.0


def test_the_retry_reports_every_failed_and_every_new_attempt(up):
    up.push(Action(status=500), Action(status=502))
    events = []

    class Recorder:
        def attempt_failed(self, *, response=None, error=None):
            events.append(("failed", response.status))

        def attempt_starting(self):
            events.append(("starting", None))

    session = make_session(max_retries=5, backoff_factor=0.0)
    payload = {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1h",
                                                 "startTime": 0, "endTime": 1}}
    with attempt_hooks(Recorder()):
        response = session.post(f"{up.url}/info", json=payload, timeout=5)
    assert response.status_code == 200
    assert events == [("failed", 500), ("starting", None), ("failed", 502),
                      ("starting", None)]
    retry = session.get_adapter(up.url).max_retries
    assert isinstance(retry, AccountedRetry) and "POST" in retry.allowed_methods


def test_server_errors_then_success(up):
    up.push(Action(status=500), Action(status=503))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.requests == 3 and hl.stats.retries == 2
    assert hl.stats.by_status == {500: 1, 503: 1, 200: 1}
    assert len(up.candle_requests()) == 3


def test_every_attempt_is_charged_to_the_limiter(up):
    up.push(Action(status=500))
    hl = client(up)
    before = hl.limiter.used()
    fetch(hl, up)
    # the failed attempt keeps its upper bound (360 buckets -> 26), the answer its actual
    assert hl.stats.weight == 26 + 26
    assert hl.limiter.used() - before == hl.stats.weight


def test_429_honours_retry_after_and_holds_the_limiter(up):
    up.push(Action(status=429, headers={"Retry-After": "1"}))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.rate_limited == 1
    assert hl.stats.by_status == {429: 1, 200: 1}


def test_429_every_time_raises_rate_limit_error(up):
    up.push(*[Action(status=429, body='{"error": "too many requests"}')] * 9)
    hl = client(up, max_retries=2)
    with pytest.raises(RateLimitError, match="429") as info:
        hl.candles("BTC", "1m", START, END, progress=False)
    assert info.value.status == 429 and "too many requests" in str(info.value)
    assert hl.stats.rate_limited == 9


def test_5xx_every_time_raises_source_error_with_the_request(up):
    # max_retries=3: urllib3 makes 4 attempts a round, and a failed round is repeated
    # 3 more times
    up.push(*[Action(status=503, body="upstream unavailable")] * 16)
    hl = client(up, max_retries=3)
    with pytest.raises(SourceError, match="HTTP 503") as info:
        hl.candles("BTC", "1m", START, END, progress=False)
    assert "candleSnapshot" in str(info.value) and "retry later" in str(info.value)
    assert "upstream unavailable" in str(info.value)
    assert info.value.status == 503 and len(up.candle_requests()) == 16


def test_a_round_that_urllib3_gave_up_on_is_repeated(up):
    up.push(Action(status=500), Action(drop=True), Action(status=502))
    hl = client(up, max_retries=1)
    fetch(hl, up)
    assert hl.stats.requests == 4 and hl.stats.retries == 3
    assert hl.stats.by_status == {500: 1, 502: 1, 200: 1} and hl.stats.failures == {
        "dropped": 1}


def test_a_body_cut_off_mid_transfer_is_asked_again(up):
    up.push(Action(cut=100, lie_length=True))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.requests == 2 and hl.stats.failures == {"dropped": 1}


def test_a_complete_but_truncated_json_body_is_asked_again(up):
    up.push(Action(cut=100))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.failures == {"truncated": 1}


def test_invalid_candles_are_asked_again_and_never_returned(up):
    up.push(Action(edit=bad_high))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.failures == {"invalid": 1}


def test_invalid_candles_every_time_raise_after_the_retries(up):
    up.push(*[Action(edit=bad_high)] * 3)
    hl = client(up, max_retries=2)
    with pytest.raises(SourceError, match="unusable") as info:
        hl.candles("BTC", "1m", START, END, progress=False)
    text = str(info.value)
    assert "Record 3" in text and "high" in text and '"coin":"BTC"' in text
    assert "Nothing was returned" in text


def test_a_body_that_is_not_a_list_is_asked_again(up):
    up.push(*[Action(body='{"candles": []}')] * 2)
    hl = client(up, max_retries=1)
    with pytest.raises(SourceError, match="not a list"):
        hl.candles("BTC", "1m", START, END, progress=False)


def test_a_read_timeout_is_retried(up):
    up.push(Action(sleep=1.5))
    hl = client(up, timeout=0.5)
    fetch(hl, up)
    assert hl.stats.failures["timeout"] >= 1 and hl.stats.retries >= 1
    assert hl.stats.by_status == {200: 1}


def test_a_dropped_connection_is_retried(up):
    up.push(Action(drop=True), Action(drop=True))
    hl = client(up)
    fetch(hl, up)
    assert hl.stats.failures == {"dropped": 2} and hl.stats.requests == 3


def test_an_unreachable_host_raises_source_error_with_advice():
    with socket_closed_port() as port:
        hl = Hyperliquid(f"http://127.0.0.1:{port}", max_retries=1, backoff_factor=0.0)
        with pytest.raises(SourceError, match="Could not get an answer") as info:
            hl.candles("BTC", "1m", START, END, progress=False)
    assert "base_url" in str(info.value)
    assert hl.stats.requests == 2 and hl.stats.failures == {"connection": 2}


def test_upstream_4xx_messages_reach_the_user_verbatim_without_retry(up):
    up.push(Action(status=422, body="Failed to deserialize the JSON body into the target type"))
    hl = client(up)
    with pytest.raises(UpstreamError) as info:
        hl.candles("BTC", "1m", START, END, progress=False)
    assert "Failed to deserialize the JSON body into the target type" in str(info.value)
    assert info.value.status == 422 and len(up.candle_requests()) == 1


def test_json_error_bodies_are_unwrapped(up):
    up.push(Action(status=400, body=json.dumps({"error": "Invalid interval"})))
    with pytest.raises(UpstreamError, match="HTTP 400: Invalid interval"):
        client(up).candles("BTC", "1m", START, END, progress=False)


def test_an_unknown_coin_answer_becomes_unknown_symbol_error_with_suggestions(up):
    hl = client(up)
    with pytest.raises(UnknownSymbolError) as info:
        hl.candles("BTCC", "1m", START, END, progress=False)
    text = str(info.value)
    assert "Unknown coin: BTCC" in text          # the upstream's words
    assert "did you mean 'BTC'?" in text and "`candlekit symbols --upstream SOURCE`" in text


def test_a_given_session_gets_the_retrying_adapter(up):
    session = requests.Session()
    up.push(Action(status=502))
    hl = client(up, session=session)
    assert hl.session is session
    fetch(hl, up)
    assert hl.stats.by_status == {502: 1, 200: 1}


class socket_closed_port:
    """A local port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()
