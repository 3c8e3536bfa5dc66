"""Coin listings: Hyperliquid's ``meta``, ``perpDexs`` and ``spotMeta`` answers as one table.

Three kinds of coins share the ``candleSnapshot`` endpoint:

``perp``
    Perpetuals of the main dex, by name (``"BTC"``), from ``{"type": "meta"}``.
``hip3``
    Perpetuals of builder-deployed (HIP-3) dexes, named ``"dex:COIN"`` (``"xyz:NVDA"``);
    the dexes come from ``{"type": "perpDexs"}`` (the first entry, ``null``, is the main
    dex) and each dex's coins from ``{"type": "meta", "dex": name}``.
``spot``
    Spot pairs from ``{"type": "spotMeta"}``: ``"PURR/USDC"`` for the first pair and
    ``"@N"`` (the pair's index) for the others; the human name (``"HYPE/USDC"``) is built
    from the pair's base and quote tokens.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..errors import FormatError

__all__ = ["LISTING_COLUMNS", "build_listing", "check_answer", "dex_names", "suggest",
           "unknown_symbol_message"]

LISTING_COLUMNS = ("symbol", "kind", "dex", "name")


def _universe(meta: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(meta, Mapping) or not isinstance(meta.get("universe"), list):
        raise FormatError(f"{what} answer is not an object with a 'universe' list: "
                          f"{str(meta)[:200]}", meta)
    for i, entry in enumerate(meta["universe"]):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise FormatError(f"{what} universe entry {i} has no 'name': {str(entry)[:200]}",
                              entry)
    return meta["universe"]


def dex_names(perp_dexs: Any) -> list[str]:
    """Names of the HIP-3 dexes in a ``perpDexs`` answer (the main dex, ``null``, skipped).

    >>> dex_names([None, {"name": "xyz", "fullName": "XYZ"}])
    ['xyz']
    """
    if not isinstance(perp_dexs, list):
        raise FormatError(f"perpDexs answer is not a list: {str(perp_dexs)[:200]}", perp_dexs)
    names = []
    for i, dex in enumerate(perp_dexs):
        if dex is None:
            continue
        if not isinstance(dex, Mapping) or not isinstance(dex.get("name"), str):
            raise FormatError(f"perpDexs entry {i} has no 'name': {str(dex)[:200]}", dex)
        if dex["name"]:
            names.append(dex["name"])
    return names


def _spot_rows(spot_meta: Any) -> list[tuple[str, str, str, str]]:
    universe = _universe(spot_meta, "spotMeta")
    tokens = spot_meta.get("tokens")
    if not isinstance(tokens, list):
        raise FormatError(f"spotMeta answer has no 'tokens' list: {str(spot_meta)[:200]}",
                          spot_meta)
    by_index: dict[int, str] = {}
    for pos, tok in enumerate(tokens):
        if isinstance(tok, Mapping) and isinstance(tok.get("name"), str):
            index = tok.get("index", pos)
            by_index[index if isinstance(index, int) else pos] = tok["name"]
    rows = []
    for pair in universe:
        pair_tokens = pair.get("tokens")
        name = pair["name"]
        if (isinstance(pair_tokens, list) and len(pair_tokens) == 2
                and all(t in by_index for t in pair_tokens)):
            name = f"{by_index[pair_tokens[0]]}/{by_index[pair_tokens[1]]}"
        rows.append((pair["name"], "spot", "", name))
    return rows


def check_answer(info_type: str, body: Any) -> Any:
    """Return ``body`` if it has the shape of a ``meta``, ``perpDexs`` or ``spotMeta`` answer.

    Raises
    ------
    FormatError
        When it does not.
    """
    if info_type == "perpDexs":
        dex_names(body)
    elif info_type == "spotMeta":
        _spot_rows(body)
    else:
        _universe(body, info_type)
    return body


def build_listing(meta: Any, dex_metas: Mapping[str, Any], spot_meta: Any) -> pd.DataFrame:
    """One table of every coin, from the three listing answers.

    Parameters
    ----------
    meta : dict
        ``{"type": "meta"}`` answer (main dex perpetuals).
    dex_metas : dict of str to dict
        ``{"type": "meta", "dex": name}`` answer of each HIP-3 dex.
    spot_meta : dict
        ``{"type": "spotMeta"}`` answer.

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol`` (the coin to pass to ``candleSnapshot``), ``kind`` (``perp``,
        ``hip3`` or ``spot``), ``dex`` (HIP-3 dex name, else ``""``) and ``name`` (the
        coin, the HIP-3 coin without its dex prefix, or the spot pair as ``BASE/QUOTE``).

    Raises
    ------
    FormatError
        When an answer does not have the documented shape.

    Examples
    --------
    >>> build_listing({"universe": [{"name": "BTC"}]},
    ...               {"xyz": {"universe": [{"name": "xyz:NVDA"}]}},
    ...               {"universe": [{"name": "@107", "tokens": [150, 0], "index": 107}],
    ...                "tokens": [{"name": "USDC", "index": 0},
    ...                           {"name": "HYPE", "index": 150}]}).to_dict("records")
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'symbol': 'BTC', 'kind': 'perp', 'dex': '', 'name': 'BTC'},
     {'symbol': 'xyz:NVDA', 'kind': 'hip3', 'dex': 'xyz', 'name': 'NVDA'},
     {'symbol': '@107', 'kind': 'spot', 'dex': '', 'name': 'HYPE/USDC'}]
    """
    rows = [(e["name"], "perp", "", e["name"]) for e in _universe(meta, "meta")]
    for dex, dex_meta in dex_metas.items():
        for e in _universe(dex_meta, f"meta of dex {dex!r}"):
            coin = e["name"]
            bare = coin.split(":", 1)[1] if coin.startswith(f"{dex}:") else coin
            rows.append((f"{dex}:{bare}", "hip3", dex, bare))
    rows += _spot_rows(spot_meta)
    df = pd.DataFrame(rows, columns=list(LISTING_COLUMNS), dtype=object)
    return df.drop_duplicates("symbol", keep="first").reset_index(drop=True)


def suggest(symbol: str, listing: pd.DataFrame | None, *, n: int = 3) -> list[str]:
    """Listed coins that ``symbol`` may have meant: case variants, pair names, near spellings.

    >>> listing = pd.DataFrame({"symbol": ["BTC", "ETH", "@107"], "kind": "perp",
    ...                         "dex": "", "name": ["BTC", "ETH", "HYPE/USDC"]})
    >>> suggest("BTCC", listing), suggest("hype/usdc", listing)
    (['BTC'], ['@107'])
    """
    if listing is None or not len(listing):
        return []
    symbols: Sequence[str] = listing["symbol"].tolist()
    names: Sequence[str] = listing["name"].tolist()
    folded = symbol.strip().casefold()
    out = [s for s in symbols if s.casefold() == folded]
    out += [s for s, nm in zip(symbols, names) if nm.casefold() == folded and s not in out]
    out += [s for s in difflib.get_close_matches(symbol.strip(), symbols, n=n, cutoff=0.6)
            if s not in out]
    return out[:n]


def unknown_symbol_message(symbol: str, label: str, listing: pd.DataFrame | None, *,
                           upstream: str | None = None) -> str:
    """The message of an unknown coin, with suggestions from the listing.

    >>> listing = pd.DataFrame({"symbol": ["BTC", "ETH"], "kind": "perp", "dex": "",
    ...                         "name": ["BTC", "ETH"]})
    >>> unknown_symbol_message("BTCC", "hyperliquid", listing)
    "Unknown coin 'BTCC' on hyperliquid; `candlekit symbols --upstream SOURCE` lists coins; did you mean 'BTC'?"
    """
    text = f"Unknown coin {symbol!r} on {label}; `candlekit symbols --upstream SOURCE` lists coins"
    hints = suggest(symbol, listing)
    if hints:
        text += "; did you mean " + " or ".join(repr(h) for h in hints) + "?"
    else:
        text += " (HIP-3 coins are 'dex:COIN', spot pairs 'PURR/USDC' or '@N')."
    if upstream:
        text = f"{upstream} ({label} said). {text}"
    return text
