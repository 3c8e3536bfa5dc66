"""candleSnapshot and kline REST records: lossless round trips and strict reading."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlekit import wire
from candlekit.errors import FormatError
from candlekit.frame import conform, make_frame
from candlekit.intervals import ALIGNMENTS, INTERVALS, close_time
from candlekit.synthetic import synthetic_candles
from candlekit.wire import format_decimal, from_rest, from_wire, to_rest, to_wire

LATER = "2100-01-01"  # a clock after every candle used here
RANGES = {"1s": ("2025-03-01T05:17:03Z", "2025-03-01T05:30:00Z"),
          "1m": ("2024-12-30T05:17:00Z", "2025-03-04T19:01:00Z")}
HL_RECORD = {"t": 1700000040000, "T": 1700000099999, "s": "BTC", "i": "1m", "o": "45000.00",
             "h": "45100.50", "l": "44980.00", "c": "45050.25", "v": "123.45", "n": 312}
HYDRO_RECORD = {**HL_RECORD, "q": "5560125.00", "x": True}


def _frame(interval: str, alignment: str = "calendar") -> pd.DataFrame:
    base = "1s" if interval == "1s" else "1m"
    df = synthetic_candles("BTC", interval, *RANGES[base], base=base, alignment=alignment)
    return df.iloc[:40]


def _with_unknowns(df: pd.DataFrame) -> pd.DataFrame:
    """Some unknown quote volumes and trade counts, and an open last candle."""
    out = df.copy()
    out.attrs = dict(df.attrs)
    out.loc[out.index[::3], "quote_volume"] = pd.NA
    out.loc[out.index[1::4], "trades"] = pd.NA
    out.loc[out.index[-1], "closed"] = False
    return out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal values, nulls and index, bit for bit; the same buckets for 1w/1M."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs["interval"] == b.attrs["interval"]
    if a.attrs["interval"] in ("1w", "1M"):
        assert a.attrs["alignment"] == b.attrs["alignment"]


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", INTERVALS)
def test_frame_to_hydromancer_records_and_back_is_lossless(interval, alignment):
    df = _with_unknowns(_frame(interval, alignment))
    back = from_wire(to_wire(df, hydromancer=True), now=LATER, source="synthetic")
    _same(back, df)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", INTERVALS)
def test_frame_to_rest_records_and_back_is_lossless(interval, alignment):
    df = _with_unknowns(_frame(interval, alignment))
    back = from_rest(to_rest(df), symbol="BTC", interval=interval, alignment=alignment,
                     now=LATER, source="synthetic")
    _same(back, df)


@pytest.mark.parametrize("alignment", ALIGNMENTS)
@pytest.mark.parametrize("interval", INTERVALS)
def test_hyperliquid_records_keep_prices_volume_and_trades(interval, alignment):
    df = _frame(interval, alignment)
    records = to_wire(df)
    assert all(set(r) == {"t", "T", "s", "i", "o", "h", "l", "c", "v", "n"} for r in records)
    assert [r["T"] for r in records] == close_time(df.index, interval,
                                                   alignment=alignment).asi8.tolist()
    back = from_wire(records, now=LATER, source="synthetic")
    _same(back.drop(columns="quote_volume"), df.drop(columns="quote_volume"))
    assert back["quote_volume"].isna().all()


def test_records_are_plain_json():
    df = _with_unknowns(_frame("1h"))
    for records in (to_wire(df), to_wire(df, hydromancer=True), to_rest(df)):
        assert json.loads(json.dumps(records)) == records
    rec = to_wire(df, hydromancer=True)[3]
    assert type(rec["t"]) is int and type(rec["n"]) is int and type(rec["x"]) is bool
    assert type(rec["o"]) is str and rec["q"] is None  # quote volumes 0, 3, 6... are unknown


def test_unknown_trade_counts_are_written_as_null_never_zero():
    df = _with_unknowns(_frame("1h"))
    records = to_wire(df)
    assert records[1]["n"] is None and records[0]["n"] == int(df["trades"].iloc[0])
    assert pd.isna(from_wire(records, now=LATER)["trades"].iloc[1])


def test_rest_records_look_like_the_kline_api():
    df = _frame("1h")
    rec = to_rest(df)[0]
    assert rec["timestamp"] == "2024-12-30T05:00:00Z"
    assert list(rec) == ["timestamp", "open", "high", "low", "close", "volume",
                         "quote_volume", "trades", "closed"]
    assert wire._iso_times(np.array([1_700_000_040_123, 1_700_000_040_000])) == [
        "2023-11-14T22:14:00.123Z", "2023-11-14T22:14:00Z"]


def test_the_documented_kline_example_reads():
    records = [{"timestamp": "2026-04-01T00:00:00Z", "open": 67000.0, "high": 67500.0,
                "low": 66800.0, "close": 67200.0, "volume": 500.0}]
    df = from_rest(records, symbol="BTC", interval="1h", now="2026-04-01T00:30Z")
    assert df["quote_volume"].isna().all() and df["trades"].isna().all()
    assert not df["closed"].iloc[0]  # the hour is not over at 00:30
    assert from_rest(records, symbol="BTC", interval="1h", now=LATER)["closed"].all()


# --- decimals -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (45000.5, "45000.5"), (1.234e-05, "0.00001234"), (45000.0, "45000.0"), (0.0, "0.0"),
    (1e16, "10000000000000000.0"), (123456789.123, "123456789.123"), (1e-10, "0.0000000001")])
def test_decimal_strings_have_no_exponent(value, text):
    assert format_decimal(value) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_decimal_strings_read_back_as_the_same_float(x):
    text = format_decimal(x)
    assert "e" not in text.lower() and float(text) == x


_prices = st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_prices, _prices, _prices, _prices,
                          st.floats(min_value=0, max_value=1e12),
                          st.one_of(st.none(), st.floats(min_value=0, max_value=1e15)),
                          st.one_of(st.none(), st.integers(0, 2**40)), st.booleans()),
                min_size=0, max_size=8))
def test_any_frame_survives_both_record_formats_bit_for_bit(rows):
    cols = list(zip(*rows)) if rows else [[]] * 8
    o, a, b, c = (np.array(x, dtype=float) for x in cols[:4])
    low = np.minimum.reduce([o, a, b, c]) if rows else o
    high = np.maximum.reduce([o, a, b, c]) if rows else o
    df = make_frame(np.arange(len(rows), dtype=np.int64) * 60_000 + 1_700_000_040_000, o,
                    high, low, c, np.array(cols[4], dtype=float),
                    quote_volume=np.array([np.nan if q is None else q for q in cols[5]]),
                    trades=pd.array(list(cols[6]), dtype="Int64"),
                    closed=np.array(cols[7], dtype=bool), symbol="xyz:NVDA", interval="1m",
                    source="test")
    if rows:
        _same(from_wire(to_wire(df, hydromancer=True), now=LATER, source="test"), df)
    _same(from_rest(to_rest(df), symbol="xyz:NVDA", interval="1m", now=LATER,
                    source="test"), df)


def _decimal_text(mantissa: int, exponent: int) -> str:
    return format(Decimal(mantissa).scaleb(exponent), "f")


_decimals = st.builds(_decimal_text, st.integers(1, 10**15 - 1), st.integers(-14, 4))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(_decimals, min_size=4, max_size=4), _decimals, _decimals,
                          st.integers(0, 10**6), st.booleans()),
                min_size=1, max_size=6))
def test_records_survive_a_trip_through_a_frame_as_equal_decimals(rows):
    records = []
    for k, (prices, volume, quote, n, swap) in enumerate(rows):
        low, a, b, high = sorted(prices, key=Decimal)
        o, c = (b, a) if swap else (a, b)
        records.append({"t": 1_700_000_040_000 + 60_000 * k,
                        "T": 1_700_000_099_999 + 60_000 * k, "s": "BTC", "i": "1m", "o": o,
                        "h": high, "l": low, "c": c, "v": volume, "q": quote, "n": n,
                        "x": True})
    again = to_wire(from_wire(records, now=LATER), hydromancer=True)
    for before, after in zip(records, again):
        assert set(before) == set(after)
        for key in ("o", "h", "l", "c", "v", "q"):
            assert Decimal(after[key]) == Decimal(before[key])
        assert (after["t"], after["T"], after["n"], after["x"]) == (
            before["t"], before["T"], before["n"], before["x"])


# --- closed flags -------------------------------------------------------------------------


@pytest.mark.parametrize(("record", "now", "closed"), [
    (HL_RECORD, HL_RECORD["T"], False),  # the last millisecond: still open
    (HL_RECORD, HL_RECORD["T"] + 1, True),
    (HYDRO_RECORD, HL_RECORD["T"] + 1, True),
    ({**HYDRO_RECORD, "x": False}, LATER, False),  # the server says not final
    (HYDRO_RECORD, HL_RECORD["t"] + 10, False),  # "closed" before its interval ended
])
def test_a_candle_is_closed_only_once_its_interval_is_over(record, now, closed):
    assert from_wire([record], now=now)["closed"].iloc[0] == closed


def test_rest_closed_flags_follow_the_same_rule():
    rec = {"timestamp": "2026-04-01T00:00:00Z", "open": 1.0, "high": 1.0, "low": 1.0,
           "close": 1.0, "volume": 0.0}
    read = [from_rest([{**rec, "closed": flag}], symbol="X", interval="1h",
                      now=now)["closed"].iloc[0]
            for flag, now in [(True, "2026-04-01T00:30Z"), (False, LATER), (None, LATER),
                              (True, LATER)]]
    assert read == [False, False, True, True]


# --- duplicates and order -----------------------------------------------------------------


def _rec(minute: int, close: str, *, x: bool = True, hydro: bool = True) -> dict:
    t = 1_700_000_040_000 + 60_000 * minute
    rec = {**HL_RECORD, "t": t, "T": t + 59_999, "c": close, "h": "46000", "l": "44000"}
    return {**rec, "q": None, "x": x} if hydro else rec


def test_records_are_sorted_and_identical_duplicates_collapse():
    records = [_rec(2, "45002"), _rec(0, "45000"), _rec(1, "45001"), _rec(0, "45000")]
    df = from_wire(records, now=LATER)
    assert df["close"].tolist() == [45000.0, 45001.0, 45002.0]


@pytest.mark.parametrize("order", [0, 1])
def test_a_closed_duplicate_wins_over_an_open_one(order):
    pair = [_rec(0, "45000", x=True), _rec(0, "45999", x=False)]
    pair = pair if order == 0 else pair[::-1]
    df = from_wire(pair, now=LATER)
    assert df["close"].tolist() == [45000.0] and df["closed"].all()


@pytest.mark.parametrize("hydro", [True, False])
def test_otherwise_the_later_duplicate_wins(hydro):
    df = from_wire([_rec(0, "45000", hydro=hydro), _rec(0, "45555", hydro=hydro)],
                   now=LATER)
    assert df["close"].tolist() == [45555.0]


def test_rest_duplicates_follow_the_same_rule():
    rec = {"timestamp": "2026-04-01T00:00:00Z", "open": 1.0, "high": 2.0, "low": 0.5,
           "close": 1.5, "volume": 3.0}
    df = from_rest([{**rec, "closed": True}, {**rec, "close": 1.9, "closed": False},
                    {**rec, "timestamp": "2026-04-01T01:00:00+00:00"}],
                   symbol="X", interval="1h", now=LATER)
    assert df["close"].tolist() == [1.5, 1.5] and len(df) == 2


# --- strict reading -----------------------------------------------------------------------


def _drop(key):
    return lambda r: {k: v for k, v in r.items() if k != key}


def _set(key, value):
    return lambda r: {**r, key: value}


@pytest.mark.parametrize(("mutate", "message"), [
    (_drop("v"), "missing field 'v'"),
    (_drop("n"), "missing field 'n'"),
    (_set("t", "1700000100000"), "'t' must be an integer"),
    (_set("t", 1.7e12), "'t' must be an integer"),
    (_set("n", 3.0), "'n' must be an integer"),
    (_set("n", True), "'n' must be an integer"),
    (_set("o", 45000.0), "'o' must be a decimal string"),
    (_set("o", "45,000"), "'o' must be a decimal string"),
    (_set("h", "nan"), "'h' must be a decimal string"),
    (_set("l", "inf"), "'l' must be a decimal string"),
    (_set("v", "1e400"), "'v' is not a finite number"),
    (_set("s", "ETH"), "s='ETH'"),
    (_set("i", "5m"), "i='5m'"),
    (_set("s", 7), "'s' must be a string"),
    (_set("T", 1700000159998), "its last millisecond"),
    (_set("t", 1700000100001), "not the start of a 1m bucket"),
    (_set("h", "44000"), "high h is below"),
    (_set("l", "46000"), "low l is above"),
    (_set("o", "-1"), "must be > 0"),
    (_set("v", "-1"), "volume v is negative"),
    (_set("x", True), "mixes Hydromancer records"),
])
def test_a_bad_record_is_named_with_its_position(mutate, message):
    second = mutate({**HL_RECORD, "t": HL_RECORD["t"] + 60_000, "T": HL_RECORD["T"] + 60_000})
    with pytest.raises(FormatError, match="Record 1 ") as err:
        from_wire([HL_RECORD, second], now=LATER)
    assert message in str(err.value) and err.value.value == second


@pytest.mark.parametrize(("mutate", "message"), [
    (_set("x", "true"), "'x' must be true or false"),
    (_set("q", 5.0), "'q' must be a decimal string or null"),
    (_set("q", "-5"), "quote volume q is negative"),
])
def test_bad_hydromancer_fields(mutate, message):
    with pytest.raises(FormatError, match=message):
        from_wire([mutate(HYDRO_RECORD)], now=LATER)


def test_records_must_match_the_requested_coin_and_interval():
    with pytest.raises(FormatError, match="symbol='ETH' was asked for"):
        from_wire([HL_RECORD], symbol="ETH")
    with pytest.raises(FormatError, match="interval='1h' was asked for"):
        from_wire([HL_RECORD], interval="1h")
    with pytest.raises(FormatError, match="Invalid interval"):
        from_wire([_set("i", "7m")(HL_RECORD)])


@pytest.mark.parametrize("records", [{"t": 1}, "[]", [HL_RECORD, ["not", "a", "dict"]], 5])
def test_records_must_be_a_list_of_objects(records):
    with pytest.raises(FormatError):
        from_wire(records)


@pytest.mark.parametrize(("mutate", "message"), [
    (_drop("open"), "missing field 'open'"),
    (_set("timestamp", "yesterday"), "is not ISO 8601"),
    (_set("timestamp", 1775001600000), "must be an ISO 8601 string"),
    (_set("timestamp", "2026-04-01T00:30:00Z"), "not the start of a 1h bucket"),
    (_set("close", "67200"), "'close' must be a number"),
    (_set("volume", float("nan")), "not a finite number"),
    (_set("trades", 1.5), "'trades' must be an integer or null"),
    (_set("closed", "yes"), "'closed' must be true, false or null"),
    (_set("low", 67300.0), "low low is above"),
])
def test_a_bad_rest_record_is_named(mutate, message):
    good = {"timestamp": "2026-04-01T00:00:00Z", "open": 67000.0, "high": 67500.0,
            "low": 66800.0, "close": 67200.0, "volume": 500.0}
    with pytest.raises(FormatError, match="Record 0 ") as err:
        from_rest([mutate(good)], symbol="BTC", interval="1h")
    assert message in str(err.value)


def test_reading_does_not_modify_the_records():
    records = [_rec(1, "45001"), _rec(0, "45000")]
    before = copy.deepcopy(records)
    from_wire(records, now=LATER)
    assert records == before


def test_empty_responses_give_empty_frames():
    df = from_wire([], symbol="BTC", interval="1h")
    assert len(df) == 0 and df.attrs["symbol"] == "BTC" and df.attrs["interval"] == "1h"
    assert len(from_rest([], symbol="BTC", interval="1h")) == 0


def test_writing_needs_a_symbol():
    df = _frame("1h")
    df.attrs["symbol"] = None
    with pytest.raises(FormatError, match="symbol"):
        to_wire(df)


# --- real Hyperliquid candles -------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("name", ["BTC_USDC_USDC-1m", "ETH_USDC_USDC-1h",
                                  "BTC_USDC_USDC-1w"])
def test_real_candles_survive_the_wire(freqtrade_dir, name):
    raw = pd.read_feather(freqtrade_dir / f"{name}-futures.feather").tail(500)
    interval = name.rsplit("-", 1)[1]
    df = conform(raw, symbol=name.split("_")[0], interval=interval, alignment="hyperliquid",
                 closed=True, source="hyperliquid")
    records = to_wire(df)
    back = from_wire(records, now=LATER)
    _same(back, df)
    assert to_wire(back) == records


@pytest.mark.parametrize("bad", ["1e", ".", "1..2", "+-1", "1e5e5", "-", "", "nan", "inf",
                                 "1_000", " 1", "1\n", "0x1F", "1,5"])
@pytest.mark.parametrize("position", [0, 3])
def test_malformed_decimals_are_refused_in_any_position(bad, position):
    records = [{"t": i * 60_000, "T": i * 60_000 + 59_999, "s": "BTC", "i": "1m", "o": "10",
                "h": "12", "l": "9", "c": "11", "v": "3.5", "n": 4} for i in range(5)]
    records[position]["c"] = bad
    with pytest.raises(FormatError, match=f"Record {position} .*field 'c' must be a decimal"):
        from_wire(records, now=10**13)


@pytest.mark.parametrize("good", ["1e5", "+1", "1.", ".5", "-0.5e-3", "1E+05"])
def test_unusual_but_valid_decimals_are_read(good):
    rec = {"t": 0, "T": 59_999, "s": "BTC", "i": "1m", "o": good, "h": good, "l": good,
           "c": good, "v": "0", "n": 0}
    if float(good) <= 0:
        rec.update(o="1", h="1", l="1", c="1", v=good.lstrip("-+"))
    df = from_wire([rec], now=10**13)
    assert df.iloc[0]["close"] == (float(good) if float(good) > 0 else 1.0)


def test_from_wire_output_passes_the_schema_even_from_messy_pages():
    from candlekit.schema import validate
    from candlekit.synthetic import synthetic_candles

    df = synthetic_candles("ETH", "5m", "2025-09-01", "2025-09-02", seed=4)
    records = to_wire(df)
    messy = records[100:] + records[:150] + records[10:20]  # out of order, overlapping
    got = from_wire(messy, now="2025-09-01T12:02Z")
    validate(got)
    assert got.index.is_monotonic_increasing and got.index.is_unique
    assert len(got) == 288
    closed = got["closed"].to_numpy()
    assert closed[:144].all() and not closed[144:].any()  # T < 12:02 only up to 11:55
