"""``candlekit emulator`` (and ``python -m candlekit.emulator``): serve until Ctrl-C.

::

    candlekit emulator --port 8731 --mode hyperliquid --seed 7 --now 2026-11-01T00:00Z \\
        --budget 1200 --window 5000 --fault server_error=0.1 --fault dropped=0.05

``--now`` freezes the market clock (default: follow the real clock); ``--budget none``
removes the weight limit. The clock can be driven from another process with
``POST /emulator`` (see :mod:`candlekit.emulator.server`).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from typing import Any

from ..errors import CandlekitError
from .market import MODES

__all__ = ["add_arguments", "add_parser", "cmd_emulator", "main"]

_DESCRIPTION = ("Serve a local emulator of Hyperliquid's (or Hydromancer's) /info API with "
                "SYNTHETIC candles from candlekit's seeded market, until Ctrl-C.")


def _budget(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid budget {text!r}: use an integer weight per window or 'none'") from None


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the emulator's options to ``parser``; return it.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    """
    from .emulator import EMULATOR_PORT

    parser.add_argument("--port", type=int, default=EMULATOR_PORT,
                        help=f"port to listen on, 0 = any free one (default {EMULATOR_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--mode", choices=MODES, default="hyperliquid",
                        help="API to emulate (default hyperliquid)")
    parser.add_argument("--seed", type=int, default=7, help="market seed (default 7)")
    parser.add_argument("--now", default=None, metavar="ISO",
                        help="freeze the market clock at this time, e.g. 2026-11-01T00:00Z "
                             "(default: follow the real clock)")
    parser.add_argument("--budget", type=_budget, default=1200, metavar="N|none",
                        help="weight allowed per window (default 1200; 'none' = no limit)")
    parser.add_argument("--budget-window", type=float, default=60.0, metavar="SECONDS",
                        help="length of the budget's sliding window (default 60)")
    parser.add_argument("--window", type=int, default=5000,
                        help="hyperliquid mode: candles kept per coin and interval "
                             "(default 5000)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME=RATE",
                        help="inject a fault into candleSnapshot answers at this rate "
                             "(repeatable): server_error, slow, truncated, dropped, empty, "
                             "duplicates, out_of_order, stale_open")
    parser.add_argument("--slow-seconds", type=float, default=2.0,
                        help="delay of a 'slow' fault (default 2)")
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument("--api-key", default=None,
                        help="hydromancer mode: require 'Authorization: Bearer <key>'")
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``emulator`` command to a ``candlekit`` sub-command set.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``emulator`` parser (its handler is :func:`cmd_emulator`, set as ``func``).
    """
    p = subparsers.add_parser("emulator", help="serve a local Hyperliquid/Hydromancer API "
                              "emulator on synthetic data", description=_DESCRIPTION)
    add_arguments(p)
    p.set_defaults(func=cmd_emulator)
    return p


def cmd_emulator(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve the emulator configured by ``args`` until Ctrl-C (or until ``stop`` is set).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options of :func:`add_arguments`.
    stop : threading.Event, optional
        Set it to stop serving (for embedding and tests).

    Returns
    -------
    int
        0 after a clean stop; 1 when the port cannot be bound.

    Raises
    ------
    EmulatorConfigError, InvalidTimeError
        For bad options.
    """
    from .emulator import Emulator
    from .faults import Faults

    faults = Faults.parse(args.fault, slow_seconds=args.slow_seconds)
    try:
        emu = Emulator(args.mode, seed=args.seed, now=args.now, window=args.window,
                       budget=args.budget, budget_window=args.budget_window, faults=faults,
                       fault_seed=args.fault_seed, api_key=args.api_key, port=args.port,
                       host=args.host)
    except OSError as exc:
        print(f"candlekit emulator: error: cannot listen on {args.host}:{args.port} ({exc}). "
              "Pick another --port (0 = any free port) or stop what uses it.", file=sys.stderr)
        return 1
    clock = ("following the real clock" if emu.clock.running
             else f"frozen at {emu.now.isoformat()}")
    active = {k: v for k, v in faults.rates().items() if v}
    print(f"candlekit emulator listening on {emu.url} ({emu.mode} mode, SYNTHETIC data, "
          f"seed {emu.seed}, clock {clock}, budget "
          f"{'none' if args.budget is None else args.budget}"
          f"{', faults ' + str(active) if active else ''}). POST /info; Ctrl-C to stop.",
          flush=True)
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.close()
    print("candlekit emulator stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m candlekit.emulator``."""
    parser = add_arguments(argparse.ArgumentParser(prog="python -m candlekit.emulator",
                                                   description=_DESCRIPTION))
    args = parser.parse_args(argv)
    try:
        return cmd_emulator(args)
    except CandlekitError as exc:
        print(f"candlekit emulator: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, LookupError)) else 1
