"""An S3 server for the tests, started offline: moto's S3 in a subprocess on 127.0.0.1.

The server handles one request at a time (werkzeug's single-threaded server, HTTP/1.0),
as a real S3 endpoint applies its conditional-write checks atomically: moto checks
``If-Match`` / ``If-None-Match`` and then stores, which two threads could interleave.

Run as a script it is either the server (``serve``: prints its port, then serves) or one
writer of the concurrent-writer test (``write``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def storage_options(endpoint: str) -> dict[str, Any]:
    """s3fs options for the test server."""
    return {"key": "testing", "secret": "testing",
            "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """Start the server; yields its endpoint URL (``http://127.0.0.1:PORT``)."""
    env = {**os.environ, **CREDENTIALS}
    proc = subprocess.Popen([sys.executable, str(Path(__file__)), "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.strip().isdigit():
            raise RuntimeError(f"the moto S3 server did not start (printed {line!r})")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def make_bucket(endpoint: str, name: str) -> None:
    """Create a bucket on the test server."""
    import boto3
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=name)


def writer_command(endpoint: str, url: str, lo: int, hi: int, chunk: int,
                   reverse: bool, delay: float = 0.05) -> list[str]:
    """The command line of one concurrent writer (see :func:`_write`)."""
    return [sys.executable, str(Path(__file__)), "write",
            json.dumps({"endpoint": endpoint, "url": url, "lo": lo, "hi": hi, "chunk": chunk,
                        "reverse": reverse, "delay": delay})]


def contested_frame():
    """The candles both writers write parts of: one day of 1m, one yearly file."""
    import candlekit as ck
    return ck.synthetic_candles("BTC", "1m", "2026-01-05", "2026-01-06", seed=7)


def _write(spec: dict[str, Any]) -> None:
    """Write rows ``[lo, hi)`` of :func:`contested_frame` in chunks; print the conflicts.

    Prints ``ready`` and waits for a line on stdin before the first write, so that both
    writers start together, and holds each merged file ``delay`` seconds before its PUT
    (a slow network), so that their read-merge-write cycles overlap.
    """
    import time

    import candlekit as ck
    from candlekit.store.files import S3Files
    real = S3Files.write

    def slow(self, *args, **kw):
        time.sleep(spec["delay"])
        return real(self, *args, **kw)

    S3Files.write = slow  # type: ignore[method-assign]
    df = contested_frame()
    store = ck.Store(spec["url"], storage_options=storage_options(spec["endpoint"]))
    print("ready", flush=True)
    sys.stdin.readline()
    starts = list(range(spec["lo"], spec["hi"], spec["chunk"]))
    if spec["reverse"]:
        starts.reverse()
    for a in starts:
        part = df.iloc[a:min(a + spec["chunk"], spec["hi"])]
        part.attrs = dict(df.attrs)
        store.write(part)
    print(json.dumps({"conflicts": store.write_conflicts}), flush=True)


def _serve() -> None:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        _serve()
    else:
        _write(json.loads(sys.argv[2]))
