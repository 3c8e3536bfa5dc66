"""Recorded analyses of stored series: run, list, show, delete, and grade their calls.

:func:`run_analysis` reads a bounded lookback of one stored series (resampled from a finer
stored interval when the interval itself is not stored), cross-checks it against the next
finer stored interval, runs :func:`candlekit.analyze` on it, and records the result in the
store's analysis registry (:mod:`candlekit.analysis.registry`). :func:`grade_analyses`
grades every recorded call whose horizon has closed in the store.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..coverage import open_store
from ..errors import FormatError, SeriesNotFoundError
from ..intervals import floor_time, next_bucket, parse_interval, tiles
from ..provenance import SYNTHETIC_BANNER, is_synthetic
from ..resample import resample
from ..store import Store
from ..timeutil import TimeLike, to_ms, to_timestamp
from .model import Analysis
from .registry import AnalysisRegistry

__all__ = ["DEFAULT_LOOKBACK", "AnalysisGrades", "SeriesPlan", "analyses", "delete_analysis",
           "get_analysis",
           "grade_analyses", "load_candles", "plan_series", "run_analysis", "wait_analysis"]

#: Closed candles up to ``as_of`` a recorded analysis uses when ``lookback`` is not given
#: (the indicators, levels and the series' track record are computed over exactly these).
DEFAULT_LOOKBACK = 2000
DEFAULT_READ_BARS = DEFAULT_LOOKBACK


@dataclass(frozen=True)
class SeriesPlan:
    """Where the candles of ``symbol interval`` come from in a store.

    Attributes
    ----------
    symbol, interval : str
    source : str
        The store source label.
    base : str
        The stored interval read: ``interval`` itself, or a finer one it is resampled from.
    alignment : str
        The stored series' alignment.
    finer : str or None
        The next finer stored interval that tiles ``interval`` (for the cross-check), when
        ``interval`` itself is stored.
    latest, earliest : pandas.Timestamp
        The latest and earliest stored open times of ``base``.
    """

    symbol: str
    interval: str
    source: str
    base: str
    alignment: str
    finer: str | None
    latest: pd.Timestamp
    earliest: pd.Timestamp

    @property
    def resampled(self) -> bool:
        """Whether the candles are resampled from a finer stored interval."""
        return self.base != self.interval


def _store(store: Store | str | Any | None) -> Store:
    return open_store(store)


def plan_series(store: Store | str | None, symbol: str, interval: str, *,
                source: str | None = None) -> SeriesPlan:
    """Which stored series an analysis of ``symbol interval`` reads.

    Raises
    ------
    SeriesNotFoundError
        When neither the interval nor a finer stored interval that tiles it is stored.
    StoreError
        When several sources hold the series and ``source`` is not given.
    """
    st = _store(store)
    iv = parse_interval(interval)
    cov = st.coverage(symbol=symbol, source=source)
    if not len(cov):
        st.read(symbol, iv.name, source=source)  # raises the store's SeriesNotFoundError
        raise SeriesNotFoundError(f"No {symbol} {iv.name} candles in the store at {st.root}.",
                                  (source, symbol, iv.name))
    direct = cov[cov["interval"] == iv.name]
    if len(direct):
        if len(direct) > 1:
            st.read(symbol, iv.name, source=source)  # raises the several-sources StoreError
        row = direct.iloc[0]
        finer = _finest_tiling(cov[cov["source"] == row["source"]], iv.name, row["alignment"])
        return SeriesPlan(symbol, iv.name, row["source"], iv.name, row["alignment"] or
                          "calendar", finer, row["latest"], row["earliest"])
    sources = sorted(cov["source"].unique())
    for src in sources:
        rows = cov[cov["source"] == src]
        for al in dict.fromkeys([*rows["alignment"].dropna(), "calendar"]):
            base = _finest_tiling(rows[rows["alignment"].fillna("calendar") == al], iv.name, al)
            if base is not None:
                if len(sources) > 1 and source is None:
                    st.read(symbol, base, source=None)  # several sources: the store's error
                row = rows[rows["interval"] == base].iloc[0]
                return SeriesPlan(symbol, iv.name, src, base, al, None, row["latest"],
                                  row["earliest"])
    held = ", ".join(f"{r.interval} ({r.source})" for r in cov.itertuples())
    raise SeriesNotFoundError(
        f"No {symbol} {iv.name} candles in the store at {st.root}, and no stored finer "
        f"interval tiles {iv.name} (the store has {symbol}: {held}). Backfill {symbol} "
        f"{iv.name} or a finer interval that tiles it (e.g. 1h for 4h, 1d for 1w).",
        (source, symbol, iv.name))


def _finest_tiling(rows: pd.DataFrame, interval: str, alignment: str | None) -> str | None:
    """The coarsest stored interval finer than ``interval`` whose candles tile it."""
    target = parse_interval(interval).nominal_ms
    al = alignment or "calendar"
    usable = [r["interval"] for _, r in rows.iterrows()
              if r["interval"] != interval and parse_interval(r["interval"]).nominal_ms < target
              and tiles(r["interval"], interval, fine_alignment=r["alignment"] or "calendar",
                        coarse_alignment=al)]
    return max(usable, key=lambda f: parse_interval(f).nominal_ms, default=None)


def _window(plan: SeriesPlan, *, as_of: TimeLike | None, bars: int,
            after_bars: int = 0) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of open times to read: ``bars`` candles up to ``as_of`` (or the
    latest stored), plus ``after_bars`` after it."""
    iv = parse_interval(plan.interval)
    step = pd.Timedelta(milliseconds=iv.nominal_ms)
    if as_of is not None:  # up to the candle open at as_of (analyze reports it left out)
        end = to_timestamp(as_of) + pd.Timedelta(milliseconds=1)
    else:
        base_step = pd.Timedelta(milliseconds=parse_interval(plan.base).nominal_ms)
        end = plan.latest + base_step
    end = next_bucket(end - pd.Timedelta(milliseconds=1), iv.name, alignment=plan.alignment)
    start = floor_time(end - step * (bars + 2), iv.name, alignment=plan.alignment)
    return start, end + step * after_bars


