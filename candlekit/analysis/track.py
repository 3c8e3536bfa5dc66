"""``track_record``: the call at every step of a history, made from the data up to that
step only, and graded against what happened.

It computes every causal series once over the closed candles
(:func:`candlekit.analysis.series.compute`) and reads each step's call from index ``i``:
the same arithmetic on the same values as ``analyze(df, as_of=<close of candle i>)``, so
the two agree exactly (``tests/test_analysis_track.py`` checks this), at a cost linear
in the history instead of quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..frame import frame_alignment, frame_interval
from ..provenance import is_synthetic
from ..timeutil import to_ms
from . import call as _call
from .engine import select_candles
from .facts import iso_array
from .scoring import grade, summarize
from .series import compute

__all__ = ["TrackRecord", "track_record"]

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
        g = self.calls[self.calls["status"] == "graded"]
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


def track_record(df: pd.DataFrame, *, every: int = 1, horizon: int | None = None,
                 start: Any = None) -> TrackRecord:
    """Walk forward through ``df``, make the call at each step, and grade every call.

    Parameters
    ----------
    df : pandas.DataFrame
        A canonical candle frame; only closed candles are used.
    every : int, default 1
        Make a call every ``every`` candles (counted from the first call).
    horizon : int, optional
        Horizon of the calls in candles (default as :func:`candlekit.analyze`).
    start : time, optional
        First ``as_of`` to call at (calls need :data:`~candlekit.analysis.call.MIN_BARS`
        candles of warm-up anyway).

    Returns
    -------
    TrackRecord
        ``.calls`` (one row per call) and ``.summary``. Each row's call equals
        ``analyze(df, as_of=row.as_of, horizon=horizon).call``.

    Raises
    ------
    AnalysisError
        When ``every`` or ``horizon`` is not a positive integer, or there is no closed
        candle.
    """
    h = _call.DEFAULT_HORIZON if horizon is None else horizon
    for name, v in (("every", every), ("horizon", h)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise AnalysisError(f"{name} must be a positive whole number of candles, not "
                                f"{v!r}.")
    h, every = int(h), int(every)
    iv, al = frame_interval(df), frame_alignment(df)
    pos, _, _ = select_candles(df, as_of=None)
    used = df.iloc[pos]
    used.attrs = dict(df.attrs)
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
    source = df.attrs.get("source")
    synthetic = is_synthetic(source)
    graded.attrs = {"symbol": df.attrs.get("symbol"), "interval": iv.name, "alignment": al,
                    "source": source, "synthetic": synthetic, "horizon": h, "every": every}
    summary = summarize(graded)
    summary.update(symbol=df.attrs.get("symbol"), interval=iv.name, source=source,
                   synthetic=synthetic, horizon=h)
    return TrackRecord(calls=graded, summary=summary, symbol=df.attrs.get("symbol"),
                       interval=iv.name, source=source, horizon=h, every=every,
                       synthetic=synthetic)
