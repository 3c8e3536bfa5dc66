"""The number guard: invented numbers are rejected, faithful ones accepted at printed precision."""

from __future__ import annotations

import pytest

from candlekit.analysis import analyze, printed_facts
from candlekit.analysis.guard import check, read_numbers
from candlekit.synthetic import synthetic_candles

FACTS = {"close": 67412.5, "rsi_14": 58.31, "ema_20": 66000.1, "ema_50": 65000.0,
         "ema_200": 60000.0, "macd_hist": -120.5, "atr_pct": 1.24, "volume_ratio_20": 1.8,
         "support_touches": 3, "as_of": "2026-11-01T03:59:59.999Z",
         "divergence_first_time": "2026-10-28T08:00:00.000Z"}
PRINTED = {"close": "67,412.50", "rsi_14": "58.31", "ema_20": "66,000.10",
           "ema_50": "65,000.00", "ema_200": "60,000.00", "macd_hist": "-120.50",
           "atr_pct": "1.24%", "volume_ratio_20": "1.80", "support_touches": "3",
           "as_of": "2026-11-01T03:59:59.999Z",
           "divergence_first_time": "2026-10-28T08:00:00.000Z"}


def _check(text: str):
    return check(text, FACTS, printed=PRINTED)


@pytest.mark.parametrize("text", [
    "BTC closed at 67,412.50 with RSI(14) at 58.31.",
    "The close, 67412.5, sits above EMA 20/50/200 (66,000.10, 65,000 and 60,000).",
    "MACD(12, 26, 9) histogram -120.5, i.e. 120.5 below zero; the 20-bar volume ratio is 1.8x.",
    "As of 2026-11-01 04:00 UTC (Nov 1, 2026; 04:00) on the 4h chart (a 4-hour view) and 1d.",
    "Support was touched 3 times; ATR is 1.24% of the close; rsi_14 = 58.31.",
    "1. Trend\n2. Levels: support touched 3 times\n10. the swing of 2026-10-28 08:00",
    "A divergence swing on 28 October 2026 and one at 2026-10-28T08:00:00.000Z, in 2026.",
    "No numbers at all: the market is sideways, open 24/7.",
])
def test_faithful_prose_is_accepted(text):
    result = _check(text)
    assert result.accepted, result.reason
    assert result.reason == "" and result.unknown == ()


@pytest.mark.parametrize("text, bad", [
    ("Strong resistance at 67,450.", "67,450"),
    ("BTC closed near 67,412.", "67,412"),            # a rounded price is another number
    ("BTC trades around 67.4k.", "67.4k"),
    ("MACD histogram is +120.5.", "+120.5"),           # the sign is wrong
    ("RSI is 14 here.", "14"),                         # a period, but written as a value
    ("Volume is 2x its average.", "2x"),
    ("As of 2026-11-02, the trend held.", "2026-11-02"),
    ("The candle closing at 05:00 UTC.", "05:00 UTC"),
    ("Back in 2019 it was lower.", "2019"),
    ("RSI stands at 58.3.", "58.3"),
])
def test_invented_numbers_are_rejected_with_the_number_named(text, bad):
    result = _check(text)
    assert not result.accepted
    assert result.unknown[0] == bad
    kind = "time" if ":" in bad or bad.count("-") == 2 else "value"
    assert result.reason.startswith(f"the model wrote {bad}; no fact has that {kind}")


def test_the_reason_lists_every_unsupported_number_once():
    result = _check("Resistance at 67,450 and 68,000; then 67,450 again, close 67,412.50.")
    assert result.unknown == ("67,450", "68,000")
    assert result.reason == ("the model wrote 67,450; no fact has that value (nor 68,000: 2 "
                             "unsupported numbers in all)")
    assert result.numbers == ("67,450", "68,000", "67,450", "67,412.50")


def test_empty_prose_is_rejected():
    assert check("   ", FACTS, printed=PRINTED).reason == "the model returned no text"


def test_read_numbers_lists_numbers_and_times_as_written():
    assert read_numbers("Close 67,412.50 (+1.2%) on 2026-11-01 at 04:00 UTC; 3 touches.") == [
        "67,412.50", "+1.2%", "2026-11-01", "04:00 UTC", "3"]


@pytest.mark.parametrize("interval, prompt", [("1h", None), ("4h", "levels and divergence"),
                                              ("1d", "volatility, volume and trend")])
def test_the_engines_own_text_passes_the_guard(interval, prompt):
    # every number the deterministic narrative prints is a fact at its printed precision
    df = synthetic_candles("ETH", interval, "2025-01-01", "2026-06-01", seed=11)
    analysis = analyze(df, prompt=prompt, as_of="2026-05-20T12:00Z")
    result = check(analysis.text, analysis)
    assert result.accepted, result.reason
    assert len(result.numbers) > 20
    # and the guard reads the engine's printed forms (printed_facts) by default
    assert check(analysis.text, analysis, printed=printed_facts(analysis.facts)).accepted


def test_a_number_slipped_into_the_engines_text_is_caught():
    df = synthetic_candles("BTC", "4h", "2025-06-01", "2026-06-01", seed=3)
    analysis = analyze(df)
    close = printed_facts(analysis.facts)["close"]
    other = close[:-1] + str((int(close[-1]) + 1) % 10)
    tampered = analysis.text.replace(close, other, 1)
    result = check(tampered, analysis)
    assert not result.accepted and result.unknown == (other,)


@pytest.mark.shared
@pytest.mark.parametrize("coin, interval", [("BTC", "4h"), ("ETH", "1d"), ("BTC", "15m")])
def test_the_engines_text_on_real_candles_passes_and_tampering_is_caught(freqtrade_dir, coin,
                                                                         interval):
    import candlekit as ck

    df = ck.read_freqtrade(freqtrade_dir / f"{coin}_USDC_USDC-{interval}-futures.feather")
    closes = df.index[df["closed"]]
    for as_of in closes[[len(closes) // 3, len(closes) // 2, -1]]:
        analysis = analyze(df, as_of=as_of, lookback=2000)
        result = check(analysis.text, analysis)
        assert result.accepted, (str(as_of), result.reason)
        printed = printed_facts(analysis.facts)
        close = printed["close"]
        wrong = next(c for c in (close[:-1] + str((int(close[-1]) + k) % 10) for k in
                                 range(1, 10)) if not check(c, analysis).accepted)
        bad = check(analysis.text + f"\n\nA level at {wrong}.", analysis)
        assert not bad.accepted and bad.unknown == (wrong,)