def load_candles(symbol: str, interval: str, *, store: Store | str | None = None,
                 source: str | None = None, as_of: TimeLike | None = None,
                 bars: int = DEFAULT_READ_BARS, after_bars: int = 0,
                 plan: SeriesPlan | None = None) -> pd.DataFrame:
    """The candles an analysis of ``symbol interval`` at ``as_of`` reads from the store.

    Parameters
    ----------
    symbol, interval : str
    store : Store or path, optional
    source : str, optional
        Needed only when several sources hold the series.
    as_of : time, optional
        Read candles with open time up to ``as_of`` (default: up to the latest stored).
    bars : int, default 2000
        How many closed candles up to ``as_of`` to read (the window widens over gaps
        until it holds that many, or reaches the first stored candle).
    after_bars : int, default 0
        Candles after ``as_of`` too (grading reads the horizon).
    plan : SeriesPlan, optional
        From :func:`plan_series` (computed when omitted).

    Returns
    -------
    pandas.DataFrame
        A canonical frame. When the interval is resampled from a finer stored one,
        ``attrs["resampled_from"]`` names it; incomplete buckets inside the range are left
        out (a gap, as in the finer data), and a last bucket still forming is kept with
        ``closed=False``.
    """
    st = _store(store)
    plan = plan or plan_series(st, symbol, interval, source=source)
    if isinstance(bars, bool) or not isinstance(bars, (int, np.integer)) or bars < 1:
        raise FormatError(f"bars/lookback must be a positive integer, got {bars!r}.", bars)
    want, span = int(bars), int(bars)
    for _ in range(_MAX_WIDENINGS):
        start, end = _window(plan, as_of=as_of, bars=span, after_bars=after_bars)
        out = _read(st, plan, start, end)
        limit = _window(plan, as_of=as_of, bars=1)[1]
        have = int((out["closed"].to_numpy(bool) & (out.index < limit)).sum())
        # gaps leave fewer candles than asked for: widen while the store has older ones
        if have > want or start <= plan.earliest:
            break
        span = 2 * span + (want - have)
    return out


#: How often :func:`load_candles` widens its window over gaps before giving up.
_MAX_WIDENINGS = 12


