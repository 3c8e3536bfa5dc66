"""Charts of coverage and candles, as matplotlib Figures.

Every function returns a :class:`matplotlib.figure.Figure` and leaves showing it to the
caller (a notebook displays a returned Figure; a script calls ``fig.savefig``). None calls
``plt.show()``, and none leaves the figure registered with pyplot, so a notebook shows each
chart once and nothing accumulates. Charts of synthetic data say so in their title, and
candle charts carry a watermark as well.

- :func:`plot_coverage_timeline`: one row per series, stored spans as bars and missing
  candles in red.
- :func:`plot_candles`: an mplfinance candlestick chart with volume, drawn on a real time
  axis (``show_nontrading=True``) so that missing candles are visible gaps, and shaded.
- :func:`plot_series_windows`: :func:`plot_candles` for every series of a coverage table,
  over its span.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import pandas as pd

from .coverage import _read_span, open_store
from .errors import CandleValidationError, FormatError
from .frame import frame_alignment, frame_interval
from .gaps import find_gaps
from .intervals import INTERVALS, count_buckets, next_bucket, parse_interval, tiles
from .provenance import is_synthetic
from .resample import resample
from .store import Store
from .timeutil import to_timestamp

__all__ = ["GAP_COLOUR", "STORED_COLOUR", "plot_candles", "plot_coverage_timeline",
           "plot_series_windows"]

STORED_COLOUR = "#2b7bba"
GAP_COLOUR = "#d62728"
_SPAN_COLOUR = "#e8e8e8"
_MIN_GAP_FRACTION = 0.004  # a gap is drawn at least this wide (fraction of the x range)
_MIN_SHADE_FRACTION = 0.008  # the same for the shading of gaps in candle charts
_FONT_RC = {"font.weight": "normal", "axes.labelweight": "bold", "figure.titleweight": "bold"}


def _date_num(times: Any) -> np.ndarray:
    """Matplotlib date numbers of UTC times (as mplfinance computes them)."""
    import matplotlib.dates as mdates

    idx = pd.DatetimeIndex(times)
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return np.asarray(mdates.date2num(idx.to_pydatetime()), dtype=np.float64)


def _new_figure(figsize: tuple[float, float]) -> Any:
    """A figure detached from pyplot's state (so that pyplot never shows it by itself).

    It is made by pyplot, then closed: importing pyplot is what registers the notebook's
    Figure display (the inline backend), and closing keeps figures from accumulating.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)
    return fig


def _message_figure(text: str, *, title: str) -> Any:
    fig = _new_figure((9.0, 2.2))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11)
    fig.suptitle(title)
    return fig


# --- coverage timeline -----------------------------------------------------------------------


