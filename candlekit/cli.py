"""The ``candlekit`` command line.

Every command prints a readable table in a terminal or JSON with ``--json``; errors go
to stderr with a non-zero exit code (2 for bad input, 1 for other candlekit errors).

The store (``--data DIR``, else ``$CANDLEKIT_DATA``, else ``./data``): commands that only
read it (``coverage``, ``gaps``, ``data``, ``resample``, ``symbols``, ``tasks``) refuse a
directory that does not exist, saying there is no store there (exit 2), rather than
reporting an empty store. Commands that write (``backfill``, ``import``, ``demo``)
create it only when it is clearly a new store: its parent directory exists (``--data
candles`` in the current directory, ``--data /srv/candles`` on a machine with ``/srv``).
When the parent is missing too the path is most likely mistyped, and nothing is created.
``--data`` may also be an object store's URL (``s3://bucket/prefix``): see
:class:`candlekit.Store`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import pandas as pd

from .errors import CandlekitError, FormatError
from .provenance import SYNTHETIC_BANNER, is_synthetic

__all__ = ["main"]


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    return df.to_string(index=False)


def _to_json(df: pd.DataFrame) -> str:
    return df.to_json(orient="records", date_format="iso", date_unit="ms")


def _store(args: argparse.Namespace, *, write: bool = False):
    return open_store(args.data, write=write)


def open_store(data: str | None, *, write: bool, hint: str = ""):
    """The store a command works on, refusing a root that is not there (see the module).

    Parameters
    ----------
    data : str or None
        ``--data`` (None: ``$CANDLEKIT_DATA``, else ``./data``): a directory, or an
        fsspec URL such as ``s3://bucket/prefix`` (options from
        ``$CANDLEKIT_STORAGE_OPTIONS``, credentials from the usual ``AWS_*`` variables).
    write : bool
        Whether the command writes candles (it may then create a new store).
    hint : str, optional
        Added to the message of a missing store.

    Returns
    -------
    candlekit.Store

    Raises
    ------
    StoreNotFoundError
        For a reading command when the directory does not exist; for a writing command
        when its parent does not exist either; for a path that is a file.
    """
    import os

    from .errors import StoreNotFoundError
    from .store import Store

    store = Store(data)
    if not store.local:  # an object store (s3://...): prefixes exist once files do
        return store
    root = store.root
    if root.is_dir():
        return store
    named = ("--data" if data is not None else "$CANDLEKIT_DATA"
             if os.environ.get("CANDLEKIT_DATA") else "the default store ./data (no --data "
             "or $CANDLEKIT_DATA)")
    if root.exists():
        raise StoreNotFoundError(f"{root} ({named}) is a file, not a store directory: point "
                                 "--data at a store directory.", root)
    if not write:
        raise StoreNotFoundError(
            f"No candle store at {root} ({named}): the directory does not exist{hint}. "
            "Point --data (or $CANDLEKIT_DATA) at an existing store, or fill a new one with "
            "`candlekit backfill ...`, `candlekit import ...` or `make demo`.", root)
    if not root.parent.is_dir():
        raise StoreNotFoundError(
            f"Not creating a store at {root} ({named}): its parent {root.parent} does not "
            "exist either, so the path looks mistyped. If a new store there is what you "
            f"want, create the parent first (mkdir -p {root.parent}).", root)
    return store


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(_store(args, write=True), reports_dir=None if args.no_reports else args.reports,
                      progress=not args.json)
    reports = {k: str(v) for k, v in result.reports.items()}
    if args.json:
        print(json.dumps({"synthetic": True, "store": str(result.store.root),
                          "tasks": [t.id for t in result.tasks],
                          "coverage": json.loads(_to_json(result.coverage)),
                          "upstream": json.loads(_to_json(result.upstream)),
                          "gaps": json.loads(_to_json(result.gaps)), "reports": reports}))
        return 0
    first, second = result.clock
    print(SYNTHETIC_BANNER)
    print(f"\nEmulator clock {first:%Y-%m-%d %H:%M}Z, then {second:%Y-%m-%d %H:%M}Z; "
          f"tasks {', '.join(t.id for t in result.tasks)} (`candlekit tasks list`)")
    print(f"Store: {result.store.root}")
    print("\nStored")
    print(_table(result.coverage))
    print("\nWhere history ends upstream (Hyperliquid keeps the last 5000 candles)")
    print(_table(result.upstream[["symbol", "interval", "earliest_available",
                                  "unavailable", "confirmed_empty"]]))
    print("\nGaps left in the store, largest first")
    print(_table(result.gaps))
    if reports:
        print("\nReports (open in a browser):")
        for name, path in reports.items():
            print(f"  {name}: {path}")
    print(f"\n{SYNTHETIC_BANNER}")
    return 0


def cmd_coverage(args: argparse.Namespace) -> int:
    from .coverage import coverage_table, format_coverage

    cov = coverage_table(_store(args), symbols=args.symbol, intervals=args.interval,
                         sources=args.source, window=args.window)
    if args.json:
        print(_to_json(cov))
        return 0
    if is_synthetic(cov):
        print(SYNTHETIC_BANNER)
    print(_table(format_coverage(cov)) if len(cov) else "(nothing stored)")
    return 0


def cmd_gaps(args: argparse.Namespace) -> int:
    from .gaps import find_gaps

    df = _store(args).read(args.symbol, args.interval, source=args.source)
    gaps = find_gaps(df, start=args.start, end=args.end)
    if args.json:
        print(_to_json(gaps))
        return 0
    if is_synthetic(df):
        print(SYNTHETIC_BANNER)
    print(f"{args.symbol} {args.interval} ({df.attrs.get('source')}): {len(gaps)} gap(s), "
          f"{int(gaps['missing_candles'].sum()) if len(gaps) else 0} missing candle(s); "
          "each gap is [start, end): end is the open time of the first candle after it")
    print(_table(gaps))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from .intervals import close_ms
    from .provenance import export_metadata
    from .timeutil import to_index, to_ms_array

    df = _store(args).read(args.symbol, args.interval, args.start, args.end, source=args.source)
    fmt = "json" if args.json else args.format
    table = df.reset_index()
    t = to_ms_array(df.index)
    iv_close = close_ms(t, df.attrs["interval"], alignment=df.attrs["alignment"])
    table.insert(1, "close_time", to_index(iv_close, name="close_time"))
    meta = export_metadata(df)
    synthetic = meta["synthetic"]
    if synthetic:  # on stderr, before the data, so that stdout stays clean CSV or JSON
        print(SYNTHETIC_BANNER, file=sys.stderr)
    if fmt == "parquet":
        if not args.output:
            raise FormatError("--format parquet writes a binary file: add --output FILE.parquet",
                              args.output)
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .fsutil import atomic_path

        arrow = pa.Table.from_pandas(table, preserve_index=False)
        arrow = arrow.replace_schema_metadata(
            {**(arrow.schema.metadata or {}), b"candlekit": json.dumps(meta).encode()})
        with atomic_path(args.output) as tmp:
            pq.write_table(arrow, tmp)
    elif fmt == "csv":
        text = table.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        _emit(text, args.output)
    else:  # every record says where it came from and whether it is synthetic
        table.insert(len(table.columns), "source", meta["source"])
        table.insert(len(table.columns), "synthetic", synthetic)
        _emit(_to_json(table), args.output)
    if args.output:
        note = " (SYNTHETIC DATA)" if synthetic else ""
        print(f"wrote {len(table)} {args.symbol} {args.interval} candles "
              f"({df.attrs.get('source')}){note} to {args.output}", file=sys.stderr)
    return 0


def _emit(text: str, output: str | None) -> None:
    if output:
        from .fsutil import atomic_write_text

        atomic_write_text(output, text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def cmd_resample(args: argparse.Namespace) -> int:
    from .resample import resample

    store = _store(args)
    df = store.read(args.symbol, args.source_interval, args.start, args.end, source=args.source)
    out = resample(df, args.interval, alignment=args.alignment)
    if args.write:
        stats = store.write(out)
        if not args.json:
            print(f"stored {len(out)} {args.symbol} {args.interval} candles "
                  f"({out.attrs.get('source')}): {stats}")
    if args.json:
        print(_to_json(out.reset_index()))
        return 0
    if is_synthetic(out):
        print(SYNTHETIC_BANNER)
    shown = out.reset_index()
    if args.limit and len(shown) > args.limit:
        print(f"{args.symbol} {args.source_interval} -> {args.interval}: {len(shown)} candles "
              f"(last {args.limit} shown; --limit 0 shows all)")
        shown = shown.tail(args.limit)
    print(_table(shown))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import parse_parameters, render_report

    params = parse_parameters(args.parameter)
    if args.data is not None:
        params.setdefault("data_dir", args.data)
    result = render_report(args.notebook, parameters=params, output_dir=args.output_dir,
                           name=args.name, show_code=args.show_code, progress=not args.json)
    if args.json:
        print(json.dumps({"notebook": str(result.notebook), "html": str(result.html),
                          "parameters": result.parameters}, default=str))
    else:
        print(f"report: {result.html}\nexecuted notebook: {result.notebook}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .importing import import_candles, import_freqtrade

    store = _store(args, write=True)
    path = Path(args.path)
    if path.is_dir():
        if args.symbol or args.column:
            raise FormatError(f"{path} is a directory, imported as freqtrade data: filter with "
                              "--pair/--interval; --symbol and --column are for one CSV or "
                              "Parquet file.", str(path))
        summary = import_freqtrade(path, store=store, source=args.source or "freqtrade",
                                   pairs=args.pair, intervals=args.interval,
                                   progress=not args.json)
        print(_to_json(summary) if args.json else _table(summary))
        return 0
    if not args.symbol or not args.interval or len(args.interval) != 1:
        raise FormatError(f"Importing the file {path} needs --symbol and one --interval "
                          "(e.g. --symbol BTC --interval 1h).", str(path))
    columns = {}
    for item in args.column or ():
        name, sep, column = item.partition("=")
        if not sep:
            raise FormatError(f"--column {item!r}: write canonical=file, e.g. --column "
                              "time=timestamp", item)
        columns[name] = column
    stats = import_candles(path, store=store, symbol=args.symbol, interval=args.interval[0],
                           columns=columns or None, time_unit=args.time_unit,
                           source=args.source or "file")
    if args.json:
        print(json.dumps(stats.as_dict()))
    else:
        print(f"{path}: {stats}")
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    if args.upstream:
        from .connect import connect

        listing = connect(args.upstream, base_url=args.base_url).symbols()
        if args.json:
            print(_to_json(listing))
        else:
            print(_table(listing))
        return 0
    symbols = _store(args).symbols(source=args.source)
    if args.json:
        print(json.dumps({"symbols": symbols}))
    else:
        print("\n".join(symbols) if symbols else "(no symbols stored)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="candlekit",
        description="Crypto candle (OHLCV) data for research: store, resample, audit.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", metavar="DIR", default=None,
                        help="store root (default: $CANDLEKIT_DATA or ./data)")
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common],
                       help="offline end-to-end run: emulator -> backfill -> reports")
    p.add_argument("--reports", default="reports", metavar="DIR",
                   help="where the HTML reports go (default: reports)")
    p.add_argument("--no-reports", action="store_true", help="skip rendering the reports")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("coverage", parents=[common],
                       help="what the store holds, per series, with completeness %%")
    p.add_argument("--symbol", help="only this symbol")
    p.add_argument("--interval", help="only this interval")
    p.add_argument("--source", help="only this source label")
    p.add_argument("--window", help="the latest window only, e.g. 7d (default: each "
                   "series' whole span)")
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser("gaps", parents=[common], help="missing candles of one stored series")
    p.add_argument("symbol")
    p.add_argument("--interval", required=True)
    p.add_argument("--source")
    p.add_argument("--start", help="range start (inclusive), e.g. 2025-07-01")
    p.add_argument("--end", help="range end (exclusive)")
    p.set_defaults(func=cmd_gaps)

    p = sub.add_parser("data", parents=[common], help="export stored candles (csv, json, parquet)")
    p.add_argument("symbol")
    p.add_argument("--interval", required=True)
    p.add_argument("--start", help="first open time (inclusive), e.g. 2025-07-01")
    p.add_argument("--end", help="last open time bound (exclusive)")
    p.add_argument("--source")
    p.add_argument("--format", choices=("csv", "json", "parquet"), default="csv")
    p.add_argument("--output", "-o", metavar="FILE", help="write here (default: stdout)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("resample", parents=[common],
                       help="resample a stored series to a coarser interval")
    p.add_argument("symbol")
    p.add_argument("--from", dest="source_interval", required=True, metavar="INTERVAL",
                   help="the stored interval to read, e.g. 1m")
    p.add_argument("--interval", "--to", required=True, help="target interval, e.g. 1h")
    p.add_argument("--alignment", choices=("calendar", "hyperliquid"), default=None,
                   help="bucket alignment of 3d/1w/1M (default: the stored series')")
    p.add_argument("--start")
    p.add_argument("--end")
    p.add_argument("--source")
    p.add_argument("--write", action="store_true", help="store the result in the same source")
    p.add_argument("--limit", type=int, default=50,
                   help="rows shown in the terminal table (0 = all; default 50)")
    p.set_defaults(func=cmd_resample)

    p = sub.add_parser("report", parents=[common],
                       help="run a notebook with papermill and render it to HTML in reports/")
    p.add_argument("notebook", help="a .ipynb path or a bundled name: backfill, "
                   "coverage_report, explorer, analysis")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="notebook parameter (value read as a Python literal, else a string)")
    p.add_argument("--output-dir", default="reports", metavar="DIR",
                   help="where the executed notebook and HTML go (default: reports)")
    p.add_argument("--name", help="base name of the outputs (default: the notebook's)")
    p.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("import", parents=[common],
                       help="import a freqtrade data directory, or one CSV/Parquet file")
    p.add_argument("path", help="freqtrade data directory, or a .csv/.csv.gz/.parquet file")
    p.add_argument("--pair", action="append", help="directory: only this pair/coin (repeat)")
    p.add_argument("--interval", action="append",
                   help="directory: only this interval (repeat); file: its interval")
    p.add_argument("--symbol", help="file: the coin its candles belong to")
    p.add_argument("--column", action="append", metavar="CANONICAL=COLUMN",
                   help="file: column mapping, e.g. time=timestamp (repeat)")
    p.add_argument("--time-unit", choices=("s", "ms", "us", "ns"),
                   help="file: unit of epoch times (default: guessed from their size)")
    p.add_argument("--source", help="source label in the store (default: freqtrade / file)")
    p.set_defaults(func=cmd_import)

    from .backfill.cli import add_parsers as add_backfill_parsers
    from .emulator.cli import add_parser as add_emulator_parser

    add_backfill_parsers(sub)  # backfill, tasks [list|status|cancel|delete|resume]
    from .analysis.cli import add_parsers as add_analysis_parsers
    add_analysis_parsers(sub, common)  # analyze, analyses [list|show|grade|delete]
    add_emulator_parser(sub)
    from .server.cli import add_parsers as add_server_parsers

    add_server_parsers(sub, common)  # serve

    p = sub.add_parser("symbols", parents=[common],
                       help="symbols in the store, or the coins an upstream lists")
    p.add_argument("--source", help="store: only this source label")
    p.add_argument("--upstream", metavar="SOURCE",
                   help="list the coins of hyperliquid, hydromancer or emulator instead "
                        "(perps, HIP-3 dex:COIN, spot @N) with one request each")
    p.add_argument("--base-url", help="with --upstream: the API's URL (default: its own)")
    p.set_defaults(func=cmd_symbols)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``candlekit`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CandlekitError as exc:
        print(f"candlekit {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, LookupError)) else 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
