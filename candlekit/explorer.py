"""An interactive candle explorer for notebooks, built on ipywidgets and mplfinance.

>>> Explorer("data", symbol="BTC", interval="1h")          # doctest: +SKIP

Pick a symbol, source, interval, bucket alignment and date range; the chart (candles with
volume, missing candles shaded) and a status line (candles shown, range, gaps, where the
candles came from, a banner for synthetic data) redraw on every change.

Intervals the store does not hold are built by resampling the coarsest stored interval
whose candles tile them (1h from 1m, 1w from 1d, ...); that is also how 1w and 1M are
shown under the other alignment than the one they were stored with (calendar weeks start
on Monday and months are calendar months; Hyperliquid's weeks start on Thursday and its
"month" is 30 days). When no stored interval tiles the choice, the status line says why.

Without a frontend (papermill, nbconvert), displaying an Explorer still shows its default
chart: the display carries the widget and, as a fallback, a static HTML/PNG rendering of
the current selection. Every control carries a CSS class (``candlekit-symbol``,
``candlekit-interval``, ``candlekit-source``, ``candlekit-alignment``, ``candlekit-start``,
``candlekit-end``, ``candlekit-chart``, ``candlekit-status``) for browser tests.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from .charts import plot_candles
from .coverage import FILL_HINT, open_store
from .errors import CandlekitError, FormatError, InvalidTimeError
from .gaps import find_gaps
from .intervals import (
    INTERVALS,
    check_alignment,
    floor_time,
    next_bucket,
    parse_interval,
    tiles,
)
from .provenance import banner_html, is_synthetic
from .resample import resample
from .store import Store
from .timeutil import TimeLike, to_timestamp

__all__ = ["Explorer"]

_DAY = pd.Timedelta(days=1)


class Explorer:
    """Browse stored candles: dropdowns, a date range, an mplfinance chart and a status line.

    Parameters
    ----------
    store : Store, path or None
        The store (``None``: ``$CANDLEKIT_DATA`` or ``./data``).
    symbol : str, optional
        Initial symbol; when the store does not hold it, the first stored symbol is shown
        and the status line says so.
    interval : str, optional
        Initial interval (default: ``1h`` when available, else the finest stored one).
    start, end : time, optional
        Initial range; ``end`` is exclusive. The date pickers work in whole UTC days:
        ``start`` is floored to its day and the last day shown is the one holding
        ``end - 1 ms``. By default, the days holding the latest ``max_candles`` candles.
    alignment : {"calendar", "hyperliquid"}, default "calendar"
        Buckets of 1w and 1M: calendar weeks (Monday) and months, or
        Hyperliquid's epoch-aligned Thursday weeks and 30-day months.
    source : str, optional
        Initial source, when several hold the symbol.
    max_candles : int, default 500
        Most candles drawn; a longer range shows its latest ``max_candles``.

    Attributes
    ----------
    widget : ipywidgets.VBox
        The whole explorer; display it, or the Explorer itself.
    symbol_widget, source_widget, interval_widget, alignment_widget : ipywidgets.Dropdown
    start_widget, end_widget : ipywidgets.DatePicker
        First and last UTC day shown (both inclusive).
    output : ipywidgets.Output
        Holds the chart, as a PNG image.
    status_widget : ipywidgets.HTML
        Synthetic-data banner and status line.
    figure : matplotlib.figure.Figure or None
        The last chart drawn.
    frame : pandas.DataFrame or None
        The candles of the last chart (all of the range, before ``max_candles``).
    status : str
        The status line as plain text.

    Raises
    ------
    InvalidIntervalError, InvalidAlignmentError
        For an unknown ``interval`` or ``alignment``.
    InvalidTimeError
        For a ``start``/``end`` that cannot be read, or ``end`` not after ``start``.
    FormatError
        For a ``max_candles`` below 2.
    """

    def __init__(self, store: Store | str | os.PathLike[str] | None = None, *,
                 symbol: str | None = None, interval: str | None = None,
                 start: TimeLike | None = None, end: TimeLike | None = None,
                 alignment: str = "calendar", source: str | None = None,
                 max_candles: int = 500):
        import ipywidgets as w

        self.store = open_store(store)
        if isinstance(max_candles, bool) or not isinstance(max_candles, int) or max_candles < 2:
            raise FormatError(f"max_candles must be an integer of at least 2, got "
                              f"{max_candles!r}.", max_candles)
        self.max_candles = max_candles
        self.figure: Any = None
        self.frame: pd.DataFrame | None = None
        self.status = ""
        self._png: bytes | None = None
        self._busy = False
        self._notes: list[str] = []
        check_alignment(alignment)
        if interval is not None:
            interval = parse_interval(interval).name
        start_ts = to_timestamp(start) if start is not None else None
        end_ts = to_timestamp(end) if end is not None else None
        if start_ts is not None and end_ts is not None and end_ts <= start_ts:
            raise InvalidTimeError(f"end ({end_ts}) must be after start ({start_ts}): swap "
                                   "them or widen the range.", (start, end))

        wide = {"description_width": "initial"}
        symbols = self.store.symbols()
        self.symbol_widget = w.Dropdown(options=symbols, description="Symbol", style=wide)
        self.source_widget = w.Dropdown(options=[], description="Source", style=wide)
        self.interval_widget = w.Dropdown(options=[], description="Interval", style=wide)
        self.alignment_widget = w.Dropdown(options=[("calendar (Monday weeks, months)",
                                                     "calendar"),
                                                    ("hyperliquid (Thursday weeks, 30 days)",
                                                     "hyperliquid")],
                                           value=alignment, description="Alignment",
                                           style=wide)
        self.start_widget = w.DatePicker(description="From (UTC)", style=wide)
        self.end_widget = w.DatePicker(description="To (UTC, inclusive)", style=wide)
        self.output = w.Output()
        self.status_widget = w.HTML()
        for name, widget in (("symbol", self.symbol_widget), ("source", self.source_widget),
                             ("interval", self.interval_widget),
                             ("alignment", self.alignment_widget),
                             ("start", self.start_widget), ("end", self.end_widget),
                             ("chart", self.output), ("status", self.status_widget)):
            widget.add_class(f"candlekit-{name}")
        self.widget = w.VBox([
            w.HBox([self.symbol_widget, self.source_widget, self.interval_widget]),
            w.HBox([self.alignment_widget, self.start_widget, self.end_widget]),
            self.status_widget, self.output])
        self.widget.add_class("candlekit-explorer")

        with self._updating():
            if symbols:
                if symbol in symbols:
                    self.symbol_widget.value = symbol
                else:
                    self.symbol_widget.value = symbols[0]
                    if symbol is not None:
                        self._notes.append(f"{symbol} is not in the store; showing "
                                           f"{symbols[0]}.")
                self._refresh_sources(prefer=source)
                self._refresh_intervals(prefer=interval)
                self._set_range(start_ts, end_ts)
        for widget in (self.symbol_widget, self.source_widget, self.interval_widget,
                       self.alignment_widget, self.start_widget, self.end_widget):
            widget.observe(self._on_change, names="value")
        self.redraw()

    # --- selection ------------------------------------------------------------------------

    @property
    def selection(self) -> dict[str, Any]:
        """The current choice: ``symbol, source, interval, alignment``, and ``start`` /
        ``end`` (exclusive) as UTC Timestamps (None when unset)."""
        start, end = self._range()
        return {"symbol": self.symbol_widget.value, "source": self.source_widget.value,
                "interval": self.interval_widget.value,
                "alignment": self.alignment_widget.value, "start": start, "end": end}

    def _range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        s, e = self.start_widget.value, self.end_widget.value
        start = pd.Timestamp(s).tz_localize("UTC").as_unit("ms") if s is not None else None
        end = pd.Timestamp(e).tz_localize("UTC").as_unit("ms") + _DAY if e is not None else None
        return start, end

    @contextmanager
    def _updating(self) -> Iterator[None]:
        """Change several widgets without a redraw per change."""
        busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = busy

    def _on_change(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        owner = change["owner"]
        self._notes = []
        with self._updating():
            if owner is self.symbol_widget:
                self._refresh_sources(prefer=self.source_widget.value)
                self._refresh_intervals(prefer=self.interval_widget.value)
                self._keep_or_reset_range()
            elif owner is self.source_widget:
                self._refresh_intervals(prefer=self.interval_widget.value)
                self._keep_or_reset_range()
            elif owner is self.interval_widget:
                self._set_range(None, None)
            elif owner is self.alignment_widget:
                self._refresh_intervals(prefer=self.interval_widget.value)
        self.redraw()

    def _stored(self) -> dict[str, str]:
        """Stored intervals of the selected symbol and source, with their alignment."""
        symbol, source = self.symbol_widget.value, self.source_widget.value
        if symbol is None or source is None:
            return {}
        cov = self.store.coverage(symbol=symbol, source=source)
        return dict(zip(cov["interval"], cov["alignment"]))

    def _refresh_sources(self, *, prefer: str | None) -> None:
        symbol = self.symbol_widget.value
        sources = sorted({k.source for k in self.store.series(symbol=symbol)})
        self.source_widget.options = sources
        if prefer in sources:
            self.source_widget.value = prefer
        elif sources:
            self.source_widget.value = sources[0]
            if prefer is not None:
                self._notes.append(f"no {prefer} candles for {symbol}; showing "
                                   f"{sources[0]}.")

    def _refresh_intervals(self, *, prefer: str | None) -> None:
        stored = self._stored()
        alignment = self.alignment_widget.value
        options = []
        for name in INTERVALS:
            if name in stored and self._direct(name, stored, alignment):
                options.append((name, name))
            elif self._tiling(name, stored, alignment) is not None:
                options.append((f"{name} (resampled)", name))
            elif name in stored:  # stored under the other alignment, nothing tiles it
                options.append((f"{name} (stored {stored[name]}-aligned)", name))
        self.interval_widget.options = options
        values = [v for _, v in options]
        if prefer in values:
            self.interval_widget.value = prefer
        elif "1h" in values and prefer is None:
            self.interval_widget.value = "1h"
        elif values:
            first_stored = next((v for v in values if v in stored), values[0])
            self.interval_widget.value = first_stored
            if prefer is not None:
                self._notes.append(f"{prefer} is not available for this series; showing "
                                   f"{first_stored}.")

    @staticmethod
    def _direct(name: str, stored: dict[str, str], alignment: str) -> bool:
        return name in stored and (not parse_interval(name).depends_on_alignment()
                                   or stored[name] == alignment)

    @staticmethod
    def _tiling(name: str, stored: dict[str, str], alignment: str) -> str | None:
        """The coarsest stored interval (other than ``name``) whose candles tile ``name``."""
        target = parse_interval(name).nominal_ms
        usable = [fine for fine, fine_al in stored.items()
                  if fine != name and parse_interval(fine).nominal_ms < target
                  and tiles(fine, name, fine_alignment=fine_al, coarse_alignment=alignment)]
        return max(usable, key=lambda f: parse_interval(f).nominal_ms, default=None)

    def _series_bounds(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """First and last open time of the series the chart reads from."""
        stored = self._stored()
        name, alignment = self.interval_widget.value, self.alignment_widget.value
        if name is None:
            return None
        base = name if self._direct(name, stored, alignment) else (
            self._tiling(name, stored, alignment) or name)
        cov = self.store.coverage(symbol=self.symbol_widget.value,
                                  source=self.source_widget.value, interval=base)
        if not len(cov):
            return None
        return cov["earliest"].iloc[0], cov["latest"].iloc[0]

    def _set_range(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
        """Set the date pickers; the default is the latest ``max_candles`` candles."""
        bounds = self._series_bounds()
        if end is None:
            end = (bounds[1] + pd.Timedelta(milliseconds=1) if bounds is not None
                   else pd.Timestamp.now(tz="UTC"))
        if start is None:
            nominal = pd.Timedelta(milliseconds=parse_interval(
                self.interval_widget.value or "1h").nominal_ms)
            start = end - nominal * self.max_candles
            if bounds is not None:
                start = max(start, bounds[0])
        self.start_widget.value = start.date()
        self.end_widget.value = (end - pd.Timedelta(milliseconds=1)).date()

    def _keep_or_reset_range(self) -> None:
        start, end = self._range()
        bounds = self._series_bounds()
        if (bounds is None or start is None or end is None or bounds[1] < start
                or bounds[0] >= end):
            self._set_range(None, None)

    # --- loading and drawing --------------------------------------------------------------

    def _load(self) -> tuple[pd.DataFrame, str | None]:
        """The selected candles, and the stored interval they were resampled from (or None)."""
        sel = self.selection
        symbol, source, name, alignment = (sel["symbol"], sel["source"], sel["interval"],
                                           sel["alignment"])
        start, end = sel["start"], sel["end"]
        if start is None or end is None:
            raise _ExplorerError("Pick a start and an end date.")
        if end <= start:
            raise _ExplorerError("The From date is after the To date: pick a From date on "
                                 "or before the To date.")
        stored = self._stored()
        if self._direct(name, stored, alignment):
            df = self.store.read(symbol, name, start, end, source=source)
            return df, None
        base = self._tiling(name, stored, alignment)
        if base is None:
            held = ", ".join(f"{k} ({v})" if parse_interval(k).depends_on_alignment() else k
                             for k, v in stored.items())
            raise _ExplorerError(
                f"Cannot show {symbol} {name} with {alignment} alignment: the store holds "
                f"{held or 'nothing'} for {symbol} ({source}), and none of these tiles "
                f"{alignment}-aligned {name} buckets. Backfill a finer interval (1d tiles "
                "every week and month), or choose the other alignment.")
        lo = floor_time(start, name, alignment=alignment)
        hi = next_bucket(end - pd.Timedelta(milliseconds=1), name, alignment=alignment)
        fine = self.store.read(symbol, base, lo, hi, source=source)
        return resample(fine, name, alignment=alignment), base

    def redraw(self) -> Any:
        """Read the selection, draw its chart into the output and update the status line.

        Returns
        -------
        matplotlib.figure.Figure or None
            The new chart (also in :attr:`figure`), or None when there is nothing to draw;
            the status line says why.
        """
        self.figure, self.frame, self._png = None, None, None
        if self.symbol_widget.value is None:
            self._show(None, f"The store at {self.store.root} is empty. "
                       + _strip_tags(FILL_HINT), synthetic=False)
            return None
        sel = self.selection
        try:
            df, base = self._load()
        except (_ExplorerError, CandlekitError) as exc:
            self._show(None, f"{sel['symbol']} {sel['interval']}: {exc}",
                       synthetic=is_synthetic(sel["source"]))
            return None
        self.frame = df
        if not len(df):
            self._show(None, f"No {sel['symbol']} {sel['interval']} candles ({sel['source']})"
                       f" between {sel['start']:%Y-%m-%d} and {sel['end']:%Y-%m-%d} UTC: pick "
                       "other dates.", synthetic=is_synthetic(df))
            return None
        origin = f"resampled from {base}" if base is not None else "as stored"
        extra = [origin] if base is not None else []
        if parse_interval(sel["interval"]).depends_on_alignment():
            extra.append(f"{sel['alignment']} alignment")
        title = f"{sel['symbol']} {sel['interval']} ({', '.join([df.attrs['source'], *extra])})"
        fig = plot_candles(df, gaps=None, title=title, max_candles=self.max_candles)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        self.figure, self._png = fig, buf.getvalue()
        shown = min(len(df), self.max_candles)
        gaps = find_gaps(df)
        parts = [f"{sel['symbol']} {sel['interval']} ({df.attrs.get('source')})",
                 f"{shown:,} candle(s)" + (f" (the latest of {len(df):,}: narrow the dates to "
                                           "see the rest)" if shown < len(df) else ""),
                 f"{df.index[-shown]:%Y-%m-%d %H:%M} to {df.index[-1]:%Y-%m-%d %H:%M} UTC",
                 (f"{len(gaps)} gap(s), {int(gaps['missing_candles'].sum()):,} missing "
                  "candle(s)") if len(gaps) else "no gaps", origin]
        if base is not None:  # resampled: a bucket lacking candles is partial, not open
            partial = int((df["constituents"] < df["expected_constituents"]).sum())
            if partial:
                parts.append(f"{partial} partial candle(s), built from fewer {base} candles "
                             "than a whole bucket holds")
        else:
            n_open = int((~df["closed"].to_numpy(bool)).sum())
            if n_open:
                parts.append(f"{n_open} open candle(s), still forming")
        self._show(self._png, " · ".join(parts), synthetic=is_synthetic(df))
        return fig

    def _show(self, png: bytes | None, line: str, *, synthetic: bool) -> None:
        text = " ".join([*self._notes, line])
        self.status = text
        banner = banner_html(self.source_widget.value) if synthetic else ""
        self.status_widget.value = (f'{banner}<div class="candlekit-status-line">'
                                    f"{html.escape(text)}</div>")
        if png is None:
            self.output.outputs = ()
            return
        self.output.outputs = ({
            "output_type": "display_data",
            "data": {"image/png": base64.b64encode(png).decode("ascii"),
                     "text/plain": f"<candlekit chart: {html.escape(line)}>"},
            "metadata": {},
        },)

    # --- display --------------------------------------------------------------------------

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """The widget, with a static HTML/PNG rendering for frontends without widgets."""
        bundle = dict(self.widget._repr_mimebundle_() or {})
        img = ""
        if self._png is not None:
            encoded = base64.b64encode(self._png).decode("ascii")
            bundle["image/png"] = encoded
            img = f'<img class="candlekit-chart" src="data:image/png;base64,{encoded}"/>'
        bundle["text/html"] = (f'<div class="candlekit-explorer">'
                               f"{self.status_widget.value}{img}</div>")
        bundle["text/plain"] = f"Explorer: {self.status}"
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)

    def __repr__(self) -> str:
        return f"Explorer({self.store!r}, selection={self.selection!r})"


class _ExplorerError(Exception):
    """A selection the explorer cannot draw (shown in the status line, never raised out)."""


def _strip_tags(text: str) -> str:
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text))