def _read(st: Store, plan: SeriesPlan, start: pd.Timestamp, end: pd.Timestamp
          ) -> pd.DataFrame:
    if not plan.resampled:
        return st.read(plan.symbol, plan.interval, start, end, source=plan.source)
    fine = st.read(plan.symbol, plan.base, start, end, source=plan.source)
    out = resample(fine, plan.interval, alignment=plan.alignment)
    if len(out):
        complete = (out["constituents"] == out["expected_constituents"]).to_numpy()
        last_open = np.zeros(len(out), dtype=bool)
        last_open[-1] = not complete[-1]  # the bucket still forming
        attrs = dict(out.attrs)
        out = out[complete | last_open]
        out.attrs = attrs
    out = out.drop(columns=["constituents", "expected_constituents"], errors="ignore")
    out.attrs["resampled_from"] = plan.base
    return out


def _registry(store: Store | str | None) -> AnalysisRegistry:
    return AnalysisRegistry(_store(store))


def _analyze_from_store(st: Store, plan: SeriesPlan, *, as_of: TimeLike | None,
                        prompt: str | None, llm: Any, horizon: int | None,
                        lookback: int | None) -> Analysis:
    from .engine import analyze

    lookback = DEFAULT_LOOKBACK if lookback is None else int(lookback)
    df = load_candles(plan.symbol, plan.interval, store=st, source=plan.source, as_of=as_of,
                      bars=lookback, plan=plan)
    if not len(df):
        raise SeriesNotFoundError(
            f"No {plan.symbol} {plan.interval} candles in the store at {st.root} up to "
            f"{as_of}: the stored series starts later. Pick a later --as-of, or backfill "
            "the earlier history.", (plan.source, plan.symbol, plan.interval))
    check = None
    if plan.finer is not None:
        from .crosscheck import crosscheck as run_crosscheck
        from .engine import select_candles

        # over exactly the candles the analysis uses: [first used open, last used close]
        pos, _, _ = select_candles(df, as_of=as_of, lookback=lookback)
        first, last = df.index[pos[0]], df.index[pos[-1]]
        check = run_crosscheck(st, plan.symbol, plan.finer, plan.interval, start=first,
                               end=next_bucket(last, plan.interval, alignment=plan.alignment),
                               source=plan.source)
    analysis = analyze(df, as_of=as_of, horizon=horizon, prompt=prompt, llm=llm,
                       lookback=lookback, crosscheck=check)
    analysis.source = plan.source
    analysis.synthetic = bool(analysis.synthetic or is_synthetic(plan.source))
    return analysis


