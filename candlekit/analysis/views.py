"""What the analysis notebook shows, one method per cell: :class:`AnalysisReport`.

:meth:`AnalysisReport.run` records an analysis of a stored series (through
:func:`candlekit.run_analysis`) and reads the candles it used; each method then returns
one displayable thing: the header (with the SYNTHETIC DATA banner where it applies), the
narrative as Markdown, the facts table, the chart, the multi-timeframe table, the caveats,
the series' track record and its calibration plot, and where the analysis is recorded.
When the analysis cannot be made (an empty store, too little history), every method says
so and what to do, instead of failing the whole report.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import CandlekitError
from ..provenance import banner_html
from ..store import Store
from ..timeutil import TimeLike
from .facts import FACT_KINDS, format_fact
from .model import Analysis

__all__ = ["AnalysisReport", "facts_table", "timeframes_table"]


class _Markdown:
    """Markdown text with a Jupyter representation (no IPython import needed)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


class _HTML:
    def __init__(self, text: str):
        self.text = text

    def _repr_html_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return html.unescape(self.text)


def facts_table(analysis: Analysis) -> pd.DataFrame:
    """Every fact but the multi-timeframe ones (:func:`timeframes_table` shows those).

    Returns
    -------
    pandas.DataFrame
        Indexed by fact name: ``value`` (as the narrative prints it), ``kind`` (price,
        pct, prob, ... see :mod:`candlekit.analysis.facts`) and ``description``, from
        :func:`candlekit.analysis.facts.facts_table`.
    """
    from .facts import facts_table as engine_table

    table = engine_table(analysis.facts)
    keep = [not n.startswith("mtf_") or n in FACT_KINDS for n in table["name"]]
    table = table[keep].rename(columns={"name": "fact"}).set_index("fact")
    return table[["printed", "kind", "description"]].rename(columns={"printed": "value"})


def timeframes_table(analysis: Analysis) -> pd.DataFrame:
    """The multi-timeframe trend table (this interval and the next coarser ones).

    Returns
    -------
    pandas.DataFrame
        Indexed by interval: ``trend, close, ema_50, adx_14, complete candles, last close``
        (printed as the narrative prints them); ``attrs["alignment"]`` is the table's
        verdict (aligned, mixed, divergent, insufficient).
    """
    f = analysis.facts
    names = [n for n in str(f.get("mtf_intervals") or "").split(",") if n]
    rows = []
    for iv in names:
        p = f"mtf_{iv}_"
        rows.append({"interval": iv, "trend": f.get(p + "trend"),
                     "close": format_fact(p + "close", f),
                     "ema_50": format_fact(p + "ema_50", f),
                     "adx_14": format_fact(p + "adx_14", f),
                     "complete candles": format_fact(p + "bars", f),
                     "last close": format_fact(p + "last_close", f)})
    out = pd.DataFrame(rows, columns=["interval", "trend", "close", "ema_50", "adx_14",
                                      "complete candles", "last close"]).set_index("interval")
    out.attrs["alignment"] = f.get("mtf_alignment")
    return out


