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

__all__ = ["FACT_KINDS", "fact_kind", "format_fact", "iso", "iso_array", "price_decimals",
           "printed_facts", "printed_numbers"]

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
