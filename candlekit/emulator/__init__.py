"""A local emulator of Hyperliquid's (and Hydromancer's) ``/info`` API on synthetic candles.

Point any client at it instead of the exchange: the same JSON in and out, pages of up
to 5000 candles, a sliding-window weight budget with 429 answers, a market clock that
you can freeze and move, and faults on demand. Every answer says
``X-Candlekit-Emulator: <mode>``: the data is synthetic, never real prices.

>>> from candlekit.emulator import Emulator, Faults
>>> with Emulator("hyperliquid", now="2026-11-01T00:00Z", budget=None) as emu:
...     df = emu.truth("BTC", "1d", "2026-10-01", "2026-11-01")
...     len(df), df.attrs["source"], bool(df["closed"].all())
(31, 'emulator', True)

What is served (details in :mod:`.market`, :mod:`.protocol`, :mod:`.faults`):

* coins ``BTC ETH SOL HYPE ARB`` (perps), ``xyz:NVDA xyz:TSLA`` (HIP-3 dex ``xyz``),
  ``PURR/USDC`` and ``@107`` (spot), each from its listing time, with ``meta``,
  ``perpDexs`` and ``spotMeta`` good enough for the official SDK;
* Hyperliquid mode: epoch-aligned 3d/1w/1M, no 1s, ``endTime`` inclusive, only the last
  ``window`` (5000) candles of each coin and interval;
* Hydromancer mode: calendar weeks and months, ``q`` and ``x`` in records, ``endTime``
  exclusive, ``limit``, the whole history (1s: the last 7 days; 1s candles come from the
  synthetic ``base="1s"`` market, a different market from the ``base="1m"`` one behind
  every other interval);
* the candle holding the clock is open; nothing opens at or after it;
* weight: 20 per request plus ``ceil(n / 60)`` per ``n`` candles, in a sliding window.

Modules: :mod:`.market` (what candles exist at the clock, cached and pre-encoded),
:mod:`.encode` (fast records), :mod:`.catalog` (coins, listings, metadata payloads),
:mod:`.clock`, :mod:`.budget`, :mod:`.faults`, :mod:`.protocol` (request bodies and
error answers), :mod:`.server` (HTTP), :mod:`.emulator` (:class:`Emulator`), :mod:`.cli`
(``candlekit emulator`` / ``python -m candlekit.emulator``).
"""

from ..errors import EmulatorConfigError
from .budget import candle_weight
from .cli import add_parser
from .emulator import EMULATOR_PORT, Emulator
from .faults import FAULT_NAMES, Faults
from .market import MODES
from .stats import EmulatorStats

__all__ = [
    "EMULATOR_PORT",
    "FAULT_NAMES",
    "MODES",
    "Emulator",
    "EmulatorConfigError",
    "EmulatorStats",
    "Faults",
    "add_parser",
    "candle_weight",
]