def run_analysis(symbol: str, interval: str, *, store: Store | str | None = None,
                 source: str | None = None, as_of: TimeLike | None = None,
                 prompt: str | None = None, llm: Any = None, horizon: int | None = None,
                 lookback: int | None = None, background: bool = False) -> Analysis:
    """Analyse a stored series at ``as_of`` and record the analysis in the store.

    Parameters
    ----------
    symbol, interval : str
        The series (``"BTC"``, ``"4h"``). An interval that is not stored is resampled
        from the coarsest finer stored interval that tiles it (the analysis says so).
    store : Store or path, optional
        Default ``$CANDLEKIT_DATA`` or ``./data``.
    source : str, optional
        The store source label, needed only when several hold the series.
    as_of : time, optional
        Use only candles closed at or before this time (default: the last closed candle).
    prompt : str, optional
        Which sections to write, and in which order ("levels and divergence").
    llm : LLM, str or mapping, optional
        A language model to narrate the facts (:class:`candlekit.analysis.llm.LLM`);
        its responses are cached in the store's registry.
    horizon : int, optional
        Bars ahead the call is for (the engine's default when omitted).
    lookback : int, optional
        Closed candles up to ``as_of`` the analysis uses (default
        :data:`DEFAULT_LOOKBACK`, 2000): the result equals
        ``candlekit.analyze(candles, as_of=as_of, lookback=lookback)`` on the whole series.
    background : bool, default False
        Record the analysis as ``running``, return at once and finish in a worker thread;
        :func:`get_analysis` shows it ``completed`` or ``failed`` (with the error) later.

    Returns
    -------
    Analysis
        Recorded (``id`` like ``an-1a2b3c4d``, ``created_at``): completed, or running when
        ``background``.

    Raises
    ------
    SeriesNotFoundError
        For a symbol/interval the store cannot give (raised before anything is recorded).
    MissingDependencyError
        For ``llm`` without the ``openai`` package (extra ``llm``).
    LLMConfigError
        For ``llm`` on OpenAI's endpoint without ``$OPENAI_API_KEY`` (or its
        ``api_key_env``).
    CandlekitError
        Whatever failed the analysis (recorded as ``failed`` first; the exception's
        ``analysis_id`` names the record).
    """
    from .llm import LLM, require_openai

    st = _store(store)
    plan = plan_series(st, symbol, interval, source=source)
    if as_of is not None:
        to_ms(as_of)  # a bad time fails here, not in the worker
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(
            horizon, (int, np.integer)) or horizon < 1):
        raise FormatError(f"horizon must be a positive number of bars, got {horizon!r}.",
                          horizon)
    if lookback is not None and (isinstance(lookback, bool) or not isinstance(
            lookback, (int, np.integer)) or lookback < 1):
        raise FormatError(f"lookback must be a positive number of bars, got {lookback!r}.",
                          lookback)
    registry = AnalysisRegistry(st)
    model = LLM.coerce(llm)
    if model is not None:
        require_openai()
        model.api_key()  # no key for OpenAI's endpoint: say so before recording anything
        if model.cache is None:
            model = model.with_cache(registry.cache())
    request = {"symbol": symbol, "interval": plan.interval, "source": plan.source,
               "as_of": None if as_of is None else str(to_timestamp(as_of)),
               "prompt": prompt, "horizon": horizon,
               "lookback": DEFAULT_LOOKBACK if lookback is None else int(lookback),
               "llm": None if model is None else model.settings(),
               "base_interval": plan.base}
    running = registry.create(symbol, plan.interval, source=plan.source, prompt=prompt,
                              model=None if model is None else model.model, request=request,
                              synthetic=is_synthetic(plan.source))

    def work() -> Analysis:
        try:
            analysis = _analyze_from_store(st, plan, as_of=as_of, prompt=prompt, llm=model,
                                           horizon=horizon, lookback=lookback)
        except BaseException as exc:
            registry.fail(running.id, f"{type(exc).__name__}: {exc}")
            try:
                exc.analysis_id = running.id  # type: ignore[attr-defined]  # the record
            except AttributeError:
                pass
            raise
        analysis.id = running.id
        analysis.created_at = running.created_at
        analysis.prompt = prompt
        return registry.complete(analysis)

    if not background:
        return work()

    def target() -> None:
        try:
            work()
        except BaseException:  # noqa: BLE001, S110 - work() recorded it as failed
            pass

    thread = threading.Thread(target=target, daemon=True, name=f"candlekit-{running.id}")
    thread.start()
    _THREADS[running.id] = thread
    return running


_THREADS: dict[str, threading.Thread] = {}


def wait_analysis(analysis_id: str, *, store: Store | str | None = None,
                  timeout: float | None = None) -> Analysis:
    """Wait for a background analysis started in this process, then return its record."""
    thread = _THREADS.get(analysis_id)
    if thread is not None:
        thread.join(timeout)
        if not thread.is_alive():
            _THREADS.pop(analysis_id, None)
    return get_analysis(analysis_id, store=store)


def analyses(store: Store | str | None = None) -> pd.DataFrame:
    """The recorded analyses, newest first.

    Returns
    -------
    pandas.DataFrame
        ``id, symbol, interval, status, created_at, as_of, prompt, model, direction,
        p_up, horizon, reference_close, source, synthetic, llm_accepted, error,
        updated_at``; empty (with those columns) when nothing is recorded.
    """
    return _registry(store).list()


def get_analysis(analysis_id: str, store: Store | str | None = None) -> Analysis:
    """One recorded analysis (``.to_dict()`` gives the seed's detail shape plus the rest).

    Raises
    ------
    AnalysisNotFoundError
        For an unknown id (a ``LookupError``).
    """
    return _registry(store).get(analysis_id)


def delete_analysis(analysis_id: str, store: Store | str | None = None) -> None:
    """Delete one recorded analysis (never candles).

    Raises
    ------
    AnalysisNotFoundError
        For an unknown id.
    """
    _registry(store).delete(analysis_id)


# --- grading --------------------------------------------------------------------------------