def plot_coverage_timeline(coverage: pd.DataFrame, gaps: pd.DataFrame | None = None, *,
                           title: str | None = None,
                           figsize: tuple[float, float] | None = None) -> Any:
    """One row per series: where it has candles, and where it has none.

    Parameters
    ----------
    coverage : pandas.DataFrame
        A coverage table (:func:`candlekit.coverage.coverage_table`, or
        :meth:`candlekit.Store.coverage`): ``symbol, interval, source, earliest, latest``;
        ``alignment`` and the span ``start``/``end`` when present.
    gaps : pandas.DataFrame, optional
        A gap table (:func:`candlekit.coverage.gap_table`: ``symbol, interval, source,
        start, end`` with ``end`` exclusive). Gaps are drawn in red, at least wide enough
        to see.
    title : str, optional
        Defaults to "Store coverage"; "SYNTHETIC DATA" is added when any series is.
    figsize : (float, float), optional
        Defaults to 11 inches wide and 0.45 inch per series.

    Returns
    -------
    matplotlib.figure.Figure
        Stored spans as blue bars over the grey span examined, missing candles in red. A
        figure with a message when ``coverage`` is empty.
    """
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    need = [c for c in ("symbol", "interval", "source", "earliest", "latest")
            if c not in coverage.columns]
    if need:
        raise FormatError(f"Not a coverage table: missing columns {need}. Build it with "
                          "candlekit.coverage.coverage_table(store).", need)
    synthetic = is_synthetic(coverage)
    heading = (title or "Store coverage") + (" (SYNTHETIC DATA)" if synthetic else "")
    if not len(coverage):
        return _message_figure("No stored series to show. Fill the store with `make demo` "
                               "or `candlekit backfill ...`.", title=heading)
    n = len(coverage)
    fig = _new_figure(figsize or (11.0, 1.4 + 0.45 * n))
    ax = fig.add_subplot()
    spans = _timeline_spans(coverage)
    x_lo = min(s for s, _ in spans)
    x_hi = max(e for _, e in spans)
    min_width = max(x_hi - x_lo, 1e-6) * _MIN_GAP_FRACTION
    labels = []
    for y, row in enumerate(coverage.itertuples(index=False)):
        flag = " (synthetic)" if is_synthetic(row.source) and row.source != "synthetic" else ""
        labels.append(f"{row.symbol} {row.interval} · {row.source}{flag}")
        span_lo, span_hi = spans[y]
        ax.broken_barh([(span_lo, span_hi - span_lo)], (y - 0.4, 0.8), color=_SPAN_COLOUR)
        series_gaps = _series_gaps(gaps, row)
        if not pd.isna(row.earliest):
            lo = float(_date_num([row.earliest])[0])
            hi = float(_date_num([_bucket_end(row.latest, row)])[0])
            ax.broken_barh(_minus(lo, hi, series_gaps), (y - 0.3, 0.6), color=STORED_COLOUR)
        if len(series_gaps):
            bars = [(s, max(e - s, min_width)) for s, e in series_gaps]
            ax.broken_barh(bars, (y - 0.4, 0.8), color=GAP_COLOUR)
    ax.set_yticks(range(n), labels)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(x_lo - (x_hi - x_lo) * 0.01, x_hi + (x_hi - x_lo) * 0.01)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("UTC")
    ax.grid(axis="x", alpha=0.3)
    fig.legend(handles=[Patch(color=STORED_COLOUR, label="candles stored"),
                        Patch(color=GAP_COLOUR, label="missing candles"),
                        Patch(color=_SPAN_COLOUR, label="span examined")],
               loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(heading, color=GAP_COLOUR if synthetic else "black",
                 fontweight="bold" if synthetic else "normal")
    return fig


def _bucket_end(t: pd.Timestamp, row: Any) -> pd.Timestamp:
    return next_bucket(t, row.interval, alignment=getattr(row, "alignment", None) or "calendar")


def _timeline_spans(coverage: pd.DataFrame) -> list[tuple[float, float]]:
    spans = []
    for row in coverage.itertuples(index=False):
        start = getattr(row, "start", row.earliest)
        end = getattr(row, "end", pd.NaT)
        if pd.isna(end) and not pd.isna(row.latest):
            end = _bucket_end(row.latest, row)
        if pd.isna(start):
            start = end
        lo, hi = _date_num([start, end])
        spans.append((float(lo), float(max(hi, lo))))
    return spans


def _series_gaps(gaps: pd.DataFrame | None, row: Any) -> list[tuple[float, float]]:
    if gaps is None or not len(gaps):
        return []
    g = _missing_only(gaps)
    for key in ("symbol", "interval", "source"):
        if key in g.columns:
            g = g[g[key] == getattr(row, key)]
    if not len(g):
        return []
    lo, hi = _date_num(g["start"]), _date_num(g["end"])
    return sorted(zip(lo.tolist(), hi.tolist()))


def _missing_only(gaps: pd.DataFrame) -> pd.DataFrame:
    """A gap table's gaps, without its warning rows for unreadable files (not missing)."""
    if "status" in gaps.columns:
        return gaps[gaps["status"] != "unreadable"]
    return gaps


def _minus(lo: float, hi: float, holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[lo, hi)`` minus sorted holes, as (start, width) bars."""
    bars, at = [], lo
    for s, e in holes:
        if s > at:
            bars.append((at, min(s, hi) - at))
        at = max(at, e)
    if at < hi:
        bars.append((at, hi - at))
    return [b for b in bars if b[1] > 0]


# --- candles ----------------------------------------------------------------------------------


def plot_candles(df: pd.DataFrame, *, gaps: pd.DataFrame | None = None,
                 title: str | None = None, volume: bool = True, max_candles: int = 500,
                 fit: Literal["tail", "resample"] = "tail", style: str | dict = "charles",
                 figsize: tuple[float, float] = (11.0, 6.5), span: Any = None) -> Any:
    """A candlestick chart of a canonical frame, with missing candles shaded.

    Drawn by mplfinance on a real time axis (``show_nontrading=True``): a missing candle
    leaves an empty slot instead of being squeezed out, and each gap ``[start, end)`` is
    shaded red (widened about its middle to at least 0.8% of the time axis, so that a short
    gap in a long chart stays visible).

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame (``attrs`` name its symbol, interval and source).
    gaps : pandas.DataFrame, optional
        Gaps to shade, ``[start, end)``: a gap table
        (:func:`candlekit.coverage.gap_table`; rows of other series are ignored) or
        :func:`candlekit.find_gaps`'s output. By default the gaps between the frame's own
        candles. Pass an empty frame to shade nothing.
    title : str, optional
        Defaults to "SYMBOL INTERVAL (source)"; "SYNTHETIC DATA" is prepended for
        synthetic frames, which also get a watermark.
    volume : bool, default True
        Draw a volume panel.
    max_candles : int, default 500
        Most candles drawn (mplfinance becomes slow and unreadable beyond a few hundred).
    fit : {"tail", "resample"}, default "tail"
        When the frame has more than ``max_candles``: ``"tail"`` draws the latest
        ``max_candles``; ``"resample"`` draws the whole frame in the finest coarser
        interval that its candles tile and that fits (the title says so).
    style : str or dict, default "charles"
        An mplfinance style name (drawn with regular and bold font weights only), or a
        style made by ``mplfinance.make_mpf_style``.
    figsize : (float, float), default (11, 6.5)
    span : (time, time), optional
        ``[start, end)`` the time axis covers (e.g. the range in the title), so that
        missing candles at its edges show as gaps; default: the candles drawn.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot (closed): display or save it.

    Raises
    ------
    CandleValidationError
        When the frame is empty, lacks candle columns or its interval is unknown.
    FormatError
        For a bad ``max_candles`` or ``fit``.

    Examples
    --------
    >>> fig = plot_candles(store.read("ETH", "1h", "2026-10-10", "2026-10-20"))  # doctest: +SKIP
    >>> fig.savefig("eth.png")                                                # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    import mplfinance as mpf

    if isinstance(max_candles, bool) or not isinstance(max_candles, (int, np.integer)) \
            or max_candles < 2:
        raise FormatError(f"max_candles must be an integer of at least 2, got {max_candles!r}.",
                          max_candles)
    if fit not in ("tail", "resample"):
        raise FormatError(f"fit must be 'tail' or 'resample', got {fit!r}.", fit)
    iv = frame_interval(df)
    need = [c for c in ("open", "high", "low", "close", "volume") if c not in df.columns]
    if need:
        raise CandleValidationError(f"Cannot plot: missing candle columns {need}. Build the "
                                    "frame with candlekit.make_frame or candlekit.conform.")
    if not len(df):
        raise CandleValidationError(
            f"Nothing to plot: the {_label(df)} frame has no candles. Read a range that "
            "holds candles (see candlekit.coverage.coverage_table).")
    shown, note = _fit(df, max_candles, fit)
    gap_spans = _gap_spans(df if gaps is None else gaps, df, shown, computed=gaps is None,
                           span=span)
    synthetic = is_synthetic(df)
    heading = title or _label(df)
    if synthetic and "SYNTHETIC DATA" not in heading.upper():
        heading = f"SYNTHETIC DATA: {heading}"
    if note:
        heading = f"{heading}\n{note}"
    data = pd.DataFrame({c: shown[c].to_numpy(np.float64) for c in ("open", "high", "low",
                                                                    "close", "volume")},
                        index=shown.index)
    if isinstance(style, str):  # mplfinance's styles ask for weights DejaVu Sans lacks
        style = mpf.make_mpf_style(base_mpf_style=style, rc=_FONT_RC)
    fig, axes = mpf.plot(data, type="candle", volume=volume, returnfig=True,
                         show_nontrading=True, style=style, figsize=figsize,
                         warn_too_much_data=max_candles + 1, datetime_format="%m-%d %H:%M",
                         xrotation=15, tight_layout=False)
    plt.close(fig)  # the caller shows it; pyplot must not show it a second time
    price_axes = [axes[0]] + ([axes[2]] if volume and len(axes) > 2 else [])
    if span is not None:  # the whole titled range, leading and trailing gaps included
        x_lo, x_hi = _date_num([to_timestamp(span[0]), to_timestamp(span[1])])
        pad = (x_hi - x_lo) * 0.01
        for ax in axes:
            ax.set_xlim(x_lo - pad, x_hi + pad)
    _date_ticks(axes)
    x_lo, x_hi = axes[0].get_xlim()
    min_width = (x_hi - x_lo) * _MIN_SHADE_FRACTION
    for s, e in gap_spans:
        if e - s < min_width:  # widen around its middle, so that a short gap stays visible
            s, e = (s + e - min_width) / 2, (s + e + min_width) / 2
        for ax in price_axes:
            ax.axvspan(s, e, color=GAP_COLOUR, alpha=0.25, lw=0)
    if gap_spans:
        axes[0].plot([], [], color=GAP_COLOUR, alpha=0.4, lw=8,
                     label=f"missing candles ({len(gap_spans)} gap(s))")
        axes[0].legend(loc="upper left", fontsize=8, frameon=False)
    axes[0].set_ylabel(f"price ({shown.attrs.get('interval') or iv.name} candles)")
    if synthetic:
        fig.text(0.5, 0.55, "SYNTHETIC DATA", ha="center", va="center", rotation=25,
                 fontsize=46, color="grey", alpha=0.18, fontweight="bold")
    fig.suptitle(heading, color=GAP_COLOUR if synthetic else "black",
                 fontweight="bold" if synthetic else "normal")
    return fig


def _date_ticks(axes: Any) -> None:
    """Few, short date labels (``16:00``, ``Oct 31``), so that they never overlap."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    formatter = mdates.ConciseDateFormatter(locator, show_offset=True)
    for ax in axes:
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(formatter)
        for label in ax.get_xticklabels():
            label.set_rotation(0)
            label.set_horizontalalignment("center")


def _label(df: pd.DataFrame) -> str:
    a = df.attrs
    return f"{a.get('symbol') or '?'} {a.get('interval') or '?'} ({a.get('source') or '?'})"


def _fit(df: pd.DataFrame, max_candles: int, fit: str) -> tuple[pd.DataFrame, str]:
    """The candles to draw, and a note for the title when not all of them are drawn."""
    n = len(df)
    if n <= max_candles:
        return df, ""
    if fit == "resample":
        coarser = _coarser_fitting(df, max_candles)
        if coarser is not None:
            out = resample(df, coarser)
            return out, (f"{n:,} {df.attrs['interval']} candles shown as {len(out):,} "
                         f"{coarser} candles")
    out = df.iloc[-max_candles:]
    return out, f"latest {max_candles:,} of {n:,} candles"


def _coarser_fitting(df: pd.DataFrame, max_candles: int) -> str | None:
    iv = frame_interval(df)
    al = frame_alignment(df)
    first, last = df.index[0], df.index[-1]
    for name in INTERVALS:
        target = parse_interval(name)
        if target.nominal_ms <= iv.nominal_ms or not tiles(iv, target, fine_alignment=al,
                                                           coarse_alignment=al):
            continue
        if count_buckets(first, last + pd.Timedelta(milliseconds=1), target,
                         alignment=al) <= max_candles:
            return name
    return None


def _gap_spans(gaps: pd.DataFrame, df: pd.DataFrame, shown: pd.DataFrame, *,
               computed: bool, span: Any = None) -> list[tuple[float, float]]:
    """Gaps as date-number spans, clipped to the drawn range."""
    iv = frame_interval(df)
    al = frame_alignment(df)
    if computed:
        table = find_gaps(df)
    else:
        table = gaps
        if not {"start", "end"} <= set(table.columns):
            raise FormatError("gaps must have start and end columns (a gap table from "
                              "candlekit.coverage.gap_table, or candlekit.find_gaps output).",
                              list(table.columns))
        table = _missing_only(table)
        for key in ("symbol", "interval", "source"):
            if key in table.columns and df.attrs.get(key) is not None:
                table = table[table[key] == df.attrs[key]]
    if not len(table):
        return []
    lo = shown.index[0]
    hi = next_bucket(shown.index[-1], shown.attrs.get("interval") or iv.name, alignment=al)
    if span is not None:  # the axis covers the span: so does the shading
        lo, hi = min(lo, to_timestamp(span[0])), max(hi, to_timestamp(span[1]))
    start = pd.DatetimeIndex(table["start"])
    end = pd.DatetimeIndex(table["end"])
    keep = (end > lo) & (start < hi)
    if not keep.any():
        return []
    s = _date_num(np.maximum(start[keep], lo))
    e = _date_num(np.minimum(end[keep], hi))
    return list(zip(s.tolist(), e.tolist()))


def plot_series_windows(store: Store | str | os.PathLike[str] | None,
                        coverage: pd.DataFrame, *, gaps: pd.DataFrame | None = None,
                        max_candles: int = 500,
                        fit: Literal["tail", "resample"] = "resample") -> list[Any]:
    """A candle chart of each series of a coverage table, over the span it examined.

    Parameters
    ----------
    store : Store, path or None
        The store the table was built from.
    coverage : pandas.DataFrame
        From :func:`candlekit.coverage.coverage_table` (its ``start``/``end`` give each
        series' span; without them, the whole series is drawn).
    gaps : pandas.DataFrame, optional
        A gap table to shade (default: the gaps between the candles drawn).
    max_candles : int, default 500
        Passed to :func:`plot_candles`.
    fit : {"tail", "resample"}, default "resample"
        Passed to :func:`plot_candles`: by default a long span is drawn whole, in coarser
        candles, so that its gaps stay in view.

    Returns
    -------
    list of matplotlib.figure.Figure
        One per series with candles in its span (in table order); display them with
        ``IPython.display.display(*figures)``.
    """
    st = open_store(store)
    figures = []
    for row in coverage.itertuples(index=False):
        start = getattr(row, "start", None)
        end = getattr(row, "end", None)
        bounded = (start is not None and end is not None and not pd.isna(start)
                   and end > start)
        series = SimpleNamespace(symbol=row.symbol, interval=row.interval,
                                 alignment=getattr(row, "alignment", None) or "calendar",
                                 source=row.source, start=start, end=end,
                                 whole_series=not bounded)
        df = _read_span(st, series, [])  # skips the periods of corrupted files
        span = (f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" if bounded
                else "all stored candles")
        if not len(df):
            continue
        title = f"{_label(df)}, {span}"
        figures.append(plot_candles(df, gaps=gaps, title=title, max_candles=max_candles,
                                    fit=fit, span=None if span.startswith("all") else
                                    (start, end)))
    return figures
