"""``track_record``: the call at every step of a history, made from the data up to that
step only, and graded against what happened.

It computes every causal series once over the closed candles
(:func:`candlekit.analysis.series.compute`) and reads each step's call from index ``i``:
the same arithmetic on the same values as ``analyze(df, as_of=<close of candle i>)``, so
the two agree exactly (``tests/test_analysis_track.py`` checks this), at a cost linear
in the history instead of quadratic.

Given a :class:`~candlekit.Store` (or a store root) instead of a frame, ``track_record``
grades every selected stored series, one series per unit of work, in process or on a Dask
cluster (:func:`candlekit.cluster.track_records`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from ..errors import AnalysisError, FormatError
from ..frame import frame_alignment, frame_interval
from ..provenance import is_synthetic
from ..timeutil import to_ms
from . import call as _call
from .engine import select_candles
from .facts import iso_array
from .scoring import grade, summarize
from .series import compute

if TYPE_CHECKING:  # pragma: no cover
    from ..cluster.track import TrackRecords
    from ..store import Store

__all__ = ["TrackRecord", "calibration_table", "check_steps", "empty_track_record",
           "track_record"]

_NAMES = np.array(["down", "flat", "up"], dtype=object)


@dataclass
class TrackRecord:
    """Every walk-forward call of one series, graded.

    Attributes
    ----------
    calls : pandas.DataFrame
        One row per call: ``time`` (open time of the reference candle), ``as_of``,
        ``direction``, ``p_up``, ``horizon``, ``reference_close``, ``dead_band``,
        ``score``, then the graded columns of :func:`candlekit.analysis.scoring.grade`
        (``target_time, target_close, status, gradable_at, outcome, realized_return,
        hit, up``). ``calls.attrs`` carries ``symbol, interval, source, synthetic``.
    summary : dict
        :func:`candlekit.analysis.scoring.summarize` of the graded calls, plus
        ``symbol, interval, source, synthetic, horizon`` (so an export says what it is).
    symbol, interval, source : str or None
    horizon, every : int
    synthetic : bool
        True when the candles are synthetic (every view of the record must say so).
    """

    calls: pd.DataFrame
    summary: dict[str, Any]
    symbol: str | None
    interval: str
    source: str | None
    horizon: int
    every: int
    synthetic: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)

    def calibration(self, bins: int = 10) -> pd.DataFrame:
        """Predicted ``p_up`` against the observed frequency of a higher close.

        Parameters
        ----------
        bins : int, default 10
            Equal-width bins of ``p_up`` over [0, 1].

        Returns
        -------
        pandas.DataFrame
            One row per non-empty bin: ``bin_low``, ``bin_high``, ``n``,
            ``mean_p_up`` (mean forecast) and ``observed_up`` (share of higher closes).
        """
        return calibration_table(self.calls, bins=bins)

    def _repr_markdown_(self) -> str:
        s = self.summary
        head = "**SYNTHETIC DATA.** " if self.synthetic else ""
        if not s.get("n"):
            return head + f"No graded {self.interval} calls on {self.symbol} yet."
        lo, hi = s["hit_rate_ci95"]
        return (head + f"Over {s['n']:,} past {self.interval} calls on {self.symbol} "
                f"(horizon {self.horizon}) the analyst was right {100 * s['hit_rate']:.1f}% "
                f"[{100 * lo:.1f}, {100 * hi:.1f}]; up moves were "
                f"{100 * s['base_rate_up']:.1f}%; Brier skill {s['brier_skill']:.4f}.")


def calibration_table(calls: pd.DataFrame, *, bins: int = 10) -> pd.DataFrame:
    """Predicted ``p_up`` against the observed frequency of a higher close, over the
    graded rows of ``calls`` (one series' or many series' calls alike).

    Parameters
    ----------
    calls : pandas.DataFrame
        Graded calls (:func:`candlekit.analysis.scoring.grade`'s columns).
    bins : int, default 10
        Equal-width bins of ``p_up`` over [0, 1].

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``bin_low``, ``bin_high``, ``n``, ``mean_p_up`` (mean
        forecast) and ``observed_up`` (share of higher closes).
    """
    g = calls[calls["status"] == "graded"]
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    which = np.clip(np.digitize(g["p_up"].to_numpy(float), edges) - 1, 0, int(bins) - 1)
    up = g["up"].to_numpy(bool)
    p = g["p_up"].to_numpy(float)
    rows = []
    for b in range(int(bins)):
        m = which == b
        if m.any():
            rows.append({"bin_low": edges[b], "bin_high": edges[b + 1], "n": int(m.sum()),
                         "mean_p_up": float(p[m].mean()), "observed_up": float(up[m].mean())})
    return pd.DataFrame(rows, columns=["bin_low", "bin_high", "n", "mean_p_up",
                                       "observed_up"])


def check_steps(every: Any, horizon: Any) -> tuple[int, int]:
    """``(every, horizon)`` as ints (horizon defaulted), after checking both.

    Raises
    ------
    AnalysisError
        When ``every`` or ``horizon`` is not a positive integer.
    """
    h = _call.DEFAULT_HORIZON if horizon is None else horizon
    for name, v in (("every", every), ("horizon", h)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise AnalysisError(f"{name} must be a positive whole number of candles, not "
                                f"{v!r}.")
    return int(every), int(h)


def _walk(used: pd.DataFrame, attrs: dict[str, Any], *, every: int, horizon: int,
          start: Any) -> TrackRecord:
    """The record over ``used`` (closed candles only, strictly increasing; may be empty)."""
    h = horizon
    iv, al = frame_interval(used), frame_alignment(used)
    st = compute(used, interval=iv, alignment=al, horizon=h)
    steps = np.flatnonzero(st.valid)
    if start is not None:
        steps = steps[st.t_close[steps] >= to_ms(start)]
    steps = steps[::every]
    as_of = iso_array(st.t_close[steps])
    calls = pd.DataFrame({
        "time": pd.to_datetime(st.t_open[steps], unit="ms", utc=True).as_unit("ms"),
        "as_of": as_of,
        "direction": _NAMES[st.code[steps] + 1],
        "p_up": st.p_up[steps],
        "horizon": np.full(len(steps), h, dtype=np.int64),
        "reference_close": st.close[steps],
        "dead_band": st.band[steps],
        "score": st.score[steps],
    })
    closes = used["close"]
    graded = grade(calls, closes, interval=iv.name, alignment=al)
    source = attrs.get("source")
    synthetic = is_synthetic(source)
    graded.attrs = {"symbol": attrs.get("symbol"), "interval": iv.name, "alignment": al,
                    "source": source, "synthetic": synthetic, "horizon": h, "every": every}
    summary = summarize(graded)
    summary.update(symbol=attrs.get("symbol"), interval=iv.name, source=source,
                   synthetic=synthetic, horizon=h)
    return TrackRecord(calls=graded, summary=summary, symbol=attrs.get("symbol"),
                       interval=iv.name, source=source, horizon=h, every=every,
                       synthetic=synthetic)


def empty_track_record(df: pd.DataFrame, *, every: int = 1,
                       horizon: int | None = None) -> TrackRecord:
    """The record of a series with no closed candle: no calls, the same columns and
    summary fields as :func:`track_record` (which refuses such a frame).

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical frame (its ``attrs`` name the series); its rows are not used.
    every, horizon : int
        As for :func:`track_record`.
    """
    every, h = check_steps(every, horizon)
    used = df.iloc[:0]
    used.attrs = dict(df.attrs)
    return _walk(used, dict(df.attrs), every=every, horizon=h, start=None)


def _frame_record(df: pd.DataFrame, *, every: Any, horizon: Any, start: Any) -> TrackRecord:
    every, h = check_steps(every, horizon)
    pos, _, _ = select_candles(df, as_of=None)
    used = df.iloc[pos]
    used.attrs = dict(df.attrs)
    return _walk(used, dict(df.attrs), every=every, horizon=h, start=start)


@overload
def track_record(df: pd.DataFrame, *, every: int = 1, horizon: int | None = None,
                 start: Any = None) -> TrackRecord: ...


@overload
def track_record(df: Store | str | os.PathLike[str], *, interval: str,
                 symbols: str | Iterable[str] | None = None, source: str | None = None,
                 every: int = 1, horizon: int | None = None, start: Any = None,
                 end: Any = None, client: Any = None, progress: bool = True
                 ) -> TrackRecords: ...


def track_record(df: Any, *, every: int = 1, horizon: int | None = None, start: Any = None,
                 interval: str | None = None, symbols: str | Iterable[str] | None = None,
                 source: str | None = None, end: Any = None, client: Any = None,
                 progress: bool = True) -> TrackRecord | TrackRecords:
    """Walk forward through a history, make the call at each step, and grade every call.

    Given a candle frame, grades that one series in this process. Given a
    :class:`~candlekit.Store` (or a store root path), grades every selected stored series
    at ``interval``, in this process or on a Dask cluster (``client=``), and returns a
    :class:`~candlekit.TrackRecords`; see :func:`candlekit.cluster.track_records` for that
    form's options.

    Parameters
    ----------
    df : pandas.DataFrame, Store, str or os.PathLike
        A canonical candle frame (only closed candles are used), or a store.
    every : int, default 1
        Make a call every ``every`` candles (counted from the first call).
    horizon : int, optional
        Horizon of the calls in candles (default as :func:`candlekit.analyze`).
    start : time, optional
        First ``as_of`` to call at (calls need :data:`~candlekit.analysis.call.MIN_BARS`
        candles of warm-up anyway, read from before ``start``).
    interval, symbols, source, end, client, progress
        Only with a store: which series, the end of the history graded (candles that
        closed before ``end``), the Dask client and the progress bar
        (:func:`candlekit.cluster.track_records`).

    Returns
    -------
    TrackRecord or TrackRecords
        For a frame: ``.calls`` (one row per call) and ``.summary``; each row's call
        equals ``analyze(df, as_of=row.as_of, horizon=horizon).call``. For a store: the
        calls of every series, a summary row per series, and ``.by_series``.

    Raises
    ------
    AnalysisError
        When ``every`` or ``horizon`` is not a positive integer, the frame has no closed
        candle, or a frame comes with store-only options (``client=``, ``interval=``, ...).
    FormatError
        When ``df`` is neither a frame nor a store.
    SeriesNotFoundError
        For a store, when the selection matches no stored series.

    Examples
    --------
    >>> tr = ck.track_record(store.read("BTC", "1h"))                  # doctest: +SKIP
    >>> trs = ck.track_record(store, interval="1h", client=client)     # doctest: +SKIP
    >>> trs.summary[["symbol", "n", "hit_rate", "brier_skill", "synthetic"]]  # doctest: +SKIP
    """
    if isinstance(df, pd.DataFrame):
        given = [name for name, v in (("client", client), ("interval", interval),
                                      ("symbols", symbols), ("source", source),
                                      ("end", end)) if v is not None]
        if given:
            what = ", ".join(f"{g}=" for g in given)
            raise AnalysisError(
                f"{what} only apply to a track record over a store; this call got one candle "
                "frame, which is graded in this process as one unit of work. Pass the Store "
                "(or its root path) with interval= to grade stored series (on a cluster with "
                f"client=), or drop {what} (slice the frame yourself to end it earlier).")
        return _frame_record(df, every=every, horizon=horizon, start=start)
    from ..store import Store

    if isinstance(df, (Store, str, os.PathLike)):
        from ..cluster.track import track_records

        return track_records(df, interval=interval, symbols=symbols, source=source,
                             every=every, horizon=horizon, start=start, end=end,
                             client=client, progress=progress)
    raise FormatError(
        f"track_record() takes a candle frame or a store, got {type(df).__name__}: pass "
        "store.read(symbol, interval) to grade one series, or a Store (or its root path) "
        "with interval= to grade every stored series.", df)
