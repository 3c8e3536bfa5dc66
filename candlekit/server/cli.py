"""``candlekit serve``: the command line of the server.

Examples
--------
::

    candlekit serve                                   # 127.0.0.1:8000, ./data
    candlekit serve --data /srv/candles --port 8080 --token "$(openssl rand -hex 16)"
    candlekit serve --follow BTC,ETH --intervals 1m,1h --since 2026-01-01
    candlekit serve --dialect hyperliquid             # the exchange's own /info shape
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["add_parsers", "cmd_serve"]


def _split(values: list[str] | None) -> list[str]:
    return [v for item in values or [] for v in item.split(",") if v]


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted."""
    from ..errors import InvalidIntervalError, UnknownSymbolError
    from ..intervals import INTERVALS, parse_interval
    from ..store import Store
    from ..timeutil import to_ms
    from .app import TOKEN_ENV, serve
    from .auth import check_bind
    from .worker import Follow, window_start

    follow = None
    symbols = _split(args.follow)
    intervals = [parse_interval(i).name for i in _split(args.intervals)]
    if symbols:
        if not intervals:
            raise InvalidIntervalError(None, INTERVALS)
        finest = min(intervals, key=lambda i: parse_interval(i).nominal_ms)
        since = to_ms(args.since) if args.since else window_start(finest)
        follow = Follow(tuple(symbols), tuple(intervals), since, float(args.every))
    elif intervals or args.since:
        raise UnknownSymbolError("--intervals and --since go with --follow SYMBOLS "
                                 "(e.g. --follow BTC,ETH --intervals 1m,1h).", None)
    token = args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None)
    if not args.insecure:
        check_bind(args.host, token)  # refuse before anything is printed
    options: dict[str, Any] = {}
    if args.api_key:
        options["api_key"] = args.api_key
    store = Store(args.data)
    where = f"http://{args.host}:{args.port}"
    print(f"candlekit serve: store {store.root}, {where} (POST {where}/info, "
          f"GET {where}/api/klines/...), dialect {args.dialect}"
          + (", token required" if token else "")
          + (f", following {','.join(symbols)} {','.join(intervals)}" if follow else ""),
          flush=True)
    serve(store, host=args.host, port=args.port, token=token, insecure=args.insecure,
          dialect=args.dialect, sources=_split(args.serve_source) or None,
          upstream=args.source, base_url=args.base_url, source_options=options,
          follow=follow, max_running=args.max_running, max_body=args.max_body,
          cors_origins=_split(args.cors_origin), public_meta=args.public_meta,
          log_level=args.log_level)
    return 0


def add_parsers(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add ``serve`` to the main parser's subparsers.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
    common : argparse.ArgumentParser
        The parent parser with ``--data`` and ``--json``.
    """
    p = subparsers.add_parser(
        "serve", parents=[common],
        help="serve the store: kline REST API and Hyperliquid/Hydromancer POST /info",
        description="Serve the store over HTTP: the kline REST API (/api/klines/...) and "
                    "candleSnapshot at POST /info in Hydromancer's dialect (the official "
                    "hyperliquid-python-sdk works against it), with backfill tasks run by "
                    "the server. Binds 127.0.0.1 unless told otherwise.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; others need --token)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' (default: $CANDLEKIT_TOKEN)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without a token (warns)")
    p.add_argument("--public-meta", action="store_true",
                   help="with a token: answer meta/spotMeta/perpDexs without it (so the "
                        "SDK's Info(url) can be built before its session has the header)")
    p.add_argument("--dialect", choices=("hydromancer", "hyperliquid"), default="hydromancer",
                   help="POST /info shape: hydromancer (q, x, Monday weeks, calendar months, "
                        "exclusive endTime; default) or hyperliquid (the exchange's)")
    p.add_argument("--serve-source", action="append", metavar="LABEL",
                   help="store source labels served, in order of preference (repeatable or "
                        "comma-separated; default: all, hydromancer then hyperliquid first)")
    p.add_argument("--source", default="hyperliquid",
                   help="upstream of backfills and --follow: hyperliquid (default), "
                        "hydromancer or emulator")
    p.add_argument("--base-url", help="the upstream's URL, e.g. an emulator's")
    p.add_argument("--api-key", help="the upstream's API key (hydromancer; default: "
                                     "$HYDROMANCER_API_KEY)")
    p.add_argument("--follow", action="append", metavar="SYMBOLS",
                   help="keep these coins current while serving (comma-separated)")
    p.add_argument("--intervals", action="append", metavar="INTERVALS",
                   help="with --follow: intervals to keep (comma-separated), e.g. 1m,1h")
    p.add_argument("--since", help="with --follow: first open time kept (default: the "
                                   "upstream's last 5000 candles of the finest interval)")
    p.add_argument("--every", type=float, default=60.0,
                   help="with --follow: seconds between two rounds (default 60)")
    p.add_argument("--max-running", type=int, default=2,
                   help="backfill tasks run at once (default 2)")
    p.add_argument("--max-body", type=int, default=64 * 1024,
                   help="largest request body in bytes (default 65536)")
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="allow this browser origin (CORS is off by default)")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=cmd_serve)
