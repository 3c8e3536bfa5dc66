"""Candle sources: Hyperliquid, Hydromancer and the local emulator, behind one interface.

>>> from candlekit.sources import get_source
>>> sorted(SOURCES)
['emulator', 'emulator-hydromancer', 'hydromancer', 'hyperliquid']
"""

from .base import Page, RequestStats, Source, SourceConfigError
from .hydromancer import Hydromancer
from .hyperliquid import Hyperliquid
from .registry import EMULATOR_URL, SOURCES, get_source, register_source

__all__ = [
    "EMULATOR_URL",
    "SOURCES",
    "Hydromancer",
    "Hyperliquid",
    "Page",
    "RequestStats",
    "Source",
    "SourceConfigError",
    "get_source",
    "register_source",
]
