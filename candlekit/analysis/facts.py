"""The facts of an analysis, and the one way each is printed.

``Analysis.facts`` is a flat mapping from stable names to JSON values (float, int, str,
bool or None). Numbers are kept at full float64 precision; :func:`format_fact` is the
*only* function that turns a fact into the text the narrative prints, so a reader (or the
language-model guard) can reproduce every printed number with :func:`printed_facts`.

How each kind of fact is printed (:data:`FACT_KINDS` gives each name its kind):

=============  =========================================================================
kind           printed as
=============  =========================================================================
``price``      price units, ``price_decimals`` decimals (the quotes' own precision), or
               more when needed for three significant digits; thousands separated
``pct``        a value already in percent: two decimals and ``%`` (``1.24%``)
``fraction``   a fraction printed as a percent, two decimals (``0.4523`` → ``45.23%``)
``prob``       a probability printed as a percent, one decimal (``0.508`` → ``50.8%``)
``index``      an oscillator on a 0-100 scale, one decimal (RSI, ADX, percentiles)
``ratio``      two decimals (``1.35``)
``brier``      four decimals (``0.2497``)
``count``      an integer, thousands separated
``volume``     base-asset volume, two decimals, thousands separated
``time``       the ISO 8601 string as stored (``2025-07-26T03:59:59.999Z``)
``label``      the string as stored
=============  =========================================================================
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FACT_DESCRIPTIONS", "FACT_KINDS", "MTF_DESCRIPTIONS", "describe_fact", "fact_kind",
           "facts_table", "format_fact", "iso", "iso_array", "price_decimals", "printed_facts",
           "printed_numbers"]

_EXACT_KINDS: dict[str, str] = {
    "symbol": "label", "interval": "label", "source": "label", "synthetic": "label",
    "resampled_from": "label",
    "as_of": "time", "first_bar": "time", "last_open": "time",
    "bars_used": "count", "horizon": "count", "price_decimals": "count",
    "close": "price", "ema_20": "price", "ema_50": "price", "ema_200": "price",
    "rsi_14": "index", "rsi_14_prev": "index", "adx_14": "index",
    "macd": "price", "macd_signal": "price", "macd_hist": "price",
    "atr_14": "price", "atr_pct": "pct",
    "close_ema_50_pct": "pct", "close_ema_200_pct": "pct",
    "realized_vol_ann": "fraction", "realized_vol_window": "count",
    "realized_vol_pctile": "index",
    "volume": "volume", "volume_ratio_20": "ratio",
    "trend": "label", "trend_prev": "label", "trend_definition": "label",
    "recent_bars": "count", "change_recent_pct": "pct",
    "macd_cross": "label", "macd_cross_bars_ago": "count", "macd_cross_time": "time",
    "ema_cross": "label", "ema_cross_bars_ago": "count", "ema_cross_time": "time",
    "support": "price", "support_low": "price", "support_high": "price",
    "support_touches": "count", "support_last_touch": "time", "support_distance_pct": "pct",
    "resistance": "price", "resistance_low": "price", "resistance_high": "price",
    "resistance_touches": "count", "resistance_last_touch": "time",
    "resistance_distance_pct": "pct",
    "levels_count": "count", "level_window": "count", "swing_k": "count",
    "level_tolerance_atr": "ratio",
    "divergence": "label",
    "divergence_first_time": "time", "divergence_second_time": "time",
    "divergence_first_confirmed": "time", "divergence_second_confirmed": "time",
    "divergence_first_price": "price", "divergence_second_price": "price",
    "divergence_first_rsi": "index", "divergence_second_rsi": "index",
    "divergence_recent": "count",
    "mtf_intervals": "label", "mtf_alignment": "label",
    "call_direction": "label", "call_p_up": "prob", "call_score": "ratio",
    "call_dead_band": "price", "call_expected_move": "price",
    "call_reference_close": "price", "call_horizon": "count",
    "call_same_direction_n": "count",
    "track_n": "count", "track_hits": "count", "track_hit_rate": "prob",
    "track_hit_rate_lo": "prob", "track_hit_rate_hi": "prob", "track_base_rate_up": "prob",
    "track_brier": "brier", "track_brier_base": "brier", "track_brier_skill": "brier",
    "track_mean_signed_return": "fraction", "track_share_flat": "prob",
    "track_share_up": "prob", "track_share_down": "prob",
    "track_first": "time", "track_last": "time", "track_pending": "count",
    "gaps": "count", "missing_candles": "count", "open_candles_left_out": "count",
    "quote_volume_unknown": "count",
    "crosscheck_interval": "label", "crosscheck_checked": "count",
    "crosscheck_disagreeing": "count", "crosscheck_latest": "time",
}
_MTF_KINDS = {"trend": "label", "bars": "count", "close": "price", "ema_20": "price",
              "ema_50": "price", "adx_14": "index", "last_close": "time"}
_MTF = re.compile(r"^mtf_(?P<iv>[0-9]+[smhdwM])_(?P<field>[a-z_0-9]+)$")

#: What each fact means (``mtf_<interval>_<field>`` facts: see :data:`MTF_DESCRIPTIONS`).
FACT_DESCRIPTIONS: Mapping[str, str] = {
    "symbol": "the coin analysed", "interval": "the candle interval analysed",
    "source": "where the candles came from (store source label)",
    "synthetic": "whether the candles are synthetic (generated, not real prices)",
    "resampled_from": "the stored finer interval these candles were resampled from",
    "as_of": "close time of the last candle used", "first_bar": "open time of the first "
    "candle used", "last_open": "open time of the last candle used",
    "bars_used": "closed candles used", "horizon": "horizon of the calls, in candles",
    "price_decimals": "decimals the prices are quoted with (the printing precision)",
    "close": "close of the last candle used", "ema_20": "EMA of the closes, 20 candles",
    "ema_50": "EMA of the closes, 50 candles", "ema_200": "EMA of the closes, 200 candles",
    "rsi_14": "Wilder RSI, 14 candles", "rsi_14_prev": "RSI14 recent_bars candles earlier",
    "adx_14": "Wilder ADX, 14 candles", "macd": "MACD line (EMA12 - EMA26)",
    "macd_signal": "EMA9 of the MACD line", "macd_hist": "MACD line minus signal",
    "atr_14": "Wilder ATR, 14 candles (price units)", "atr_pct": "ATR14 in % of the close",
    "close_ema_50_pct": "close relative to EMA50, %",
    "close_ema_200_pct": "close relative to EMA200, %",
    "realized_vol_ann": "std of the last realized_vol_window log returns, annualised for "
    "a 365.25-day year (fraction)",
    "realized_vol_window": "log returns in the realised-volatility window",
    "realized_vol_pctile": "percentile of realized_vol_ann among its values over the "
    "candles used", "volume": "base-asset volume of the last candle",
    "volume_ratio_20": "last volume over the mean volume of the 20 candles before it",
    "trend": "trend label (see trend_definition)", "trend_prev": "trend label "
    "recent_bars candles earlier", "trend_definition": "how trend is defined",
    "recent_bars": "candles 'recently' looks back over",
    "change_recent_pct": "close change over the last recent_bars candles, %",
    "macd_cross": "latest MACD/signal cross within recent_bars (bullish, bearish, none)",
    "macd_cross_bars_ago": "candles since that cross",
    "macd_cross_time": "close time of the candle of that cross",
    "ema_cross": "latest EMA20/EMA50 cross within recent_bars (bullish, bearish, none)",
    "ema_cross_bars_ago": "candles since that cross",
    "ema_cross_time": "close time of the candle of that cross",
    "support": "nearest level below the close (mean of its swing prices)",
    "support_low": "lowest swing price in the support level",
    "support_high": "highest swing price in the support level",
    "support_touches": "confirmed swings in the support level",
    "support_last_touch": "open time of the latest swing candle in it",
    "support_distance_pct": "distance from the close to support, %",
    "resistance": "nearest level above the close (mean of its swing prices)",
    "resistance_low": "lowest swing price in the resistance level",
    "resistance_high": "highest swing price in the resistance level",
    "resistance_touches": "confirmed swings in the resistance level",
    "resistance_last_touch": "open time of the latest swing candle in it",
    "resistance_distance_pct": "distance from the close to resistance, %",
    "levels_count": "levels (swing clusters) found", "level_window": "candles whose "
    "swings make the levels", "swing_k": "candles on each side of a swing (its "
    "confirmation delay)", "level_tolerance_atr": "cluster width, in ATR14",
    "divergence": "fresh RSI divergence: bullish, bearish or none",
    "divergence_first_time": "open time of the earlier swing candle",
    "divergence_second_time": "open time of the later swing candle",
    "divergence_first_confirmed": "close time of the candle confirming the earlier swing",
    "divergence_second_confirmed": "close time of the candle confirming the later swing",
    "divergence_first_price": "the earlier swing's low (bullish) or high (bearish)",
    "divergence_second_price": "the later swing's low (bullish) or high (bearish)",
    "divergence_first_rsi": "RSI14 at the earlier swing",
    "divergence_second_rsi": "RSI14 at the later swing",
    "divergence_recent": "a divergence is fresh for this many candles after confirmation",
    "mtf_intervals": "the timeframes of the table, comma-separated",
    "mtf_alignment": "aligned, mixed, divergent or insufficient",
    "call_direction": "up, down or flat", "call_p_up": "probability of a higher close "
    "after horizon candles (the series' own frequency after such calls)",
    "call_score": "the call's indicator score in [-1, 1]",
    "call_dead_band": "half-width of the flat band (price units)",
    "call_expected_move": "the score read as a move (price units)",
    "call_reference_close": "the close the call is measured from",
    "call_horizon": "candles ahead the call is for",
    "call_same_direction_n": "past calls of the same direction already resolved",
    "track_n": "past calls graded (horizon closed by as_of)", "track_hits": "hits",
    "track_hit_rate": "hits / graded calls", "track_hit_rate_lo": "Wilson 95% lower bound",
    "track_hit_rate_hi": "Wilson 95% upper bound",
    "track_base_rate_up": "share of graded calls followed by a higher close",
    "track_brier": "Brier score of p_up", "track_brier_base": "Brier score of the base rate",
    "track_brier_skill": "1 - brier / brier_base (above 0 beats the base rate)",
    "track_mean_signed_return": "mean return in the called direction (fraction)",
    "track_share_up": "share of outcomes up (beyond the band)",
    "track_share_down": "share of outcomes down (beyond the band)",
    "track_share_flat": "share of outcomes inside the band",
    "track_first": "as_of of the first graded call", "track_last": "as_of of the last "
    "graded call", "track_pending": "calls not graded (horizon open, or target in a gap)",
    "gaps": "gaps inside the candles used", "missing_candles": "candles missing in them",
    "open_candles_left_out": "candles not closed by as_of that were left out",
    "quote_volume_unknown": "candles used whose quote volume is unknown",
    "crosscheck_interval": "the cross-check's fine and coarse intervals",
    "crosscheck_checked": "complete coarse buckets cross-checked",
    "crosscheck_disagreeing": "stored coarse candles up to as_of that disagree",
    "crosscheck_latest": "close time of the latest disagreeing candle",
}
MTF_DESCRIPTIONS: Mapping[str, str] = {
    "trend": "trend label on that timeframe", "bars": "complete candles on it",
    "close": "close of its last complete candle", "ema_20": "its EMA20",
    "ema_50": "its EMA50", "adx_14": "its ADX14",
    "last_close": "close time of its last complete candle",
}

#: Kinds of every fixed fact name (multi-timeframe facts ``mtf_<interval>_<field>`` too).
FACT_KINDS: Mapping[str, str] = _EXACT_KINDS


def fact_kind(name: str) -> str:
    """The printing kind of a fact (see the module docstring)."""
    if name in _EXACT_KINDS:
        return _EXACT_KINDS[name]
    m = _MTF.match(name)
    if m and m["field"] in _MTF_KINDS:
        return _MTF_KINDS[m["field"]]
    return "label"


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and ``Z``."""
    if ms is None:
        return None
    return str(np.datetime_as_string(np.int64(ms).astype("datetime64[ms]"), unit="ms")) + "Z"


