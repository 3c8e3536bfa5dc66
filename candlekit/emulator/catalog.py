"""The coins the emulator lists, when each was listed, and the metadata endpoints.

Perps ``BTC ETH SOL HYPE ARB`` (``meta``), the HIP-3 dex ``xyz`` with ``xyz:NVDA`` and
``xyz:TSLA`` (``perpDexs``, ``meta`` with ``"dex": "xyz"``), spot ``PURR/USDC`` and
``@107`` (HYPE/USDC; ``spotMeta``). The payloads have the shapes of Hyperliquid's, enough
for the official SDK's ``Info`` to build its coin and asset maps. Size decimals come
from the synthetic market's lot sizes, so volumes always fit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..synthetic import coin_profile
from ..timeutil import to_ms

__all__ = ["COINS", "Coin", "by_name", "meta", "perp_dexs", "spot_meta"]


@dataclass(frozen=True)
class Coin:
    """One listed coin.

    Attributes
    ----------
    name : str
        The name candleSnapshot takes (``"BTC"``, ``"xyz:NVDA"``, ``"@107"``).
    kind : {"perp", "hip3", "spot"}
    dex : str
        The perp dex (``""`` for the main dex and for spot).
    listed_ms : int
        Listing time: no candle opens before it.
    """

    name: str
    kind: str
    dex: str
    listed_ms: int

    @property
    def size_decimals(self) -> int:
        """Decimals of the coin's lot size (``szDecimals``)."""
        return coin_profile(self.name).size_decimals


COINS: tuple[Coin, ...] = (
    Coin("BTC", "perp", "", to_ms("2023-01-01")),
    Coin("ETH", "perp", "", to_ms("2023-01-01")),
    Coin("SOL", "perp", "", to_ms("2023-06-01")),
    Coin("HYPE", "perp", "", to_ms("2024-11-29")),
    Coin("ARB", "perp", "", to_ms("2023-03-23")),
    Coin("xyz:NVDA", "hip3", "xyz", to_ms("2025-10-01")),
    Coin("xyz:TSLA", "hip3", "xyz", to_ms("2025-10-01")),
    Coin("PURR/USDC", "spot", "", to_ms("2024-01-01")),
    Coin("@107", "spot", "", to_ms("2024-01-01")),
)
_BY_NAME = {c.name: c for c in COINS}
_LEVERAGE = {"BTC": 40, "ETH": 25, "SOL": 20, "HYPE": 10, "ARB": 10}
_DEXES = {"": "perp", "xyz": "hip3"}

# spot tokens: (index, name, szDecimals, weiDecimals); pairs: (index, name, tokens, canonical)
_TOKENS = ((0, "USDC", 8, 8), (1, "PURR", None, 5), (150, "HYPE", None, 8))
_PAIRS = ((0, "PURR/USDC", (1, 0), True), (107, "@107", (150, 0), False))


def by_name(name: str) -> Coin | None:
    """The :class:`Coin` called ``name``, or ``None``."""
    return _BY_NAME.get(name)


def _margin_table(table_id: int, leverage: int) -> list:
    return [table_id, {"description": "", "marginTiers": [
        {"lowerBound": "0.0", "maxLeverage": leverage}]}]


def meta(dex: str = "") -> dict[str, Any] | None:
    """The ``meta`` payload of a perp dex (``""`` = the main dex), ``None`` if unknown.

    Parameters
    ----------
    dex : str, default ""

    Returns
    -------
    dict or None
        ``{"universe": [{"name", "szDecimals", "maxLeverage", "marginTableId", ...}],
        "marginTables": [...], "collateralToken": 0}``.
    """
    kind = _DEXES.get(dex)
    if kind is None:
        return None
    universe = []
    for c in COINS:
        if c.kind != kind or c.dex != dex:
            continue
        lev = _LEVERAGE.get(c.name, 10)
        entry: dict[str, Any] = {"szDecimals": c.size_decimals, "name": c.name,
                                 "maxLeverage": lev, "marginTableId": lev}
        if kind == "hip3":
            entry["onlyIsolated"] = True
        universe.append(entry)
    levels = sorted({u["maxLeverage"] for u in universe})
    return {"universe": universe, "marginTables": [_margin_table(v, v) for v in levels],
            "collateralToken": 0}


def perp_dexs() -> list[Any]:
    """The ``perpDexs`` payload: ``null`` for the main dex, then one entry per HIP-3 dex."""
    return [None, {"name": "xyz", "fullName": "XYZ (candlekit emulator)",
                   "deployer": "0x" + "0" * 39 + "1", "oracleUpdater": None,
                   "feeRecipient": None,
                   "assetToStreamingOiCap": [[c.name, "1000000.0"] for c in COINS
                                             if c.dex == "xyz"]}]


def spot_meta() -> dict[str, Any]:
    """The ``spotMeta`` payload: ``tokens`` and ``universe`` (pairs with ``tokens``,
    ``index``, ``name``, ``isCanonical``)."""
    pair_of_base = {tokens[0]: name for _, name, tokens, _ in _PAIRS}
    tokens = []
    for index, name, sz, wei in _TOKENS:
        if sz is None:  # a base token's lots are its pair's
            sz = coin_profile(pair_of_base[index]).size_decimals
        tokens.append({"name": name, "szDecimals": sz, "weiDecimals": wei, "index": index,
                       "tokenId": "0x" + f"{index:032x}", "isCanonical": index < 150,
                       "evmContract": None, "fullName": None})
    universe = [{"tokens": list(toks), "name": name, "index": index, "isCanonical": canon}
                for index, name, toks, canon in _PAIRS]
    return {"tokens": tokens, "universe": universe}
