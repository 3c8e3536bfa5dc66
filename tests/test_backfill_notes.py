"""Folding a task's per-series notes."""

from candlekit.backfill.notes import fold_notes

PART = ("{s} {i}: emulator has no {s} {i} candles before 2026-10-28T12:40Z (listing or "
        "retention): history before 2026-10-28T12:40Z is not available upstream; 39640 "
        "candles requested before it were not fetched")


def test_the_same_message_for_several_series_is_said_once():
    note = " | ".join([PART.format(s=s, i="1m") for s in ("BTC", "ETH", "xyz:NVDA")]
                      + ["BTC 1h: up to date: nothing to fetch",
                         "ETH 1h: up to date: nothing to fetch"])
    folded = fold_notes(note)
    assert folded.count("not available upstream") == 1
    assert folded.startswith("BTC 1m, ETH 1m, xyz:NVDA 1m: emulator has no candles before")
    assert folded.endswith("BTC 1h, ETH 1h: up to date: nothing to fetch (each)")


def test_different_messages_and_single_series_are_kept():
    note = PART.format(s="BTC", i="1m") + " | " + PART.format(s="ETH", i="1m").replace(
        "39640", "100")
    assert fold_notes(note) == note
    assert fold_notes("up to date: nothing to fetch") == "up to date: nothing to fetch"
    assert fold_notes("") == "" and fold_notes(None) == ""


def test_a_symbol_that_prefixes_another_is_not_confused():
    note = "BTC 1m: x for BTC 1m | BTCUSD 1m: x for BTC 1m | @10 1h: y for @1 1h"
    assert fold_notes(note) == note  # only a series' own name is generic in its message
    assert fold_notes("@1 1h: y for @1 1h | @10 1h: y for @10 1h") == (
        "@1 1h, @10 1h: y for (each)")
