"""Grading calls against what happened, and the summary figures of a track record.

A call made at ``as_of`` (the close time of its reference candle) with horizon ``h`` is
graded against the close of the candle ``h`` buckets after the reference candle (the
*target* candle; by bucket number, so a gap in the data is never skipped over silently).

Definitions (``move = target_close - reference_close``):

``outcome``
    ``"up"`` when ``move > dead_band``, ``"down"`` when ``move < -dead_band``, otherwise
    ``"flat"`` (the move stayed inside the dead band, edges included).
``hit``
    ``outcome == direction``: an up call is right only when the price rose by more than
    the dead band, a down call only when it fell by more, and a flat call when the move
    stayed inside the band.
``realized_return``
    ``target_close / reference_close - 1``.
``up`` (the event ``p_up`` forecasts)
    ``target_close > reference_close`` (strictly), whatever the dead band.

Summary (:func:`summarize`, over graded calls only):

``n``, ``hits``, ``hit_rate``
    Graded calls, hits, and hits / n.
``hit_rate_ci95``
    Wilson score interval at 95% (z = 1.959964) for the hit rate.
``base_rate_up``
    Share of graded calls after which the close was above the reference close.
``brier``
    Mean of ``(p_up - up)**2``.
``brier_base``
    The Brier score of always forecasting ``base_rate_up`` over the same calls,
    ``base_rate_up * (1 - base_rate_up)``.
``brier_skill``
    ``1 - brier / brier_base``: above 0 beats the base rate, 0 or below shows no skill.
``mean_signed_return``
    Mean of ``+realized_return`` for up calls and ``-realized_return`` for down calls
    (flat calls excluded; ``None`` when every call was flat).
``share_up``, ``share_down``, ``share_flat``
    How the outcomes split (an always-up caller's hit rate would be ``share_up``).

Missing values are ``None`` so that the summary is JSON-serialisable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CandleValidationError
from ..intervals import bucket_ordinal, check_alignment, ordinal_to_ms, parse_interval
from ..timeutil import to_ms_array

__all__ = ["DIRECTIONS", "WILSON_Z", "grade", "summarize", "wilson_interval"]

DIRECTIONS = ("down", "flat", "up")
_CODE = {"down": -1, "flat": 0, "up": 1}
#: z for a two-sided 95% Wilson interval.
WILSON_Z = 1.959963984540054

_CALL_COLUMNS = ("as_of", "direction", "p_up", "horizon", "reference_close", "dead_band")


def wilson_interval(hits: int, n: int, *, z: float = WILSON_Z) -> tuple[float, float] | None:
    """Wilson score interval for ``hits`` successes in ``n`` trials (None when n is 0).

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(lo, 4), round(hi, 4)
    (0.4902, 0.9433)
    """
    if n <= 0:
        return None
    p = hits / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def direction_codes(direction: Any) -> np.ndarray:
    """``-1/0/+1`` for ``down/flat/up`` (raises on anything else)."""
    d = np.asarray(direction, dtype=object)
    out = np.empty(len(d), dtype=np.int64)
    for i, x in enumerate(d):
        if x not in _CODE:
            raise CandleValidationError(
                f"Unknown call direction {x!r} in row {i}: use one of up, down, flat.")
        out[i] = _CODE[x]
    return out


def grade_core(code: np.ndarray, ref: np.ndarray, band: np.ndarray, target: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outcome codes, realised returns, hits and up flags (NaN target = not graded).

    Returns
    -------
    (outcome, realized_return, hit, up)
        ``outcome`` is -1/0/+1 (0 also where ungraded; check ``graded = ~isnan(target)``),
        ``hit`` and ``up`` are bool arrays (False where ungraded).
    """
    move = target - ref
    outcome = np.where(move > band, 1, np.where(move < -band, -1, 0)).astype(np.int64)
    graded = ~np.isnan(target)
    outcome[~graded] = 0
    ret = target / ref - 1.0
    hit = graded & (outcome == code)
    up = graded & (move > 0)
    return outcome, ret, hit, up


def summarize_core(code: np.ndarray, p_up: np.ndarray, outcome: np.ndarray,
                   ret: np.ndarray, hit: np.ndarray, up: np.ndarray) -> dict[str, Any]:
    """:func:`summarize` over arrays of graded calls only."""
    n = len(code)
    out: dict[str, Any] = {"n": n, "hits": int(hit.sum())}
    if n == 0:
        out.update(hit_rate=None, hit_rate_ci95=None, base_rate_up=None, brier=None,
                   brier_base=None, brier_skill=None, mean_signed_return=None,
                   share_up=None, share_down=None, share_flat=None)
        return out
    base = float(up.mean())
    brier = float(np.mean((p_up - up.astype(np.float64)) ** 2))
    brier_base = base * (1.0 - base)
    directional = code != 0
    lo_hi = wilson_interval(out["hits"], n)
    out.update(
        hit_rate=out["hits"] / n,
        hit_rate_ci95=[lo_hi[0], lo_hi[1]] if lo_hi else None,
        base_rate_up=base,
        brier=brier,
        brier_base=brier_base,
        brier_skill=(1.0 - brier / brier_base) if brier_base > 0 else None,
        mean_signed_return=(float(np.mean(code[directional] * ret[directional]))
                            if directional.any() else None),
        share_up=float(np.mean(outcome == 1)),
        share_down=float(np.mean(outcome == -1)),
        share_flat=float(np.mean(outcome == 0)),
    )
    return out