@dataclass
class AnalysisReport:
    """One recorded analysis and the candles it used, for the notebook to show.

    Attributes
    ----------
    analysis : Analysis or None
        The recorded analysis: completed, or the ``failed`` record when it could not be
        made (None when nothing was recorded, e.g. for an unknown series).
    candles : pandas.DataFrame or None
        The candles read for it.
    error : CandlekitError or None
        Why there is no analysis.
    store : Store
    """

    analysis: Analysis | None
    candles: pd.DataFrame | None
    store: Store
    error: CandlekitError | None = None
    _track: Any = field(default=None, repr=False)

    @classmethod
    def run(cls, symbol: str, interval: str, *, store: Store | str | None = None,
            as_of: TimeLike | None = None, prompt: str | None = None, llm: Any = None,
            horizon: int | None = None, source: str | None = None) -> AnalysisReport:
        """Record an analysis of a stored series (see :func:`candlekit.run_analysis`)."""
        from ..coverage import open_store
        from .api import DEFAULT_LOOKBACK, get_analysis, load_candles, plan_series, run_analysis

        st = open_store(store)
        try:
            analysis = run_analysis(symbol, interval, store=st, source=source, as_of=as_of,
                                    prompt=prompt, llm=llm, horizon=horizon)
        except CandlekitError as exc:
            failed = None
            recorded = getattr(exc, "analysis_id", None)
            if recorded:
                failed = get_analysis(recorded, st)
            return cls(failed, None, st, exc)
        plan = plan_series(st, symbol, interval, source=analysis.source)
        candles = load_candles(symbol, interval, store=st, source=analysis.source,
                               as_of=analysis.as_of, bars=int(analysis.facts.get(
                                   "bars_used", DEFAULT_LOOKBACK)), plan=plan)
        return cls(analysis, candles, st)

    @property
    def ok(self) -> bool:
        """Whether there is a completed analysis to show."""
        return self.error is None and self.analysis is not None and self.candles is not None

    # --- cells ------------------------------------------------------------------------------

    def _missing(self) -> _HTML:
        exc = self.error
        hint = ("Fill the store first: <code>make demo</code> (synthetic, offline) or "
                "<code>candlekit backfill BTC --interval 1h --start 2026-01-01</code>; then "
                "run this report again.")
        return _HTML(f"<div style='border:2px solid #d62728;padding:8px 12px'><b>No analysis"
                     f"</b>: {html.escape(str(exc))}<br>{hint}</div>")

    def header(self) -> _HTML:
        """The banner (synthetic data), id, status, series, as_of and the model's verdict."""
        if not self.ok:
            return self._missing()
        a = self.analysis
        parts = [banner_html(a.source) if a.synthetic else ""]
        parts.append(f"<p><b>Analysis {html.escape(a.id or '')}</b> ({a.status}): "
                     f"{html.escape(a.symbol)} {a.interval} as of <code>{a.as_of}</code>, "
                     f"source <code>{html.escape(str(a.source))}</code>; recorded "
                     f"{a.created_at}.</p>")
        if a.prompt:
            parts.append(f"<p>Prompt: <i>{html.escape(a.prompt)}</i></p>")
        if a.llm is not None:
            v = a.llm
            verdict = ("accepted: every number in its prose is one of the facts" if v.accepted
                       else f"rejected ({html.escape(v.reason)}); the narrative below is "
                            "candlekit's own")
            parts.append(f"<p>Language model <code>{html.escape(v.model)}</code>: {verdict}"
                         f"{' (cached)' if v.cached else ''}.</p>")
        return _HTML("".join(parts))

    def narrative(self) -> _Markdown:
        """The narrative, as Markdown."""
        if not self.ok:
            return _Markdown("*No narrative: the analysis could not be made (see above).*")
        return _Markdown(self.analysis.text)

    def facts(self) -> _HTML:
        """The facts table (:func:`facts_table`), every row shown."""
        if not self.ok:
            return self._missing()
        return _HTML(facts_table(self.analysis).to_html())

    def chart(self, **kwargs: Any) -> Any:
        """The chart (:func:`candlekit.analysis.charts.plot_analysis`)."""
        if not self.ok:
            return self._missing()
        from .charts import plot_analysis

        return plot_analysis(self.candles, self.analysis, **kwargs)

    def timeframes(self) -> pd.DataFrame | _HTML:
        """The multi-timeframe table (:func:`timeframes_table`)."""
        if not self.ok:
            return self._missing()
        return timeframes_table(self.analysis)

    def caveats(self) -> _Markdown:
        """The caveats, as a Markdown list."""
        if not self.ok:
            return _Markdown("*No caveats: there is no analysis.*")
        items = self.analysis.caveats or ["none: the candles used passed every data check"]
        return _Markdown("**Caveats**\n\n" + "\n".join(f"- {c}" for c in items))

    def track_record(self) -> Any:
        """The series' walk-forward track record over the candles used (a TrackRecord)."""
        if not self.ok:
            return self._missing()
        if self._track is None:
            from .track import track_record

            a = self.analysis
            used = self.candles
            used = used[used.index <= pd.Timestamp(a.facts["last_open"])]
            used.attrs = dict(self.candles.attrs)
            self._track = track_record(used.tail(int(a.facts["bars_used"])),
                                       horizon=a.call.horizon if a.call else None)
        return self._track

    def calibration(self, bins: int = 10) -> Any:
        """The calibration plot of the track record."""
        if not self.ok:
            return self._missing()
        from .charts import plot_calibration

        return plot_calibration(self.track_record(), bins=bins)

    def recorded(self) -> _Markdown:
        """Where the analysis is recorded, and how to see and grade it again."""
        if not self.ok:
            return _Markdown("*Nothing recorded.*")
        a = self.analysis
        return _Markdown(
            f"Recorded as **{a.id}** in `{self.store.meta_path('analyses.sqlite')}`. "
            f"`candlekit analyses show {a.id}` shows it again; `candlekit analyses grade` "
            f"grades it once the {a.call.horizon if a.call else '?'} candles after "
            f"{a.as_of} have closed in the store.")