def iso_array(ms: np.ndarray) -> np.ndarray:
    """:func:`iso` of every element (object array of str)."""
    out = np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"),
                                unit="ms")
    return np.char.add(out, "Z").astype(object)


def price_decimals(values: np.ndarray, *, max_decimals: int = 8) -> int:
    """The fewest decimals that represent every quoted price exactly (at most 8)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return 2
    for d in range(max_decimals + 1):
        scaled = v * 10.0 ** d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.abs(scaled) + 1e-6):
            return d
    return max_decimals


def _price_places(value: float, decimals: int) -> int:
    if value == 0 or not math.isfinite(value):
        return decimals
    needed = 2 - math.floor(math.log10(abs(value)))  # three significant digits
    return int(min(max(decimals, needed), 10))


def format_fact(name: str, facts: Mapping[str, Any]) -> str:
    """The text printed for fact ``name`` (``"n/a"`` when it is None).

    Parameters
    ----------
    name : str
        A fact name.
    facts : mapping
        The facts (``price_decimals`` sets the precision of prices).

    Returns
    -------
    str

    Examples
    --------
    >>> f = {"price_decimals": 1, "close": 67450.5, "atr_pct": 1.2345, "call_p_up": 0.5084}
    >>> format_fact("close", f), format_fact("atr_pct", f), format_fact("call_p_up", f)
    ('67,450.5', '1.23%', '50.8%')
    """
    value = facts.get(name)
    if value is None:
        return "n/a"
    kind = fact_kind(name)
    if kind in ("label", "time"):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)
    v = float(value)
    if kind == "price":
        return f"{v:,.{_price_places(v, int(facts.get('price_decimals', 2)))}f}"
    if kind == "pct":
        return f"{v:,.2f}%"
    if kind == "fraction":
        return f"{100.0 * v:,.2f}%"
    if kind == "prob":
        return f"{100.0 * v:.1f}%"
    if kind == "index":
        return f"{v:.1f}"
    if kind == "ratio":
        return f"{v:,.2f}"
    if kind == "brier":
        return f"{v:.4f}"
    if kind == "count":
        return f"{int(v):,}"
    if kind == "volume":
        return f"{v:,.2f}"
    return str(value)


def printed_facts(facts: Mapping[str, Any]) -> dict[str, str]:
    """Every fact's printed form: ``{name: format_fact(name, facts)}`` (None facts left out).

    The narrative prints facts only through :func:`format_fact`, so every number in
    ``Analysis.text`` (apart from indicator periods such as 14 or 200 that are part of a
    fact's name) is one of these strings or a number inside one.
    """
    return {k: format_fact(k, facts) for k in facts if facts[k] is not None}


def printed_numbers(facts: Mapping[str, Any]) -> set[str]:
    """The numbers as printed (``"67,450.5"``, ``"1.23"``, ``"50.8"``), also without commas.

    Labels are left out; times are included whole (``2025-07-26T03:59:59.999Z``).
    """
    out: set[str] = set()
    for name, text in printed_facts(facts).items():
        kind = fact_kind(name)
        if kind == "label":
            continue
        if kind == "time":
            out.add(text)
            continue
        bare = text.rstrip("%")
        out.add(bare)
        out.add(bare.replace(",", ""))
    return out


def describe_fact(name: str) -> str:
    """What fact ``name`` means (``""`` for an unknown name)."""
    if name in FACT_DESCRIPTIONS:
        return FACT_DESCRIPTIONS[name]
    m = _MTF.match(name)
    if m and m["field"] in MTF_DESCRIPTIONS:
        return f"{m['iv']}: {MTF_DESCRIPTIONS[m['field']]}"
    return ""


def facts_table(facts: Mapping[str, Any]) -> pd.DataFrame:
    """The facts as a table: ``name, value, printed, kind, description`` (one row each).

    For notebooks and reports; ``printed`` is exactly what the narrative prints.
    """
    rows = [{"name": k, "value": v, "printed": format_fact(k, facts), "kind": fact_kind(k),
             "description": describe_fact(k)} for k, v in facts.items()]
    return pd.DataFrame(rows, columns=["name", "value", "printed", "kind", "description"])
