"""analyze(): facts, caveats, text from facts only, the prompt, no look-ahead, errors."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import candlekit as ck
from candlekit.analysis.facts import format_fact, printed_facts, printed_numbers
from candlekit.errors import AnalysisError, CandleValidationError

REQUIRED_FACTS = [
    "close", "as_of", "first_bar", "bars_used", "ema_20", "ema_50", "ema_200", "rsi_14",
    "macd", "macd_signal", "macd_hist", "atr_14", "atr_pct", "adx_14", "realized_vol_ann",
    "realized_vol_pctile", "volume_ratio_20", "trend", "trend_definition", "support",
    "support_touches", "resistance", "resistance_touches", "divergence",
    "divergence_first_confirmed", "divergence_second_confirmed", "mtf_intervals",
    "mtf_alignment", "mtf_1h_trend", "mtf_4h_trend", "mtf_1d_trend", "call_direction",
    "call_p_up", "call_horizon", "call_reference_close", "call_dead_band", "track_n",
    "track_hit_rate", "track_hit_rate_lo", "track_hit_rate_hi", "track_base_rate_up",
    "track_brier", "track_brier_skill",
]
# Indicator periods that are part of fact names (EMA20, RSI14, MACD 12/26/9, ...).
PERIODS = {"9", "12", "14", "20", "26", "50", "200"}
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
INTERVAL_NAME = re.compile(r"\b\d+[smhdwM]\b")


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    return ck.synthetic_candles("BTC", "1h", "2026-01-01", "2026-04-01")


def _same(a: ck.Analysis, b: ck.Analysis) -> None:
    assert a.facts == b.facts
    assert a.text == b.text
    assert a.call == b.call
    assert a.caveats == b.caveats


def test_required_facts_and_json(hourly):
    a = ck.analyze(hourly)
    missing = [k for k in REQUIRED_FACTS if k not in a.facts]
    assert not missing
    assert a.facts["bars_used"] == len(hourly)
    assert a.facts["first_bar"] == "2026-01-01T00:00:00.000Z"
    assert a.as_of == a.facts["as_of"] == "2026-03-31T23:59:59.999Z"
    assert a.call.as_of == a.as_of and a.call.reference_close == hourly["close"].iloc[-1]
    assert a.call.direction in ("up", "down", "flat") and 0 < a.call.p_up < 1
    assert a.call.dead_band > 0 and a.call.horizon == 6
    assert a.facts["trend"] in ("uptrend", "downtrend", "sideways")
    assert a.facts["mtf_intervals"] == "1h,4h,1d"
    assert a.facts["mtf_alignment"] in ("aligned", "mixed", "divergent", "insufficient")
    assert a.synthetic and a.source == "synthetic"
    json.dumps(a.facts, allow_nan=False)
    json.dumps(a.to_dict(), allow_nan=False)
    assert a.to_dict()["analysis"] == a.text


def test_every_fact_has_a_kind_and_a_description(hourly):
    from candlekit.analysis.facts import FACT_KINDS, describe_fact, fact_kind, facts_table

    a = ck.analyze(hourly)
    for name, value in a.facts.items():
        assert describe_fact(name), name
        if isinstance(value, float):
            assert fact_kind(name) not in ("label", "time"), name
        assert name in FACT_KINDS or name.startswith("mtf_"), name
    table = facts_table(a.facts)
    assert len(table) == len(a.facts)
    assert table.set_index("name").loc["close", "printed"] == format_fact("close", a.facts)
    for name in FACT_KINDS:
        assert describe_fact(name), name


def test_same_inputs_same_output(hourly):
    _same(ck.analyze(hourly, prompt="levels"), ck.analyze(hourly.copy(), prompt="levels"))


def test_every_number_in_the_text_is_a_fact(hourly):
    for prompt in (None, "trend momentum divergence volume timeframes levels volatility"):
        a = ck.analyze(hourly, prompt=prompt, as_of="2026-02-20T12:00Z")
        known = printed_numbers(a.facts)
        text = a.text
        for t in ISO.findall(text):
            assert t in known
        stray = [n for n in NUMBER.findall(INTERVAL_NAME.sub("", ISO.sub("", text)))
                 if n not in known and n.lstrip("-") not in PERIODS]
        assert stray == []
    # every printed form comes from the one formatting function
    pf = printed_facts(a.facts)
    assert pf["close"] == format_fact("close", a.facts) and pf["close"] in a.text


def test_prompt_chooses_and_orders_sections(hourly):
    a = ck.analyze(hourly, prompt="What about volume, and is there a divergence? Levels?")
    assert a.sections == ["volume", "divergence", "levels", "call", "caveats"]
    assert a.prompt.startswith("What about volume")
    heads = re.findall(r"^## (.+)$", a.text, flags=re.MULTILINE)
    assert heads == ["Volume", "Divergence", "Levels", "The call and its track record",
                     "Caveats"]
    assert "The prompt asked about volume, divergence, levels" in a.text
    other = ck.analyze(hourly, prompt="tell me a joke")
    assert other.sections[0] == "state" and "named no topic" in other.text
    assert ck.analyze(hourly).sections == list(
        ck.analysis.narrative.DEFAULT_SECTIONS)


def test_track_record_is_stated_even_without_skill(hourly):
    a = ck.analyze(hourly)
    f = a.facts
    assert f["track_n"] > 1000
    assert f"over {format_fact('track_n', f)} past 1h calls on BTC" in a.text
    assert format_fact("track_hit_rate", f) in a.text
    if (f["track_brier_skill"] or 0) <= 0:
        assert "no evidence of skill" in a.text


def test_lookback_and_horizon(hourly):
    a = ck.analyze(hourly, lookback=300, horizon=3)
    assert a.facts["bars_used"] == 300
    assert a.facts["first_bar"] == ck.analysis.facts.iso(
        int(hourly.index[-300].value // 1_000_000))
    assert a.call.horizon == 3 and a.facts["horizon"] == 3


def test_short_history_gives_na_facts_and_a_caveat():
    df = ck.synthetic_candles("ETH", "1h", "2026-01-01", "2026-01-04")  # 72 candles
    a = ck.analyze(df)
    assert a.facts["ema_200"] is None and "n/a" not in printed_facts(a.facts).values()
    assert any("too few for EMA200" in c for c in a.caveats)
    assert a.facts["mtf_4h_trend"] == "unknown" and a.facts["mtf_alignment"] == "insufficient"


def test_caveats_gaps_quote_volume_synthetic_open(hourly):
    df = hourly.drop(hourly.index[[500, 501, 502, 900]])
    df.attrs = dict(hourly.attrs)
    df["quote_volume"] = df["quote_volume"].astype("Float64")
    df.loc[df.index[:10], "quote_volume"] = pd.NA
    df.loc[df.index[-1], "closed"] = False
    a = ck.analyze(df)
    f = a.facts
    assert (f["gaps"], f["missing_candles"]) == (2, 4)
    assert f["quote_volume_unknown"] == 10
    assert f["open_candles_left_out"] == 1
    text = "\n".join(a.caveats)
    assert "4 candle(s) are missing in 2 gap(s)" in text
    assert "Quote volume is unknown for 10 of" in text
    assert "still open" in text and "SYNTHETIC DATA" in text
    assert "SYNTHETIC DATA" in a.text.splitlines()[2]
    for c in a.caveats:
        assert c in a.text


def test_resampled_frame_says_so(hourly):
    four = ck.resample(hourly, "4h")
    four.attrs["resampled_from"] = "1h"
    a = ck.analyze(four)
    assert a.facts["resampled_from"] == "1h"
    assert any("resampled from the stored 1h candles" in c for c in a.caveats)
    assert ck.analyze(hourly).facts["resampled_from"] is None


def test_real_source_has_no_synthetic_caveat(hourly):
    df = hourly.copy()
    df.attrs = {**hourly.attrs, "source": "hyperliquid"}
    a = ck.analyze(df)
    assert not a.synthetic and "SYNTHETIC" not in a.text


def test_open_candle_never_enters(hourly):
    df = hourly.copy()
    df.attrs = dict(hourly.attrs)
    df.loc[df.index[-1], ["high", "close"]] = hourly["close"].iloc[-1] * 10
    df.loc[df.index[-1], "closed"] = False
    a = ck.analyze(df)
    assert a.call.reference_close == hourly["close"].iloc[-2]
    b = ck.analyze(hourly.iloc[:-1])
    assert a.call == b.call
    for k, v in b.facts.items():
        if k != "open_candles_left_out":
            assert a.facts[k] == v, k
    # a stale open candle in the middle is left out too, as if it were missing
    mid = hourly.copy()
    mid.attrs = dict(hourly.attrs)
    mid.loc[mid.index[1000], ["high", "close"]] = 1e9
    mid.loc[mid.index[1000], "closed"] = False
    gap = hourly.drop(hourly.index[1000])
    gap.attrs = dict(hourly.attrs)
    x, y = ck.analyze(mid), ck.analyze(gap)
    assert x.call == y.call and x.facts["rsi_14"] == y.facts["rsi_14"]
    assert x.facts["open_candles_left_out"] == 1 and y.facts["open_candles_left_out"] == 0


def test_as_of_between_candles_uses_only_candles_closed_by_then(hourly):
    a = ck.analyze(hourly, as_of="2026-02-01T10:30Z")
    assert a.as_of == "2026-02-01T09:59:59.999Z"
    assert a.facts["open_candles_left_out"] == 1  # the 10:00 candle was still forming


_EXAMPLE = ck.synthetic_candles("SOL", "1h", "2026-01-01", "2026-01-26")  # 600 candles


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(min_value=60, max_value=len(_EXAMPLE) - 2), data=st.data())
def test_no_look_ahead(i, data):
    """Truncating after as_of, or changing candles after it, changes nothing."""
    df = _EXAMPLE
    as_of = ck.close_time(df.index[i], "1h")
    cut = data.draw(st.integers(min_value=i + 1, max_value=len(df)), label="cut")
    lookback = data.draw(st.sampled_from([None, 55, 300]), label="lookback")
    kw = {"as_of": as_of, "lookback": lookback,
          "prompt": "levels, divergence, volatility, trend"}
    full = ck.analyze(df, **kw)
    part = df.iloc[:cut]
    part.attrs = dict(df.attrs)
    _same(full, ck.analyze(part, **kw))
    wild = df.copy()
    wild.attrs = dict(df.attrs)
    later = wild.index > df.index[i]
    wild.loc[later, ["open", "high", "low", "close"]] *= data.draw(
        st.floats(min_value=0.5, max_value=2.0), label="scale")
    wild.loc[later, "closed"] = data.draw(st.booleans(), label="closed_after")
    _same(full, ck.analyze(wild, **kw))
    assert full.call.as_of == ck.analysis.facts.iso(int(as_of.value // 1_000_000))


@settings(max_examples=10, deadline=None)
@given(j=st.integers(min_value=100, max_value=len(_EXAMPLE) - 1))
def test_an_open_candle_is_never_used(j):
    df = _EXAMPLE.copy()
    df.attrs = dict(_EXAMPLE.attrs)
    df.loc[df.index[j], ["high", "close"]] = 1e12
    df.loc[df.index[j], "closed"] = False
    a = ck.analyze(df, as_of=ck.close_time(df.index[-1], "1h"))
    assert a.facts["close"] < 1e6 and a.facts["atr_14"] < 1e6
    assert all(v is None or not isinstance(v, float) or abs(v) < 1e9
               for v in a.facts.values())


def test_bad_input_errors(hourly):
    with pytest.raises(AnalysisError, match="at least 50"):
        ck.analyze(hourly.iloc[:40])
    with pytest.raises(AnalysisError, match="horizon"):
        ck.analyze(hourly, horizon=0)
    with pytest.raises(AnalysisError, match="lookback"):
        ck.analyze(hourly, lookback=-5)
    with pytest.raises(AnalysisError, match="lookback"):
        ck.analyze(hourly, lookback=2.5)
    with pytest.raises(AnalysisError, match="prompt must be text"):
        ck.analyze(hourly, prompt=["levels"])
    with pytest.raises(AnalysisError, match="crosscheck must be"):
        ck.analyze(hourly, crosscheck="yes")
    with pytest.raises(ck.InvalidTimeError):
        ck.analyze(hourly, as_of="not a time")
    with pytest.raises(AnalysisError, match="pick a later as_of"):
        ck.analyze(hourly, as_of="2025-01-01")
    with pytest.raises(CandleValidationError, match="candle frame"):
        ck.analyze([1, 2, 3])
    with pytest.raises(CandleValidationError, match="missing columns"):
        ck.analyze(hourly[["open", "close"]])
    no_iv = hourly.copy()
    no_iv.attrs = {}
    with pytest.raises(CandleValidationError, match="interval"):
        ck.analyze(no_iv)
    all_open = hourly.iloc[:60].copy()
    all_open.attrs = dict(hourly.attrs)
    all_open["closed"] = False
    with pytest.raises(AnalysisError, match="still open"):
        ck.analyze(all_open)
    assert issubclass(AnalysisError, ValueError)


@pytest.mark.shared
def test_real_btc_4h(freqtrade_dir):
    df = ck.read_freqtrade(freqtrade_dir / "BTC_USDC_USDC-4h-futures.feather")
    a = ck.analyze(df, prompt="trend and levels")
    assert not a.synthetic and a.facts["source"] == "freqtrade"
    assert a.facts["mtf_intervals"] == "4h,1d,1w"
    assert a.facts["price_decimals"] <= 1
    assert a.facts["support"] is None or a.facts["support"] < a.facts["close"]
    assert a.facts["resistance"] is None or a.facts["resistance"] > a.facts["close"]
    assert a.facts["track_n"] > 500


def test_indicator_frame_matches_the_facts(hourly):
    from candlekit.analysis.engine import indicator_frame

    a = ck.analyze(hourly, as_of="2026-03-01T00:00Z", lookback=800)
    fr = indicator_frame(hourly, as_of="2026-03-01T00:00Z", lookback=800)
    assert len(fr) == a.facts["bars_used"] and fr.attrs["as_of"] == a.as_of
    last = fr.iloc[-1]
    for k in ("ema_20", "ema_50", "ema_200", "rsi_14", "macd", "macd_hist", "atr_14",
              "adx_14", "realized_vol_ann", "volume_ratio_20"):
        assert last[k] == a.facts[k], k
    assert last["call_direction"] == a.call.direction and last["call_p_up"] == a.call.p_up
    # swings are marked only once confirmed (k candles later): none in the last k rows
    assert not fr["swing_high"].iloc[-3:].any() and fr["swing_low"].sum() > 10


@pytest.mark.parametrize("interval,start,end", [
    ("1h", "2026-01-01", "2026-01-04"),     # 72 candles: EMA200 and coarser trends n/a
    ("3d", "2025-01-01", "2026-01-01"),     # no coarser interval tiles 3d
    ("1M", "2019-01-01", "2026-01-01"),     # calendar months
])
def test_every_section_renders_on_short_or_coarse_series(interval, start, end):
    df = ck.synthetic_candles("ETH", interval, start, end)
    prompt = " ".join(ck.analysis.narrative.SECTION_KEYWORDS[s][0]
                      for s in ck.analysis.narrative.SECTION_TITLES)
    a = ck.analyze(df, prompt=prompt)
    assert a.sections == list(ck.analysis.narrative.SECTION_TITLES)
    known = printed_numbers(a.facts)
    stray = [n for n in NUMBER.findall(INTERVAL_NAME.sub("", ISO.sub("", a.text)))
             if n not in known and n.lstrip("-") not in PERIODS]
    assert stray == []
    if interval == "3d":
        assert "No coarser timeframe" in a.text
