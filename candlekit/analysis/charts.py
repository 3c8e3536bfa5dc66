"""Charts of an analysis, as matplotlib Figures (shown by the analysis notebook).

- :func:`plot_analysis`: an mplfinance candlestick chart of the candles the analysis used,
  up to its ``as_of``, with EMA 20/50/200, the support and resistance levels (line and
  zone), the divergence swings marked where they were (and when they were confirmed),
  and RSI 14 and MACD 12/26/9 panels. The lines come from
  :func:`candlekit.analysis.engine.indicator_frame` over exactly the candles the analysis
  used (:func:`chart_frame`), so the chart shows the values the facts state.
- :func:`plot_calibration`: predicted probability of a higher close against the observed
  frequency, from a :class:`~candlekit.analysis.track.TrackRecord`.

As with :mod:`candlekit.charts`, figures are closed (detached from pyplot) before they
are returned, and charts of synthetic data say so in the title and a watermark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..charts import _FONT_RC, GAP_COLOUR, _new_figure
from ..errors import AnalysisError, FormatError
from .model import Analysis

__all__ = ["EMA_COLOURS", "chart_frame", "plot_analysis", "plot_calibration"]

EMA_COLOURS = {20: "#1f77b4", 50: "#ff7f0e", 200: "#9467bd"}
SUPPORT_COLOUR = "#2ca02c"
RESISTANCE_COLOUR = "#d62728"
DIVERGENCE_COLOUR = "#8c564b"


def chart_frame(df: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    """The series the chart draws: :func:`candlekit.analysis.engine.indicator_frame` over
    exactly the candles ``analysis`` used (its last row equals the analysis' facts).

    Raises
    ------
    AnalysisError
        When the analysis has no facts, or ``df`` does not hold the candles it used.
    """
    from .engine import indicator_frame

    if analysis.as_of is None or not analysis.facts:
        raise AnalysisError(f"Analysis {analysis.id or ''} has no facts to chart (status "
                            f"{analysis.status}); chart a completed analysis.")
    frame = indicator_frame(df, as_of=analysis.as_of,
                            lookback=int(analysis.facts.get("bars_used") or len(df)),
                            horizon=analysis.call.horizon if analysis.call else None)
    if not len(frame) or frame.index[0] != pd.Timestamp(analysis.facts["first_bar"]):
        raise AnalysisError(
            f"These candles are not the ones analysis {analysis.id or ''} used (it started at "
            f"{analysis.facts.get('first_bar')}): pass the frame it was made from "
            "(candlekit.analysis.api.load_candles with its as_of and bars_used).")
    frame.attrs = dict(df.attrs, **frame.attrs)
    return frame


def _marker_series(index: pd.DatetimeIndex, points: list[tuple[Any, float]]) -> pd.Series:
    s = pd.Series(np.nan, index=index)
    for t, v in points:
        if t is not None and v is not None:
            ts = pd.Timestamp(t)
            if ts in s.index:
                s[ts] = v
    return s


def plot_analysis(df: pd.DataFrame, analysis: Analysis, *, max_candles: int = 180,
                  figsize: tuple[float, float] = (12.0, 9.0), style: str = "charles") -> Any:
    """The analysis chart: candles, EMAs, levels, divergence swings, RSI and MACD panels.

    Parameters
    ----------
    df : pandas.DataFrame
        The candles the analysis was made from (a canonical frame holding at least the
        ``bars_used`` closed candles up to its ``as_of``; later candles are ignored).
    analysis : Analysis
        A completed analysis of ``df``.
    max_candles : int, default 180
        Latest candles drawn (widened to include the divergence swings).
    figsize : (float, float), default (12, 9)
    style : str, default "charles"
        An mplfinance style name.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot: display or save it.

    Raises
    ------
    AnalysisError
        When the analysis has no facts, or ``df`` does not hold the candles it used.
    """
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    if isinstance(max_candles, bool) or not isinstance(max_candles, (int, np.integer)) \
            or max_candles < 10:
        raise FormatError(f"max_candles must be an integer of at least 10, got "
                          f"{max_candles!r}.", max_candles)
    f = analysis.facts
    used = chart_frame(df, analysis)
    emas = {n: used[f"ema_{n}"].to_numpy(np.float64) for n in EMA_COLOURS}
    rsi = used["rsi_14"].to_numpy(np.float64)
    macd, signal, hist = (used[c].to_numpy(np.float64)
                          for c in ("macd", "macd_signal", "macd_hist"))
    start = max(0, len(used) - int(max_candles))
    swing_times = [pd.Timestamp(f[k]) for k in ("divergence_first_time",
                                                "divergence_second_time") if f.get(k)]
    for t in swing_times:
        if t in used.index:
            start = min(start, max(0, used.index.get_loc(t) - 5))
    shown = used.iloc[start:]
    sl = slice(start, None)
    data = pd.DataFrame({c: shown[c].to_numpy(np.float64)
                         for c in ("open", "high", "low", "close", "volume")}, index=shown.index)
    adds = []
    for n, colour in EMA_COLOURS.items():
        line = emas[n][sl]
        if np.isfinite(line).any():
            adds.append(mpf.make_addplot(line, panel=0, color=colour, width=1.1))
    adds.append(mpf.make_addplot(rsi[sl], panel=1, color="#444444", width=1.0, ylabel="RSI 14",
                                 ylim=(0, 100)))
    adds.append(mpf.make_addplot(np.full(len(shown), 70.0), panel=1, color="grey",
                                 linestyle="--", width=0.7))
    adds.append(mpf.make_addplot(np.full(len(shown), 30.0), panel=1, color="grey",
                                 linestyle="--", width=0.7))
    h = hist[sl]
    adds.append(mpf.make_addplot(np.where(h >= 0, h, np.nan), panel=2, type="bar",
                                 color="#7fbf7f", width=0.8, ylabel="MACD 12/26/9"))
    adds.append(mpf.make_addplot(np.where(h < 0, h, np.nan), panel=2, type="bar",
                                 color="#e88080", width=0.8))
    adds.append(mpf.make_addplot(macd[sl], panel=2, color="#1f77b4", width=1.0))
    adds.append(mpf.make_addplot(signal[sl], panel=2, color="#ff7f0e", width=1.0))
    divergence = f.get("divergence") not in (None, "none")
    if divergence:
        kind = f["divergence"]
        marker = "^" if kind == "bullish" else "v"
        pts = [(f.get(f"divergence_{w}_time"), f.get(f"divergence_{w}_price"))
               for w in ("first", "second")]
        rpts = [(f.get(f"divergence_{w}_time"), f.get(f"divergence_{w}_rsi"))
                for w in ("first", "second")]
        price_marks = _marker_series(shown.index, pts)
        rsi_marks = _marker_series(shown.index, rpts)
        if price_marks.notna().any():
            adds.append(mpf.make_addplot(price_marks, panel=0, type="scatter", marker=marker,
                                         markersize=120, color=DIVERGENCE_COLOUR))
            adds.append(mpf.make_addplot(rsi_marks, panel=1, type="scatter", marker=marker,
                                         markersize=80, color=DIVERGENCE_COLOUR))
    mstyle = mpf.make_mpf_style(base_mpf_style=style, rc=_FONT_RC)
    fig, axes = mpf.plot(data, type="candle", addplot=adds, returnfig=True, style=mstyle,
                         figsize=figsize, panel_ratios=(3, 1, 1), volume=False,
                         datetime_format="%m-%d %H:%M", xrotation=15, tight_layout=False,
                         warn_too_much_data=len(data) + 1)
    plt.close(fig)
    ax = axes[0]
    x = np.arange(len(shown))
    level_lines = []
    for side, colour in (("support", SUPPORT_COLOUR), ("resistance", RESISTANCE_COLOUR)):
        if f.get(side) is None:
            continue
        level_lines.append(ax.axhline(float(f[side]), color=colour, ls="--", lw=1.2,
                                      label=f"{side} ({f.get(f'{side}_touches')} touches)"))
        lo, hi = f.get(f"{side}_low"), f.get(f"{side}_high")
        if lo is not None and hi is not None:
            ax.fill_between(x, lo, hi, color=colour, alpha=0.08, lw=0)
    if divergence:
        for w in ("first", "second"):
            confirmed = f.get(f"divergence_{w}_confirmed")
            if confirmed is None:
                continue
            # the candle whose close confirmed the swing (its close time is the fact)
            pos = shown.index.searchsorted(pd.Timestamp(confirmed), side="right") - 1
            if 0 <= pos < len(shown):
                for a in (axes[0], axes[2]):
                    a.axvline(pos, color=DIVERGENCE_COLOUR, alpha=0.35, lw=0.8, ls=":")
    handles = [ax.plot([], [], color=c, lw=1.5, label=f"EMA {n}")[0]
               for n, c in EMA_COLOURS.items()]
    handles += level_lines
    if divergence:
        handles.append(ax.plot([], [], color=DIVERGENCE_COLOUR, marker="^" if f["divergence"]
                               == "bullish" else "v", ls="",
                               label=f"{f['divergence']} divergence swings "
                                     "(dotted: confirmed)")[0])
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    synthetic = bool(analysis.synthetic)
    origin = analysis.source or "?"
    if used.attrs.get("resampled_from"):
        origin += f", resampled from {used.attrs['resampled_from']}"
    heading = (f"{analysis.symbol} {analysis.interval} ({origin}) as of {analysis.as_of}\n"
               f"trend {f.get('trend')}, call {f.get('call_direction')}")
    if synthetic:
        heading = f"SYNTHETIC DATA: {heading}"
        fig.text(0.5, 0.55, "SYNTHETIC DATA", ha="center", va="center", rotation=25,
                 fontsize=46, color="grey", alpha=0.18, fontweight="bold")
    fig.suptitle(heading, color=GAP_COLOUR if synthetic else "black",
                 fontweight="bold" if synthetic else "normal")
    return fig


def plot_calibration(record: Any, *, bins: int = 10, figsize: tuple[float, float] = (6.5, 5.5)
                     ) -> Any:
    """Predicted probability of a higher close against the observed frequency.

    Parameters
    ----------
    record : TrackRecord
        From :func:`candlekit.track_record` (its ``calibration(bins)`` table is drawn).
    bins : int, default 10
        Equal-width bins of the predicted probability.
    figsize : (float, float), default (6.5, 5.5)

    Returns
    -------
    matplotlib.figure.Figure
        Points sized by the number of calls in each bin, with the diagonal of perfect
        calibration and the base rate of up moves.
    """
    table = record.calibration(bins)
    fig = _new_figure(figsize)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="perfectly calibrated")
    s = record.summary
    if s.get("base_rate_up") is not None:
        ax.axhline(s["base_rate_up"], color="#ff7f0e", lw=1, ls=":",
                   label=f"base rate of up moves ({100 * s['base_rate_up']:.1f}%)")
    if len(table):
        size = 30 + 300 * table["n"] / table["n"].max()
        ax.scatter(table["mean_p_up"], table["observed_up"], s=size, color="#1f77b4",
                   alpha=0.8, label="calls binned by predicted P(up)")
        ax.plot(table["mean_p_up"], table["observed_up"], color="#1f77b4", lw=1)
        for row in table.itertuples():
            ax.annotate(f"{row.n:,}", (row.mean_p_up, row.observed_up), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    else:
        ax.text(0.5, 0.5, "no graded calls yet", ha="center", va="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of a higher close")
    ax.set_ylabel("observed frequency of a higher close")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    title = (f"Calibration: {s.get('n', 0):,} graded {record.interval} calls on "
             f"{record.symbol} (horizon {record.horizon})")
    if getattr(record, "synthetic", False):
        title = "SYNTHETIC DATA: " + title
        fig.text(0.5, 0.5, "SYNTHETIC DATA", ha="center", va="center", rotation=25,
                 fontsize=30, color="grey", alpha=0.18, fontweight="bold")
    fig.suptitle(title, color=GAP_COLOUR if getattr(record, "synthetic", False) else "black",
                 fontsize=10)
    return fig
