"""The Markdown narrative, written from templates and nothing but the facts.

Every number printed goes through :func:`candlekit.analysis.facts.format_fact`; the only
other digits in the text are indicator periods that are part of a fact's name (EMA20,
RSI14, MACD 12/26/9, ...). The prompt chooses and orders the sections
(:func:`choose_sections`): each section has keywords, and the sections the prompt names
come in the order it names them. The call (with its track record) and the caveats are
always included, so that nobody reads a call without its record or its data's problems.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..provenance import SYNTHETIC_BANNER
from .facts import format_fact

__all__ = ["DEFAULT_SECTIONS", "SECTION_KEYWORDS", "SECTION_TITLES", "choose_sections",
           "render"]

SECTION_TITLES: dict[str, str] = {
    "state": "State",
    "recent": "What changed recently",
    "trend": "Trend",
    "momentum": "Momentum",
    "levels": "Levels",
    "divergence": "Divergence",
    "timeframes": "Timeframes",
    "volatility": "Risks and volatility",
    "volume": "Volume",
    "call": "The call and its track record",
    "caveats": "Caveats",
}
SECTION_KEYWORDS: dict[str, tuple[str, ...]] = {
    "state": ("state", "summary", "overview", "where"),
    "recent": ("recent", "change", "lately", "latest", "new"),
    "trend": ("trend", "ema", "moving average"),
    "momentum": ("momentum", "rsi", "macd", "overbought", "oversold"),
    "levels": ("level", "support", "resistance", "s/r"),
    "divergence": ("diverg",),
    "timeframes": ("timeframe", "time frame", "multi-timeframe", "higher", "mtf"),
    "volatility": ("volatil", "risk", "atr", "range"),
    "volume": ("volume", "liquidity", "participation"),
    "call": ("call", "forecast", "predict", "direction", "outlook", "bias", "track record"),
    "caveats": ("caveat", "data quality", "gap"),
}
DEFAULT_SECTIONS = ("state", "recent", "levels", "divergence", "timeframes", "volatility",
                    "volume", "call", "caveats")
ALWAYS = ("call", "caveats")


def choose_sections(prompt: str | None) -> tuple[list[str], list[str]]:
    """Sections to write, and the ones the prompt asked for (in its order).

    Returns
    -------
    (sections, asked)
        ``asked`` is empty without a prompt, or when it names no section (then the default
        sections are written).
    """
    if not prompt or not prompt.strip():
        return list(DEFAULT_SECTIONS), []
    text = prompt.lower()
    found: list[tuple[int, str]] = []
    for name, words in SECTION_KEYWORDS.items():
        hits = [m.start() for w in words for m in re.finditer(re.escape(w), text)]
        if hits:
            found.append((min(hits), name))
    asked = [name for _, name in sorted(found)]
    if not asked:
        return list(DEFAULT_SECTIONS), []
    return asked + [s for s in ALWAYS if s not in asked], asked


# --- sections -------------------------------------------------------------------------


class _F:
    """``f["close"]`` is the printed form of a fact."""

    def __init__(self, facts: Mapping[str, Any]):
        self.facts = facts

    def __getitem__(self, name: str) -> str:
        return format_fact(name, self.facts)

    def has(self, name: str) -> bool:
        return self.facts.get(name) is not None


def _state(f: _F) -> list[str]:
    lines = [(f"Close **{f['close']}** at the close of the candle ending {f['as_of']}. "
             f"Trend: **{f['trend']}** ({f['trend_definition']}).")]
    ema = f"EMA20 {f['ema_20']}, EMA50 {f['ema_50']} (close {f['close_ema_50_pct']} from it)"
    if f.has("ema_200"):
        ema += f", EMA200 {f['ema_200']} (close {f['close_ema_200_pct']} from it)"
    else:
        ema += ", EMA200 not yet warmed up (it needs more candles than were used)"
    lines.append(ema + ".")
    lines.append(f"RSI14 {f['rsi_14']}; MACD 12/26/9 line {f['macd']}, signal "
                 f"{f['macd_signal']}, histogram {f['macd_hist']}; ADX14 {f['adx_14']}.")
    return lines


def _trend(f: _F) -> list[str]:
    lines = [(f"The trend is **{f['trend']}**: {f['trend_definition']}. Close {f['close']}, "
             f"EMA20 {f['ema_20']}, EMA50 {f['ema_50']}, ADX14 {f['adx_14']}.")]
    if f.has("ema_200"):
        side = "above" if f.facts["close"] > f.facts["ema_200"] else "below"
        lines.append(f"The close is {side} EMA200 ({f['ema_200']}), "
                     f"{f['close_ema_200_pct']} from it.")
    lines.append(f"{f['recent_bars']} candles ago the trend was {f['trend_prev']}.")
    return lines


def _momentum(f: _F) -> list[str]:
    rsi = f.facts.get("rsi_14")
    zone = ("overbought territory" if rsi is not None and rsi >= 70 else
            "oversold territory" if rsi is not None and rsi <= 30 else "the neutral zone")
    lines = [(f"RSI14 is {f['rsi_14']}, in {zone}. MACD 12/26/9: line {f['macd']}, signal "
             f"{f['macd_signal']}, histogram {f['macd_hist']} "
             f"({'positive' if f.facts['macd_hist'] > 0 else 'not positive'}).")]
    lines.append(_macd_cross(f))
    return lines


def _macd_cross(f: _F) -> str:
    if f.facts.get("macd_cross") in ("bullish", "bearish"):
        way = "above" if f.facts["macd_cross"] == "bullish" else "below"
        return (f"The MACD line crossed {way} its signal {f['macd_cross_bars_ago']} candles "
                f"ago (candle ending {f['macd_cross_time']}).")
    return f"No MACD signal cross in the last {f['recent_bars']} candles."


def _recent(f: _F) -> list[str]:
    lines = [(f"Over the last {f['recent_bars']} candles the close moved "
             f"{f['change_recent_pct']}; RSI14 went from {f['rsi_14_prev']} to "
             f"{f['rsi_14']}; " + _trend_change(f))]
    lines.append(_macd_cross(f))
    if f.facts.get("ema_cross") in ("bullish", "bearish"):
        way = "above" if f.facts["ema_cross"] == "bullish" else "below"
        lines.append(f"EMA20 crossed {way} EMA50 {f['ema_cross_bars_ago']} candles ago "
                     f"(candle ending {f['ema_cross_time']}).")
    else:
        lines.append(f"EMA20 and EMA50 did not cross in the last {f['recent_bars']} candles.")
    return lines


def _trend_change(f: _F) -> str:
    if f.facts.get("trend_prev") == f.facts.get("trend"):
        return f"the trend stayed {f['trend']}."
    return f"the trend went from {f['trend_prev']} to {f['trend']}."


def _level_line(f: _F, side: str) -> str:
    if not f.has(side):
        where = "below" if side == "support" else "above"
        return (f"No {side}: no swing level lies {where} the close in the last "
                f"{f['level_window']} candles.")
    where = "below" if side == "support" else "above"
    span = (f" ({f[side + '_low']} to {f[side + '_high']})"
            if f.facts[side + "_low"] != f.facts[side + "_high"] else "")
    return (f"Nearest {side} **{f[side]}**{span}, "
            f"{f[side + '_distance_pct']} {where} the close, touched by "
            f"{f[side + '_touches']} swing(s), most recently by the candle opening "
            f"{f[side + '_last_touch']}.")


def _levels(f: _F) -> list[str]:
    return [_level_line(f, "support"), _level_line(f, "resistance"),
            (f"Levels are {f['levels_count']} clusters of the swing highs and lows confirmed "
            f"in the last {f['level_window']} candles (a swing needs {f['swing_k']} candles "
            f"on each side, so it is known {f['swing_k']} candles later), grouped within "
            f"{f['level_tolerance_atr']} × ATR14.")]


def _divergence(f: _F) -> list[str]:
    kind = f.facts.get("divergence")
    if kind not in ("bullish", "bearish"):
        return [(f"No fresh RSI divergence: the two latest swing lows and highs confirmed "
                f"within the last {f['divergence_recent']} candles show none.")]
    what = "lower low" if kind == "bullish" else "higher high"
    swing = "low" if kind == "bullish" else "high"
    rsi_way = "rose" if kind == "bullish" else "fell"
    return [(f"**{kind.capitalize()} divergence**: the swing {swing} of the candle opening "
            f"{f['divergence_first_time']} ({f['divergence_first_price']}, confirmed at "
            f"{f['divergence_first_confirmed']}) was followed by a {what} "
            f"{f['divergence_second_price']} at the candle opening "
            f"{f['divergence_second_time']} (confirmed at "
            f"{f['divergence_second_confirmed']}), while RSI14 {rsi_way} from "
            f"{f['divergence_first_rsi']} to {f['divergence_second_rsi']}.")]


def _timeframes(f: _F) -> list[str]:
    names = [x for x in str(f.facts.get("mtf_intervals") or "").split(",") if x]
    if len(names) < 2:
        return [(f"No coarser timeframe is made of whole {f['interval']} candles (the "
                "resampler's tiling rule), so there is no multi-timeframe table; the trend "
                f"on {f['interval']} is {f['trend']}.")]
    rows = ["| interval | trend | close | EMA50 | ADX14 | complete candles | last one closed |",
            "|---|---|---|---|---|---|---|"]
    for iv in names:
        rows.append(f"| {iv} | {f[f'mtf_{iv}_trend']} | {f[f'mtf_{iv}_close']} | "
                    f"{f[f'mtf_{iv}_ema_50']} | {f[f'mtf_{iv}_adx_14']} | "
                    f"{f[f'mtf_{iv}_bars']} | {f[f'mtf_{iv}_last_close']} |")
    return ["\n".join(rows), (f"Across timeframes the trend is **{f['mtf_alignment']}** "
            "(coarser candles resampled from the candles used; only complete, closed "
            "buckets count).")]


def _volatility(f: _F) -> list[str]:
    lines = [(f"ATR14 {f['atr_14']} ({f['atr_pct']} of the close). Realised volatility of "
             f"the last {f['realized_vol_window']} log returns, annualised for a market "
             f"that never closes: {f['realized_vol_ann']}, percentile "
             f"{f['realized_vol_pctile']} of its values over the candles used.")]
    pct = f.facts.get("realized_vol_pctile")
    if pct is not None and pct >= 80:
        lines.append("Volatility is high for this series: expect wider swings and "
                     "stop-outs.")
    elif pct is not None and pct <= 20:
        lines.append("Volatility is low for this series; quiet spells tend to end in "
                     "larger moves.")
    rsi = f.facts.get("rsi_14")
    if rsi is not None and (rsi >= 70 or rsi <= 30):
        lines.append(f"RSI14 {f['rsi_14']} is stretched "
                     f"({'overbought' if rsi >= 70 else 'oversold'}).")
    fx = f.facts
    div, trend = fx.get("divergence"), fx.get("trend")
    if (div, trend) in (("bearish", "uptrend"), ("bullish", "downtrend")):
        lines.append(f"The {div} RSI divergence runs against the {trend}.")
    if fx.get("mtf_alignment") == "divergent":
        lines.append("Timeframes disagree: one is in an uptrend and another in a downtrend.")
    atr_pct = fx.get("atr_pct")
    for side in ("resistance", "support"):
        dist = fx.get(f"{side}_distance_pct")
        if dist is not None and atr_pct is not None and dist <= atr_pct:
            lines.append(f"The close is within one ATR14 of {side} ({f[side]}).")
    lines.append(f"The call's flat band is ±{f['call_dead_band']}.")
    return lines


def _volume(f: _F) -> list[str]:
    lines = [(f"The last candle traded {f['volume']} (base units), {f['volume_ratio_20']} × "
             f"the mean of the 20 candles before it.")]
    if f.facts.get("quote_volume_unknown"):
        lines.append(f"Quote volume is unknown for {f['quote_volume_unknown']} of the "
                     f"{f['bars_used']} candles used.")
    return lines


def _call(f: _F) -> list[str]:
    d = f.facts["call_direction"]
    lines = [(f"**Call: {d}** over the next {f['call_horizon']} candles from the close "
             f"{f['call_reference_close']} (score {f['call_score']}, read as a move of "
             f"{f['call_expected_move']} against a flat band of ±{f['call_dead_band']}). "
             "Probability of a higher close: "
             f"**{f['call_p_up']}**, the share of past {d} calls on this series followed "
             f"by a higher close ({f['call_same_direction_n']} resolved), shrunk towards "
             "the series' base rate.")]
    if not f.facts.get("track_n"):
        lines.append("Track record: no past call on this series had its horizon close by "
                     "now, so there is no record to judge it by.")
        return lines
    lines.append(
        f"Track record: over {f['track_n']} past {f['interval']} calls on {f['symbol']} "
        f"(candles ending {f['track_first']} to {f['track_last']}, horizon "
        f"{f['horizon']} candles) the analyst was right {f['track_hit_rate']} "
        f"[{f['track_hit_rate_lo']}, {f['track_hit_rate_hi']}]; up moves (a higher close) "
        f"were {f['track_base_rate_up']}; outcomes were up {f['track_share_up']}, down "
        f"{f['track_share_down']}, flat {f['track_share_flat']}. Brier score "
        f"{f['track_brier']} against {f['track_brier_base']} for the base rate (skill "
        f"{f['track_brier_skill']}); mean signed return of directional calls "
        f"{f['track_mean_signed_return']}.")
    fx = f.facts
    best_constant = max(fx.get("track_share_up") or 0, fx.get("track_share_down") or 0,
                        fx.get("track_share_flat") or 0)
    skilled = ((fx.get("track_brier_skill") or 0) > 0
               and (fx.get("track_hit_rate_lo") or 0) > best_constant)
    if skilled:
        lines.append("The record beats the base rate and the best constant call, but past "
                     "hit rates are no promise.")
    else:
        lines.append("This record shows no evidence of skill: read the call as a summary "
                     "of the indicators, not as a forecast.")
    return lines


def _caveats(caveats: list[str]) -> list[str]:
    if not caveats:
        return ["None found by candlekit's data checks."]
    return ["\n".join(f"- {c}" for c in caveats)]


_WRITERS = {
    "state": _state, "recent": _recent, "trend": _trend, "momentum": _momentum,
    "levels": _levels, "divergence": _divergence, "timeframes": _timeframes,
    "volatility": _volatility, "volume": _volume, "call": _call,
}


def render(facts: Mapping[str, Any], *, sections: list[str], asked: list[str],
           prompted: bool, caveats: list[str]) -> str:
    """The Markdown text of an analysis.

    Parameters
    ----------
    facts : mapping
        The analysis' facts.
    sections : list of str
        Section names, in order (from :func:`choose_sections`).
    asked : list of str
        The sections the prompt asked for.
    prompted : bool
        Whether a prompt was given.
    caveats : list of str
        The caveats (already written from the facts).
    """
    f = _F(facts)
    out = [f"# {f['symbol']} {f['interval']}: analysis as of {f['as_of']}"]
    if facts.get("synthetic"):
        out.append(SYNTHETIC_BANNER)
    titles = ", ".join(SECTION_TITLES[s].lower() for s in sections)
    if prompted and asked:
        extra = [s for s in sections if s not in asked]
        line = ("The prompt asked about " + ", ".join(SECTION_TITLES[s].lower() for s in asked)
                + "; this analysis covers those")
        if extra:
            line += ", plus " + " and ".join(SECTION_TITLES[s].lower() for s in extra)
        out.append(line + ".")
    elif prompted:
        out.append("The prompt named no topic this analyst covers (levels, volatility, "
                   "divergence, trend, momentum, volume, timeframes, ...); the standard "
                   f"sections follow: {titles}.")
    else:
        out.append(f"Sections: {titles}.")
    out.append(f"From {f['bars_used']} closed candles, the first opening {f['first_bar']}.")
    for name in sections:
        out.append(f"## {SECTION_TITLES[name]}")
        body = _caveats(caveats) if name == "caveats" else _WRITERS[name](f)
        out.append(" ".join(body) if name not in ("timeframes", "caveats") else
                   "\n\n".join(body))
    return "\n\n".join(out) + "\n"
