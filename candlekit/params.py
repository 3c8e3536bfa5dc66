"""Notebook parameters as they arrive from papermill, ``candlekit report`` or cron lines.

``papermill -p symbols "['BTC']"`` passes the *string* ``"['BTC']"`` (papermill's ``-p``
only reads numbers, booleans and ``None``); ``candlekit report -p symbols BTC,ETH`` passes
``"BTC,ETH"``. :func:`as_list` turns every such spelling into the list the notebook means,
and refuses what cannot be meant, so a notebook never asks for the coin ``"['BTC']"``.
:func:`require_selection` refuses a selection that names something not stored, so a
report asked about a coin never renders empty tables and exits 0.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .errors import FormatError, SeriesNotFoundError

__all__ = ["as_list", "require_selection"]


def as_list(value: Any, *, name: str, allow_none: bool = True) -> list[str] | None:
    """A list-of-strings parameter, from any of the spellings a command line can pass.

    Parameters
    ----------
    value : list, tuple, str or None
        A list or tuple of strings; a comma-separated string (``"BTC, ETH"``); one value
        (``"BTC"``); or a string that looks like a Python or JSON list (``"['BTC', 'ETH']"``,
        ``'["BTC"]'``, ``"[BTC, ETH]"``).
    name : str
        The parameter's name, for the error message.
    allow_none : bool, default True
        Whether ``None`` (meaning "every one") is accepted; it is returned as is.

    Returns
    -------
    list of str or None

    Raises
    ------
    FormatError
        For an empty value, an empty item, or anything that is not text.

    Examples
    --------
    >>> as_list("['BTC', 'ETH']", name="symbols")
    ['BTC', 'ETH']
    >>> as_list("BTC, xyz:NVDA", name="symbols")
    ['BTC', 'xyz:NVDA']
    >>> as_list(["1m", "1h"], name="intervals")
    ['1m', '1h']
    """
    if value is None:
        if allow_none:
            return None
        raise FormatError(f"Parameter {name} is required: give a list such as "
                          f"-p {name} BTC,ETH (or -y '{name}: [BTC, ETH]' with papermill).",
                          value)
    items: Sequence[Any]
    if isinstance(value, str):
        items = _parse_text(value, name)
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise FormatError(f"Parameter {name} must be a list of strings or a comma-separated "
                          f"string, not {type(value).__name__} {value!r}.", value)
    out = []
    for item in items:
        if not isinstance(item, str):
            raise FormatError(f"Parameter {name}: {item!r} is not a string; write it quoted "
                              f"or as text, e.g. -p {name} BTC,ETH.", value)
        text = item.strip()
        if not text:
            raise FormatError(f"Parameter {name} has an empty item in {value!r}; separate "
                              f"values by single commas, e.g. -p {name} BTC,ETH.", value)
        out.append(text)
    if not out:
        raise FormatError(f"Parameter {name} is empty ({value!r}); give at least one value"
                          + (" or None for every one" if allow_none else "") + ".", value)
    return out


def _parse_text(text: str, name: str) -> list[Any]:
    stripped = text.strip()
    if stripped[:1] in "[(" and stripped[-1:] in "])":
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(stripped)
            except (ValueError, SyntaxError, TypeError):
                continue
            if isinstance(parsed, (list, tuple)):
                return list(parsed)
        inner = stripped[1:-1]  # a YAML-ish [BTC, ETH]: unquoted names
        return [] if not inner.strip() else [
            part.strip().strip("'\"") for part in inner.split(",")]
    if not stripped:
        return []
    return [part.strip() for part in stripped.split(",")]


def require_selection(coverage: pd.DataFrame, *, root: Any = None,
                      symbols: Sequence[str] | None = None,
                      intervals: Sequence[str] | None = None,
                      sources: Sequence[str] | None = None,
                      stored: pd.DataFrame | None = None, **_: Any) -> pd.DataFrame:
    """Refuse a selection of symbols, intervals or sources naming something not stored.

    Without a selection (every one ``None``) ``coverage`` is returned as it is, even empty:
    a report on an empty store says so and how to fill it.

    Parameters
    ----------
    coverage : pandas.DataFrame
        The selected series (one row each, e.g. :func:`candlekit.coverage.coverage_table`).
    root : path, optional
        The store root, named in the error.
    symbols, intervals, sources : list of str, optional
        The selection asked for (``None``: every one). Other keywords (``window``) are
        accepted and ignored, so a notebook can pass its whole selection.
    stored : pandas.DataFrame, optional
        Every series in the store (:meth:`candlekit.Store.coverage`), to list what the
        store holds in the error.

    Returns
    -------
    pandas.DataFrame
        ``coverage`` itself.

    Raises
    ------
    SeriesNotFoundError
        When a selected symbol, interval or source is not among ``coverage``, or it is
        empty: the message says what was asked and what is stored.
    """
    asked = {"symbol": symbols, "interval": intervals, "source": sources}
    if all(v is None for v in asked.values()):
        return coverage  # everything stored, even nothing: the report says the store is empty
    missing = {col: [v for v in want if v not in set(coverage[col].astype(str))]
               for col, want in asked.items() if want is not None and len(coverage)}
    missing = {col: vals for col, vals in missing.items() if vals}
    if len(coverage) and not missing:
        return coverage
    where = f" in {root}" if root is not None else ""
    if stored is None or not len(stored):
        raise SeriesNotFoundError(
            f"No candles are stored{where}. Point the report at a store (-p data_dir DIR, "
            "--data DIR or $CANDLEKIT_DATA), or fill this one first (candlekit backfill, "
            "candlekit import, make demo).", root)
    have = {col: sorted(set(stored[col].astype(str))) for col in ("symbol", "interval", "source")}
    holds = (f"The store holds symbols {', '.join(have['symbol'])}; intervals "
             f"{', '.join(have['interval'])}; sources {', '.join(have['source'])}.")
    if missing:
        what = "; ".join(f"{col}s {', '.join(map(repr, vals))}" for col, vals in missing.items())
        raise SeriesNotFoundError(f"Nothing stored{where} for {what} of the selection. {holds}",
                                  missing)
    sel = ", ".join(f"{col}s={list(v)}" for col, v in asked.items() if v is not None)
    raise SeriesNotFoundError(f"Nothing stored{where} matches {sel or 'the selection'}. {holds}",
                              sel)