def _interval_of(closes: pd.Series, interval: str | None, alignment: str | None):
    name = interval if interval is not None else closes.attrs.get("interval")
    if name is None:
        raise CandleValidationError(
            "grade() needs the candles' interval: pass interval='1h' (or give closes "
            "attrs['interval'], as df['close'] of a candle frame has).")
    al = alignment if alignment is not None else closes.attrs.get("alignment") or "calendar"
    return parse_interval(name), check_alignment(al)


def grade(calls: pd.DataFrame, closes: pd.Series, *, interval: str | None = None,
          alignment: str | None = None) -> pd.DataFrame:
    """Grade calls against the closes that followed them.

    Parameters
    ----------
    calls : pandas.DataFrame
        One row per call with ``as_of`` (close time of the reference candle: ISO string
        or timestamp), ``direction`` (up/down/flat), ``p_up``, ``horizon`` (bars),
        ``reference_close`` and ``dead_band`` (price units).
    closes : pandas.Series
        Closes of *closed* candles indexed by open time (``df.loc[df.closed, "close"]``
        of a canonical frame; its attrs give the interval).
    interval, alignment : str, optional
        Override ``closes.attrs``.

    Returns
    -------
    pandas.DataFrame
        ``calls`` plus ``target_time`` (close time of the target candle),
        ``target_close``, ``status`` (``graded``; ``pending`` when the target candle has
        not closed in ``closes`` yet; ``missing`` when it falls inside a gap),
        ``gradable_at`` (the target candle's close time, when the call can be graded),
        ``outcome``, ``realized_return``, ``hit`` and ``up`` (nullable where not graded).
        Definitions are in the module docstring.

    Raises
    ------
    CandleValidationError
        When a column is missing, a direction is unknown, or the interval is unknown.
    """
    missing = [c for c in _CALL_COLUMNS if c not in calls.columns]
    if missing:
        raise CandleValidationError(
            f"calls lack columns {missing}: each call needs {', '.join(_CALL_COLUMNS)}.")
    iv, al = _interval_of(closes, interval, alignment)
    code = direction_codes(calls["direction"])
    as_of_ms = to_ms_array(pd.to_datetime(calls["as_of"], utc=True, format="ISO8601"))
    horizon = calls["horizon"].to_numpy(np.int64)
    ref_ord = bucket_ordinal(as_of_ms, iv, alignment=al)
    target_open = ordinal_to_ms(ref_ord + horizon, iv, alignment=al)
    target_close_ms = ordinal_to_ms(ref_ord + horizon + 1, iv, alignment=al) - 1
    ct = to_ms_array(closes.index)
    cv = closes.to_numpy(np.float64)
    pos = np.searchsorted(ct, target_open)
    found = (pos < len(ct)) & (ct[np.minimum(pos, max(len(ct) - 1, 0))] == target_open) \
        if len(ct) else np.zeros(len(calls), dtype=bool)
    target = np.full(len(calls), np.nan)
    target[found] = cv[pos[found]]
    last_open = ct[-1] if len(ct) else np.iinfo(np.int64).min
    pending = ~found & (target_open > last_open)
    ref = calls["reference_close"].to_numpy(np.float64)
    band = calls["dead_band"].to_numpy(np.float64)
    outcome, ret, hit, up = grade_core(code, ref, band, target)

    out = calls.copy()
    out["target_time"] = pd.to_datetime(target_close_ms, unit="ms", utc=True).as_unit("ms")
    out["target_close"] = target
    out["status"] = np.where(found, "graded", np.where(pending, "pending", "missing"))
    out["gradable_at"] = out["target_time"].where(~found & pending)
    names = np.array(["down", "flat", "up"], dtype=object)[outcome + 1]
    out["outcome"] = pd.array(np.where(found, names, None), dtype="string")
    out["realized_return"] = np.where(found, ret, np.nan)
    out["hit"] = pd.array(np.where(found, hit, None), dtype="boolean")
    out["up"] = pd.array(np.where(found, up, None), dtype="boolean")
    return out


def summarize(graded: pd.DataFrame) -> dict[str, Any]:
    """Summary figures over the graded rows of :func:`grade`'s output.

    Parameters
    ----------
    graded : pandas.DataFrame
        Output of :func:`grade` (rows not graded are ignored).

    Returns
    -------
    dict
        ``n, hits, hit_rate, hit_rate_ci95 ([lo, hi]), base_rate_up, brier, brier_base,
        brier_skill, mean_signed_return, share_up, share_down, share_flat`` (see the
        module docstring), plus ``pending`` and ``missing`` counts.
    """
    if "status" not in graded.columns:
        raise CandleValidationError("summarize() takes the output of grade(); grade first.")
    g = graded[graded["status"] == "graded"]
    code = direction_codes(g["direction"])
    outcome = direction_codes(g["outcome"].astype(object))
    out = summarize_core(code, g["p_up"].to_numpy(np.float64), outcome,
                         g["realized_return"].to_numpy(np.float64),
                         g["hit"].to_numpy(bool), g["up"].to_numpy(bool))
    out["pending"] = int((graded["status"] == "pending").sum())
    out["missing"] = int((graded["status"] == "missing").sum())
    return out
