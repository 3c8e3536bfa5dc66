"""``analyze``: facts, caveats, the call and the narrative of one series at one ``as_of``.

A pure function of the candle frame: it selects the closed candles whose close time is at
or before ``as_of``, computes every series over them once
(:func:`candlekit.analysis.series.compute`), reads the facts at the last candle, writes
the caveats and the text from those facts, and makes the call. Nothing after ``as_of``
(and no candle that was still open) can reach any of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numba
import numpy as np
import pandas as pd

from ..errors import AnalysisError, CandleValidationError
from ..frame import frame_alignment, frame_interval
from ..gaps import find_gaps
from ..intervals import close_ms
from ..provenance import is_synthetic
from ..timeutil import to_ms, to_ms_array
from . import call as _call
from .divergence import DIVERGENCE_RECENT, find_divergence
from .facts import format_fact, iso, price_decimals
from .levels import SWING_K, nearest_levels
from .model import Analysis, Call
from .narrative import choose_sections, render
from .scoring import grade_core, summarize_core
from .series import TREND_DEFINITION, SeriesState, compute, trend_label
from .timeframes import TimeframeRow, table_alignment, timeframe_table

__all__ = ["LEVEL_TOLERANCE_ATR", "LEVEL_WINDOW", "RECENT_BARS", "analyze", "indicator_frame",
           "select_candles"]

#: Candles over which "what changed recently" looks back.
RECENT_BARS = 10
#: Swings of this many latest candles make the support/resistance levels.
LEVEL_WINDOW = 250
#: Swings within this many ATR14 of a cluster's lowest price join it.
LEVEL_TOLERANCE_ATR = 0.5
_DIRECTION = {1: "up", 0: "flat", -1: "down"}
_REQUIRED = ("open", "high", "low", "close", "volume", "closed")


@contextlib.contextmanager
def serial_numba() -> Iterator[None]:
    """Run numba's parallel kernels (resample, find_gaps) on this thread only.

    An analysis touches a few thousand candles: waking a thread pool costs more than the
    work, and far more on a loaded machine. The setting is per thread and restored after.
    """
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _check_frame(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise CandleValidationError(
            f"analyze() takes a candle frame, not {type(df).__name__}: read one with "
            "candlekit.Store().read(...) or candlekit.read_freqtrade(...).")
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise CandleValidationError(
            f"analyze() needs a canonical candle frame; missing columns {missing}. Build it "
            "with candlekit.conform(df, symbol=..., interval=...).")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise CandleValidationError(
            "analyze() needs the frame indexed by candle open time (a DatetimeIndex): "
            "build it with candlekit.conform.")


def select_candles(df: pd.DataFrame, *, as_of: Any = None, lookback: int | None = None
                   ) -> tuple[np.ndarray, int, dict[str, int]]:
    """Row positions of the candles an analysis at ``as_of`` uses.

    Returns
    -------
    (positions, as_of_ms, left_out)
        Positions (into ``df``) of the closed candles whose close time is at or before
        ``as_of`` (the last ``lookback`` of them when given); the as_of used, in epoch ms
        (the close time of the last candle used); and counts of candles left out:
        ``not_closed`` (opened in the range but not closed by ``as_of``) and ``trailing``
        (still-open candles after the last closed one, counted only when ``as_of`` is not
        given).

    Raises
    ------
    AnalysisError
        When no closed candle closes by ``as_of``, or ``lookback`` is not positive.
    """
    _check_frame(df)
    iv, al = frame_interval(df), frame_alignment(df)
    t = to_ms_array(df.index)
    if len(t) > 1 and not np.all(t[1:] > t[:-1]):
        raise CandleValidationError(
            "analyze() needs open times strictly increasing: sort the frame and drop "
            "duplicates (candlekit.validate says which rows).")
    tc = close_ms(t, iv, alignment=al)
    closed = df["closed"].to_numpy(bool)
    limit = to_ms(as_of) if as_of is not None else (int(tc[closed][-1]) if closed.any()
                                                     else None)
    if limit is None:
        raise AnalysisError(
            "No closed candle to analyse: every candle in the frame is still open. Wait for "
            "one to close, or backfill history.")
    use = np.flatnonzero(closed & (tc <= limit))
    if lookback is not None:
        if int(lookback) < 1:
            raise AnalysisError(f"lookback must be a positive number of candles, not "
                                f"{lookback!r}.")
        use = use[-int(lookback):]
    if len(use) == 0:
        first = pd.Timestamp(int(tc[closed][0]), unit="ms", tz="UTC") if closed.any() else None
        raise AnalysisError(
            f"No closed candle closes at or before as_of={pd.Timestamp(limit, unit='ms', tz='UTC')}"
            + (f"; the first closes at {first}: pick a later as_of." if first is not None
               else "."))
    first_open = t[use[0]]
    in_range = (t >= first_open) & (t <= limit)
    not_closed = int(in_range.sum() - len(use))
    trailing = int(np.sum(~closed & (t > t[use[-1]]))) if as_of is None else 0
    return use, int(tc[use[-1]]), {"not_closed": not_closed, "trailing": trailing}


def _f(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def _cross(a: np.ndarray, b: np.ndarray, e: int, window: int) -> tuple[str, int | None]:
    """Latest sign change of a - b within the last ``window`` candles up to ``e``."""
    d = a - b
    for i in range(e, max(e - window, 0), -1):
        if np.isfinite(d[i]) and np.isfinite(d[i - 1]):
            if d[i] > 0 >= d[i - 1]:
                return "bullish", i
            if d[i] <= 0 < d[i - 1]:
                return "bearish", i
    return "none", None


def _track(st: SeriesState, e: int) -> dict[str, Any]:
    """Summary of every past call whose horizon closed by index ``e``."""
    s = np.flatnonzero(st.valid[: e + 1] & (st.target[: e + 1] >= 0)
                       & (st.target[: e + 1] <= e))
    target = st.close[st.target[s]] if len(s) else np.empty(0)
    code = st.code[s]
    outcome, ret, hit, up = grade_core(code, st.close[s], st.band[s], target)
    summary = summarize_core(code, st.p_up[s], outcome, ret, hit, up)
    summary["first"] = iso(int(st.t_close[s[0]])) if len(s) else None
    summary["last"] = iso(int(st.t_close[s[-1]])) if len(s) else None
    summary["pending"] = int(np.sum(st.valid[: e + 1])) - len(s)
    return summary


def _same_direction_resolved(st: SeriesState, e: int) -> int:
    s = st.valid[: e + 1] & (st.target[: e + 1] >= 0) & (st.target[: e + 1] <= e)
    return int(np.sum(s & (st.code[: e + 1] == st.code[e])))


def _facts(st: SeriesState, used: pd.DataFrame, *, symbol: str | None, source: str | None,
           synthetic: bool, mtf: list[TimeframeRow]) -> dict[str, Any]:
    e = len(st) - 1
    c = float(st.close[e])
    facts: dict[str, Any] = {
        "symbol": symbol, "interval": st.interval.name, "source": source,
        "synthetic": synthetic,
        "as_of": iso(int(st.t_close[e])), "first_bar": iso(int(st.t_open[0])),
        "last_open": iso(int(st.t_open[e])), "bars_used": len(st), "horizon": st.horizon,
        "price_decimals": price_decimals(np.concatenate(
            [x[max(0, e - 199): e + 1] for x in (st.open, st.high, st.low, st.close)])),
        "close": c,
        "ema_20": _f(st.ema20[e]), "ema_50": _f(st.ema50[e]), "ema_200": _f(st.ema200[e]),
        "rsi_14": _f(st.rsi14[e]),
        "macd": _f(st.macd[e]), "macd_signal": _f(st.macd_signal[e]),
        "macd_hist": _f(st.macd_hist[e]),
        "atr_14": _f(st.atr14[e]), "adx_14": _f(st.adx14[e]),
    }
    facts["atr_pct"] = _f(100.0 * st.atr14[e] / c) if c else None
    facts["close_ema_50_pct"] = _f(100.0 * (c / st.ema50[e] - 1.0))
    facts["close_ema_200_pct"] = _f(100.0 * (c / st.ema200[e] - 1.0))
    rv = st.rv[: e + 1]
    rv_ok = rv[np.isfinite(rv)]
    facts["realized_vol_ann"] = _f(rv[e])
    facts["realized_vol_window"] = 20
    facts["realized_vol_pctile"] = (_f(100.0 * np.mean(rv_ok <= rv[e]))
                                    if np.isfinite(rv[e]) and len(rv_ok) else None)
    facts["volume"] = float(st.volume[e])
    facts["volume_ratio_20"] = _f(st.vr[e])
    facts["trend"] = trend_label(c, st.ema20[e], st.ema50[e], st.adx14[e])
    facts["trend_definition"] = TREND_DEFINITION

    # what changed recently
    p = e - RECENT_BARS
    facts["recent_bars"] = RECENT_BARS
    facts["change_recent_pct"] = _f(100.0 * (c / st.close[p] - 1.0)) if p >= 0 else None
    facts["rsi_14_prev"] = _f(st.rsi14[p]) if p >= 0 else None
    facts["trend_prev"] = (trend_label(st.close[p], st.ema20[p], st.ema50[p], st.adx14[p])
                           if p >= 0 else "unknown")
    for name, (a, b) in (("macd_cross", (st.macd, st.macd_signal)),
                         ("ema_cross", (st.ema20, st.ema50))):
        kind, at = _cross(a, b, e, RECENT_BARS)
        facts[name] = kind
        facts[f"{name}_bars_ago"] = (e - at) if at is not None else None
        facts[f"{name}_time"] = iso(int(st.t_close[at])) if at is not None else None

    # levels
    support, resistance, levels = nearest_levels(
        st.high, st.low, c, float(st.atr14[e]), sw=st.swings, end=e, window=LEVEL_WINDOW,
        tol_atr=LEVEL_TOLERANCE_ATR)
    for side, lv in (("support", support), ("resistance", resistance)):
        facts[side] = lv.price if lv else None
        facts[f"{side}_low"] = lv.low if lv else None
        facts[f"{side}_high"] = lv.high if lv else None
        facts[f"{side}_touches"] = lv.touches if lv else None
        facts[f"{side}_last_touch"] = iso(int(st.t_open[lv.last_touch])) if lv else None
        facts[f"{side}_distance_pct"] = _f(100.0 * abs(c - lv.price) / c) if lv else None
    facts["levels_count"] = len(levels)
    facts["level_window"] = LEVEL_WINDOW
    facts["swing_k"] = SWING_K
    facts["level_tolerance_atr"] = LEVEL_TOLERANCE_ATR

    # divergence
    div = find_divergence(st.high, st.low, st.rsi14, st.swings, end=e)
    facts["divergence"] = div.kind if div else "none"
    facts["divergence_recent"] = DIVERGENCE_RECENT
    for which in ("first", "second"):
        facts[f"divergence_{which}_time"] = (iso(int(st.t_open[getattr(div, which)]))
                                             if div else None)
        facts[f"divergence_{which}_confirmed"] = (
            iso(int(st.t_close[getattr(div, f"{which}_confirmed")])) if div else None)
        facts[f"divergence_{which}_price"] = getattr(div, f"{which}_price") if div else None
        facts[f"divergence_{which}_rsi"] = getattr(div, f"{which}_rsi") if div else None

    # timeframes
    facts["mtf_intervals"] = ",".join(r.interval for r in mtf)
    for r in mtf:
        facts[f"mtf_{r.interval}_trend"] = r.trend
        facts[f"mtf_{r.interval}_bars"] = r.bars
        facts[f"mtf_{r.interval}_close"] = r.close
        facts[f"mtf_{r.interval}_ema_50"] = r.ema_50
        facts[f"mtf_{r.interval}_adx_14"] = r.adx_14
        facts[f"mtf_{r.interval}_last_close"] = (iso(r.last_close_time)
                                                 if r.last_close_time is not None else None)
    facts["mtf_alignment"] = table_alignment(mtf)

    # the call and its record
    facts["call_direction"] = _DIRECTION[int(st.code[e])]
    facts["call_p_up"] = float(st.p_up[e])
    facts["call_score"] = float(st.score[e])
    facts["call_dead_band"] = float(st.band[e])
    facts["call_expected_move"] = float(st.move[e])
    facts["call_reference_close"] = c
    facts["call_horizon"] = st.horizon
    facts["call_same_direction_n"] = _same_direction_resolved(st, e)
    tr = _track(st, e)
    facts["track_n"] = tr["n"]
    facts["track_hits"] = tr["hits"]
    facts["track_hit_rate"] = tr["hit_rate"]
    ci = tr["hit_rate_ci95"]
    facts["track_hit_rate_lo"] = ci[0] if ci else None
    facts["track_hit_rate_hi"] = ci[1] if ci else None
    for k in ("base_rate_up", "brier", "brier_base", "brier_skill", "mean_signed_return",
              "share_up", "share_down", "share_flat", "first", "last", "pending"):
        facts[f"track_{k}"] = tr[k]
    return facts


def _caveats(df: pd.DataFrame, used: pd.DataFrame, facts: dict[str, Any],
             left_out: dict[str, int], as_of_ms: int, crosscheck: pd.DataFrame | None
             ) -> list[str]:
    out: list[str] = []
    f = lambda name: format_fact(name, facts)
    if facts["synthetic"]:
        out.append(f"SYNTHETIC DATA (source {f('source')}): these candles are generated, "
                   "not real prices; nothing here describes the real market.")
    origin = df.attrs.get("resampled_from")
    facts["resampled_from"] = str(origin) if origin else None
    if origin:
        out.append(f"These {f('interval')} candles were resampled from the stored "
                   f"{f('resampled_from')} candles (complete buckets only), not stored as "
                   f"{f('interval')} candles by the source.")
    gaps = find_gaps(used)
    facts["gaps"] = len(gaps)
    facts["missing_candles"] = int(gaps["missing_candles"].sum()) if len(gaps) else 0
    if len(gaps):
        out.append(f"{f('missing_candles')} candle(s) are missing in {f('gaps')} gap(s) "
                   "inside the candles used; indicators run across them as if the candles "
                   "on either side were adjacent.")
    n_open = left_out["not_closed"] + left_out["trailing"]
    facts["open_candles_left_out"] = n_open
    if n_open:
        out.append(f"{f('open_candles_left_out')} candle(s) still open (not closed by "
                   f"{f('as_of')}) were left out; only closed candles are analysed.")
    qv_unknown = int(used["quote_volume"].isna().sum()) if "quote_volume" in used else len(used)
    facts["quote_volume_unknown"] = qv_unknown
    if qv_unknown:
        out.append(f"Quote volume is unknown for {f('quote_volume_unknown')} of the "
                   f"{f('bars_used')} candles used; volume facts are in base units only.")
    if facts.get("ema_200") is None:
        out.append(f"Only {f('bars_used')} candles were used, too few for EMA200; facts "
                   "that need a longer history are n/a.")
    if crosscheck is not None:
        _crosscheck_caveat(crosscheck, facts, as_of_ms, out)
    return out


def _crosscheck_caveat(xc: pd.DataFrame, facts: dict[str, Any], as_of_ms: int,
                       out: list[str]) -> None:
    attrs = xc.attrs
    if len(xc):
        ends = close_ms(to_ms_array(xc.index), attrs.get("coarse"),
                        alignment=attrs.get("alignment") or "calendar")
        rows = xc[ends <= as_of_ms]
        latest = int(ends[ends <= as_of_ms].max()) if len(rows) else None
    else:
        rows, latest = xc, None
    facts["crosscheck_interval"] = f"{attrs.get('fine')}→{attrs.get('coarse')}"
    facts["crosscheck_checked"] = int(attrs.get("checked", 0))
    facts["crosscheck_disagreeing"] = len(rows)
    facts["crosscheck_latest"] = iso(latest) if latest is not None else None
    f = lambda name: format_fact(name, facts)
    if len(rows):
        fields = sorted({x for s in rows["fields"] for x in str(s).split(",") if x})
        out.append(f"{f('crosscheck_disagreeing')} stored {attrs.get('coarse')} candle(s) "
                   f"up to as_of disagree with the ones resampled from the stored "
                   f"{attrs.get('fine')} candles (fields: {', '.join(fields)}; latest "
                   f"closing {f('crosscheck_latest')}), out of {f('crosscheck_checked')} "
                   "complete buckets checked; treat those candles with suspicion.")


def analyze(df: pd.DataFrame, *, as_of: Any = None, horizon: int | None = None,
            prompt: str | None = None, llm: Any = None, lookback: int | None = None,
            crosscheck: pd.DataFrame | None = None) -> Analysis:
    """Analyse one candle series at ``as_of``: facts, caveats, the call and the narrative.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame (``attrs``: symbol, interval, alignment, source).
    as_of : time, optional
        Only closed candles whose close time is at or before it are used. Default: the
        close time of the last closed candle. Candles after it never change the result.
    horizon : int, optional
        Horizon of the call in candles (default
        :data:`candlekit.analysis.call.DEFAULT_HORIZON`).
    prompt : str, optional
        What to cover: the sections it names (levels, volatility, divergence, trend,
        momentum, volume, timeframes, ...) are written in the order named.
    llm : candlekit.analysis.llm.LLM, optional
        A language model to narrate the facts; its prose replaces the text only when
        every number in it is a fact (``Analysis.llm`` records what happened).
    lookback : int, optional
        Use only the last ``lookback`` closed candles up to ``as_of`` (the indicators are
        computed over exactly those). Default: every closed candle up to ``as_of``.
    crosscheck : pandas.DataFrame, optional
        Output of :func:`candlekit.crosscheck`; its disagreements up to ``as_of`` become
        a caveat.

    Returns
    -------
    Analysis
        ``facts``, ``text`` (Markdown), ``call``, ``caveats``, ``sections``, ``prompt``.

    Raises
    ------
    CandleValidationError
        When ``df`` is not a canonical candle frame.
    AnalysisError
        When fewer than :data:`candlekit.analysis.call.MIN_BARS` closed candles close by
        ``as_of``, or the horizon or lookback is not a positive integer.

    Examples
    --------
    >>> import candlekit as ck
    >>> df = ck.synthetic_candles("BTC", "1h", "2026-01-01", "2026-02-01")
    >>> a = ck.analyze(df, prompt="levels and volatility")
    >>> a.sections
    ['levels', 'volatility', 'call', 'caveats']
    >>> a.call.direction in ("up", "down", "flat")
    True
    """
    h = _call.DEFAULT_HORIZON if horizon is None else horizon
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise AnalysisError(f"horizon must be a positive whole number of candles, not {h!r}.")
    h = int(h)
    if lookback is not None and (isinstance(lookback, bool)
                                 or not isinstance(lookback, (int, np.integer))):
        raise AnalysisError(f"lookback must be a positive whole number of candles, not "
                            f"{lookback!r}.")
    if prompt is not None and not isinstance(prompt, str):
        raise AnalysisError(f"prompt must be text (or None), not {type(prompt).__name__}.")
    if crosscheck is not None and not isinstance(crosscheck, pd.DataFrame):
        raise AnalysisError("crosscheck must be the DataFrame returned by "
                            "candlekit.crosscheck(store, symbol, fine, coarse).")
    if crosscheck is not None:
        xs, xi = crosscheck.attrs.get("symbol"), crosscheck.attrs.get("coarse")
        if (xs is not None and xs != df.attrs.get("symbol")) or (
                xi is not None and xi != df.attrs.get("interval")):
            raise AnalysisError(
                f"crosscheck is for {xs} {xi} candles but the frame holds "
                f"{df.attrs.get('symbol')} {df.attrs.get('interval')}: cross-check the "
                "series you analyse (coarse = its interval).")
    with serial_numba():
        analysis = _analyze(df, as_of=as_of, horizon=h, prompt=prompt, lookback=lookback,
                            crosscheck=crosscheck)
    if llm is not None:
        try:
            from .llm import narrate
        except ImportError as exc:  # pragma: no cover - llm.py ships with the package
            raise AnalysisError("The language-model narrator (candlekit.analysis.llm) is "
                                f"not available: {exc}.") from exc
        analysis = narrate(analysis, llm)
    return analysis


def _analyze(df: pd.DataFrame, *, as_of: Any, horizon: int, prompt: str | None,
             lookback: int | None, crosscheck: pd.DataFrame | None) -> Analysis:
    h = horizon
    pos, as_of_ms, left_out = select_candles(df, as_of=as_of, lookback=lookback)
    if len(pos) < _call.MIN_BARS:
        raise AnalysisError(
            f"Only {len(pos)} closed candle(s) close by as_of; an analysis needs at least "
            f"{_call.MIN_BARS} (EMA50's warm-up). Backfill more history, pick a later "
            "as_of, or use a finer interval.")
    iv, al = frame_interval(df), frame_alignment(df)
    used = df.iloc[pos]
    used.attrs = dict(df.attrs)
    st = compute(used, interval=iv, alignment=al, horizon=h)
    e = len(st) - 1
    symbol, source = df.attrs.get("symbol"), df.attrs.get("source")
    synthetic = is_synthetic(source)
    this_row = TimeframeRow(iv.name, trend_label(st.close[e], st.ema20[e], st.ema50[e],
                                                 st.adx14[e]),
                            len(st), float(st.close[e]), _f(st.ema20[e]), _f(st.ema50[e]),
                            _f(st.adx14[e]), int(st.t_close[e]))
    mtf = timeframe_table(used, this_row, interval=iv, alignment=al)
    facts = _facts(st, used, symbol=symbol, source=source, synthetic=synthetic, mtf=mtf)
    caveats = _caveats(df, used, facts, left_out, as_of_ms, crosscheck)
    sections, asked = choose_sections(prompt)
    text = render(facts, sections=sections, asked=asked, prompted=bool(prompt),
                  caveats=caveats)
    the_call = Call(direction=facts["call_direction"], p_up=facts["call_p_up"], horizon=h,
                    reference_close=facts["close"], as_of=facts["as_of"],
                    dead_band=facts["call_dead_band"])
    analysis = Analysis(symbol=symbol, interval=iv.name, as_of=facts["as_of"], facts=facts,
                        text=text, call=the_call, caveats=caveats, sections=sections,
                        prompt=prompt, source=source, synthetic=synthetic)
    return analysis


def indicator_frame(df: pd.DataFrame, *, as_of: Any = None, lookback: int | None = None,
                    horizon: int | None = None) -> pd.DataFrame:
    """The series behind an analysis, one row per candle used (for charts and checks).

    Parameters
    ----------
    df, as_of, lookback, horizon
        As for :func:`analyze` (the same candles are used).

    Returns
    -------
    pandas.DataFrame
        Indexed by open time: ``open high low close volume``, ``ema_20 ema_50 ema_200
        rsi_14 macd macd_signal macd_hist atr_14 adx_14 realized_vol_ann
        volume_ratio_20``, the call's ``call_score``, ``call_direction`` (up/down/flat,
        empty before warm-up) and ``call_p_up``, and ``swing_high`` / ``swing_low`` (True
        at swing candles already confirmed at ``as_of``). The values at the last row are
        the analysis' facts. ``attrs``: the frame's, plus ``as_of``.
    """
    h = _call.DEFAULT_HORIZON if horizon is None else int(horizon)
    pos, as_of_ms, _ = select_candles(df, as_of=as_of, lookback=lookback)
    iv, al = frame_interval(df), frame_alignment(df)
    used = df.iloc[pos]
    used.attrs = dict(df.attrs)
    st = compute(used, interval=iv, alignment=al, horizon=h)
    known = st.swings.confirmed_by(len(st) - 1)
    swing_high = np.zeros(len(st), dtype=bool)
    swing_low = np.zeros(len(st), dtype=bool)
    swing_high[known.high_idx] = True
    swing_low[known.low_idx] = True
    names = np.array(["down", "flat", "up"], dtype=object)[st.code + 1]
    out = pd.DataFrame({
        "open": st.open, "high": st.high, "low": st.low, "close": st.close,
        "volume": st.volume, "ema_20": st.ema20, "ema_50": st.ema50, "ema_200": st.ema200,
        "rsi_14": st.rsi14, "macd": st.macd, "macd_signal": st.macd_signal,
        "macd_hist": st.macd_hist, "atr_14": st.atr14, "adx_14": st.adx14,
        "realized_vol_ann": st.rv, "volume_ratio_20": st.vr, "call_score": st.score,
        "call_direction": np.where(st.valid, names, None), "call_p_up": st.p_up,
        "swing_high": swing_high, "swing_low": swing_low,
    }, index=used.index)
    out.attrs = {**df.attrs, "as_of": iso(as_of_ms)}
    return out