@dataclass
class AnalysisGrades:
    """Recorded calls graded against the store.

    Attributes
    ----------
    calls : pandas.DataFrame
        One row per recorded call (completed analyses), newest first: ``id, symbol,
        interval, source, created_at, as_of, direction, p_up, horizon, reference_close,
        dead_band, target_time, target_close, status`` (``graded``; ``pending`` until the
        target candle has closed in the store; ``missing`` when it is a gap), ``gradable_at``
        (for pending calls: the close time after which they can be graded), ``outcome,
        realized_return, hit, up``, ``duplicate_of`` (an earlier analysis that made the same
        call: same series, as_of and horizon; counted once) and ``note``.
    summary : dict
        Over graded, non-duplicate calls: ``n, hits, hit_rate, hit_rate_ci95, base_rate_up,
        brier, brier_base, brier_skill, mean_signed_return, share_up, share_down,
        share_flat, pending, missing, duplicates, synthetic``.
    """

    calls: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Whether any graded call is on synthetic data."""
        return bool(self.summary.get("synthetic"))

    def by_series(self) -> pd.DataFrame:
        """The summary per series (symbol, interval, source), over counted calls.

        Returns
        -------
        pandas.DataFrame
            One row per series: ``symbol, interval, source, n, hits, hit_rate, hit_rate_lo,
            hit_rate_hi, base_rate_up, brier, brier_skill, mean_signed_return, pending,
            missing``.
        """
        from .scoring import summarize

        columns = ["symbol", "interval", "source", "n", "hits", "hit_rate", "hit_rate_lo",
                   "hit_rate_hi", "base_rate_up", "brier", "brier_skill",
                   "mean_signed_return", "pending", "missing"]
        counted = self.calls[self.calls["duplicate_of"].isna()] if len(self.calls) else \
            self.calls
        rows = []
        for (symbol, interval, source), g in counted.groupby(
                ["symbol", "interval", "source"], dropna=False, sort=True):
            s = summarize(g)
            ci = s["hit_rate_ci95"] or [None, None]
            rows.append({"symbol": symbol, "interval": interval, "source": source,
                         "n": s["n"], "hits": s["hits"], "hit_rate": s["hit_rate"],
                         "hit_rate_lo": ci[0], "hit_rate_hi": ci[1],
                         "base_rate_up": s["base_rate_up"], "brier": s["brier"],
                         "brier_skill": s["brier_skill"],
                         "mean_signed_return": s["mean_signed_return"],
                         "pending": s["pending"], "missing": s["missing"]})
        return pd.DataFrame(rows, columns=columns)

    def _repr_html_(self) -> str:
        banner = ""
        if self.synthetic:
            from ..provenance import banner_html

            banner = banner_html(self.calls["source"])
        s = self.summary
        head = (f"<p><b>{s.get('n', 0)} graded call(s)</b>, {s.get('pending', 0)} pending, "
                f"{s.get('missing', 0)} missing</p>")
        return banner + head + self.calls.to_html(index=False, na_rep="")

    def __repr__(self) -> str:
        s = self.summary
        text = (f"AnalysisGrades(n={s.get('n')}, hit_rate={s.get('hit_rate')}, "
                f"pending={s.get('pending')}, missing={s.get('missing')})")
        return (SYNTHETIC_BANNER + "\n" + text) if self.synthetic else text


_GRADE_COLUMNS = ("id", "symbol", "interval", "source", "created_at", "as_of", "direction",
                  "p_up", "horizon", "reference_close", "dead_band", "target_time",
                  "target_close", "status", "gradable_at", "outcome", "realized_return", "hit",
                  "up", "duplicate_of", "note")


def _note(row: Any) -> str:
    if row["status"] == "graded":
        return ""
    when = row["target_time"]
    when_text = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if pd.notna(when) else "?"
    if row["status"] == "pending":
        return (f"can be graded once the {row['interval']} candle closing at {when_text} is "
                "stored and closed")
    return (f"the target {row['interval']} candle closing at {when_text} is missing from the "
            "store (a gap): backfill it to grade this call")


def grade_analyses(store: Store | str | None = None) -> AnalysisGrades:
    """Grade every recorded call whose horizon has closed in the store.

    Each completed analysis' call (direction, ``p_up``, horizon, reference close, dead
    band) is graded by :func:`candlekit.analysis.scoring.grade` against the store's closed
    candles of the same series (resampled the same way when the analysis was): the target
    candle is the one ``horizon`` buckets after the reference candle.

    Returns
    -------
    AnalysisGrades
        ``.calls`` (one row per call, with outcome, realised return and hit, or when the
        call can be graded) and ``.summary`` (see :class:`AnalysisGrades`).
    """
    from .scoring import grade, summarize

    st = _store(store)
    recorded = [a for a in AnalysisRegistry(st).all()
                if a.status == "completed" and a.call is not None]
    frames = []
    for (symbol, interval, source), group in _by_series(recorded).items():
        calls = pd.DataFrame({
            "id": [a.id for a in group], "symbol": symbol, "interval": interval,
            "source": source, "created_at": [a.created_at for a in group],
            "as_of": [a.call.as_of for a in group],
            "direction": [a.call.direction for a in group],
            "p_up": [float(a.call.p_up) for a in group],
            "horizon": [int(a.call.horizon) for a in group],
            "reference_close": [float(a.call.reference_close) for a in group],
            "dead_band": [float(a.call.dead_band) for a in group]})
        closes = _closes_after(st, symbol, interval, source, calls)
        frames.append(grade(calls, closes, interval=interval,
                            alignment=closes.attrs.get("alignment")))
    if frames:
        out = pd.concat(frames, ignore_index=True)
        out = out.sort_values(["created_at", "id"], ascending=False, kind="stable")
        out = out.reset_index(drop=True)
    else:
        out = pd.DataFrame(columns=[c for c in _GRADE_COLUMNS
                                    if c not in ("duplicate_of", "note")])
    key = out[["symbol", "interval", "source", "as_of", "horizon"]].astype(str).agg("|".join,
                                                                                 axis=1)
    # the oldest analysis of a call is its original; later identical calls are duplicates
    order = out.index[::-1]
    first_id: dict[str, str] = {}
    dup = pd.Series([None] * len(out), index=out.index, dtype=object)
    for i in order:
        k = key[i]
        if k in first_id:
            dup[i] = first_id[k]
        else:
            first_id[k] = out.at[i, "id"]
    out["duplicate_of"] = dup
    out["note"] = [_note(r) if len(out) else "" for _, r in out.iterrows()]
    out.loc[out["duplicate_of"].notna() & (out["note"] == ""), "note"] = (
        "the same call as " + out["duplicate_of"].astype(str) + " (counted once)")
    out = out[[c for c in _GRADE_COLUMNS if c in out.columns]]
    counted = out[out["duplicate_of"].isna()]
    if len(counted):
        summary = summarize(counted)
    else:
        summary = summarize(pd.DataFrame({"status": pd.Series(dtype=str),
                                          "direction": pd.Series(dtype=str),
                                          "outcome": pd.Series(dtype="string"),
                                          "p_up": pd.Series(dtype=float),
                                          "realized_return": pd.Series(dtype=float),
                                          "hit": pd.Series(dtype="boolean"),
                                          "up": pd.Series(dtype="boolean")}))
    summary["duplicates"] = int(out["duplicate_of"].notna().sum())
    summary["synthetic"] = bool(len(out) and is_synthetic(list(out["source"].dropna())))
    return AnalysisGrades(calls=out, summary=summary)


def _by_series(recorded: list[Analysis]) -> Mapping[tuple[str, str, str | None], list[Analysis]]:
    groups: dict[tuple[str, str, str | None], list[Analysis]] = {}
    for a in recorded:
        groups.setdefault((a.symbol, a.interval, a.source), []).append(a)
    return groups


def _closes_after(st: Store, symbol: str, interval: str, source: str | None,
                  calls: pd.DataFrame) -> pd.Series:
    """Closed candles' closes from the earliest call's as_of to its latest target."""
    try:
        plan = plan_series(st, symbol, interval, source=source)
    except SeriesNotFoundError:
        s = pd.Series([], dtype=np.float64, index=pd.DatetimeIndex([], tz="UTC", name="time"))
        s.attrs = {"interval": interval, "alignment": "calendar"}
        return s
    as_of = pd.to_datetime(calls["as_of"], utc=True, format="ISO8601")
    step = pd.Timedelta(milliseconds=parse_interval(interval).nominal_ms)
    first, last = as_of.min(), as_of.max()
    span = int(np.ceil((last - first) / step)) + int(calls["horizon"].max()) + 4
    df = load_candles(symbol, interval, store=st, source=plan.source,
                      as_of=last, bars=int(np.ceil((last - first) / step)) + 2,
                      after_bars=span, plan=plan)
    closes = df.loc[df["closed"], "close"]
    closes.attrs = {"interval": interval, "alignment": df.attrs.get("alignment", "calendar")}
    return closes
