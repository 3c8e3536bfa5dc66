"""Every shell command in the README, notebooks/README.md and the notebooks' header cells
works exactly as written.

The commands are extracted from the ```sh and ```cron blocks (a line ending in ``\\`` goes
on with the next one). Offline ones run, as written, in a directory laid out like the
repository (``notebooks/`` and ``.venv/bin`` linked to this checkout's, ``.venv/bin`` first
on ``PATH`` for the bare ``candlekit ...`` lines), with ``$CANDLEKIT_DATA`` a temporary
store holding synthetic BTC and ETH candles (four months of BTC 1h, so that 4h analyses have
history; the ``candlekit analyze``/``analyses`` lines get a copy of it untouched by the
backfill reports) and ``data/`` a store holding the same candles, which the README's
``candlekit serve --data data --port 8000`` serves, started once for the module; the
``curl`` lines run against it. The README's placeholder ids (``an-1a2b3c4d``,
``bf-1a2b3c4d``) are made real: an analysis and a backfill task with exactly those ids are
recorded in those stores through the registries' own methods. The backfill notebook's default
source is an emulator started in its kernel on 127.0.0.1.

Commands that need the real network (``-p source hyperliquid``, the cron line, ``--follow``
without an emulator), a real model server, a non-loopback address, that install packages or
that are whole workflows of their own (``make ...``) are not run; for them, every
``candlekit`` invocation is still parsed by candlekit's own parser, and every
``candlekit report`` and ``papermill`` invocation has its parameters checked against the
notebook, so that a list passed as a string would fail.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from candlekit.params import as_list
from candlekit.report import _declared_parameters, find_notebook, parse_parameters
from candlekit.store import Store
from candlekit.synthetic import synthetic_candles

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DOCS = [REPO / "README.md", REPO / "notebooks" / "README.md"]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
NETWORK = re.compile(r"-p source (hyperliquid|hydromancer)\b")
NOT_RUN = {  # command prefix -> why the test does not run it
    "make demo": "the whole demo (tests/test_demo.py runs it)",
    "make test": "the test suite itself",
    "make bench": "the benchmarks (minutes; not a unit test)",
    "make lab": "starts JupyterLab and waits (tests/test_browser_explorer.py drives it)",
}
LIST_PARAMETERS = {"symbols", "intervals", "sources"}
SERVER = ".venv/bin/candlekit serve --data data --port 8000"  # the README's; curl asks it
PORT = 8000
IDS = {"analysis": "an-1a2b3c4d", "task": "bf-1a2b3c4d"}  # the README's placeholders


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(sh|bash|cron)\n(.*?)```", text, flags=re.S)


def documented_commands() -> list[tuple[str, str, str]]:
    """``(where, kind, command)`` for every command in the docs and notebook headers."""
    sources = [(p.relative_to(REPO).as_posix(), p.read_text()) for p in DOCS]
    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        header = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        sources.append((f"{nb_path.relative_to(REPO).as_posix()} header", header))
    out = []
    for where, text in sources:
        for kind, block in _blocks(text):
            pending = ""
            for line in block.splitlines():
                line = line.strip()
                if line.endswith("\\"):  # continued on the next line
                    pending += line[:-1]
                    continue
                line, pending = pending + line, ""
                if line and not line.startswith("#"):
                    out.append((where, kind, line))
            assert not pending, f"{where}: a block ends in a continued line: {pending}"
    return out


def _argv(command: str) -> list[str]:
    """The words of a single command (no pipes, lists, redirections or substitutions)."""
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "''", command.split(" #")[0])
    assert not re.search(r"[|;&<>`]|\$\(", unquoted), f"not a single command: {command}"
    argv = shlex.split(command, comments=True)
    while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
        argv = argv[1:]  # VAR=value prefixes
    return argv


def _option(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def not_run_reason(kind: str, command: str) -> str | None:
    """Why a documented command is not run here (None: it is run)."""
    reason = next((why for p, why in NOT_RUN.items() if command.startswith(p)), None)
    if reason is not None:
        return reason
    if kind == "cron" or NETWORK.search(command):
        return "it needs the real Hyperliquid API" + (" and cron" if kind == "cron" else "")
    argv = _argv(command)
    if Path(argv[0]).name == "pip" or "pip install" in command:
        return "it installs packages (network, and it would change this environment)"
    if Path(argv[0]).name == "candlekit" and argv[1:2] == ["serve"]:
        host = _option(argv, "--host") or "127.0.0.1"
        if host not in ("127.0.0.1", "localhost"):
            return f"it binds {host}, another address than 127.0.0.1 (it needs a token)"
        if _option(argv, "--follow") and not (_option(argv, "--base-url")
                                              and _option(argv, "--source") == "emulator"):
            return "it follows the real Hyperliquid API (--follow without an emulator)"
    url = _option(argv, "--llm-url")
    if url and re.match(r"https?://(127\.0\.0\.1|localhost):11434\b", url):
        return "it needs a real model server (an Ollama on 127.0.0.1:11434)"
    return None


COMMANDS = documented_commands()
RUNNABLE = sorted({c for _, kind, c in COMMANDS if not_run_reason(kind, c) is None})
NOT_RUNNABLE = sorted({(kind, c) for _, kind, c in COMMANDS
                       if not_run_reason(kind, c) is not None})
# the curl lines in the order the README shows them (a status before the delete)
RUNNABLE.sort(key=lambda c: (c.startswith("curl"),
                             next(i for i, (_, _, d) in enumerate(COMMANDS) if d == c)
                             if c.startswith("curl") else 0, c))


def test_the_docs_show_commands():
    wheres = {w for w, _, _ in COMMANDS}
    assert {"README.md", "notebooks/README.md", "notebooks/backfill.ipynb header",
            "notebooks/coverage_report.ipynb header"} <= wheres
    assert any("papermill" in c for c in RUNNABLE) and any("report" in c for c in RUNNABLE)
    assert SERVER in {c.split(" #")[0].strip() for c in RUNNABLE}
    assert any(c.startswith("curl") for c in RUNNABLE)
    assert all(not c.endswith("\\") for _, _, c in COMMANDS)


def _record_ids(store: Path) -> None:
    """Record the README's analysis and backfill task ids in ``store`` (unless there)."""
    from candlekit.analysis.api import run_analysis
    from candlekit.analysis.registry import AnalysisRegistry
    from candlekit.backfill.registry import TaskRegistry
    from candlekit.errors import AnalysisNotFoundError, TaskError
    from candlekit.timeutil import to_ms

    def token_hex(want: str):  # the registry's next new id is ``want``, then random ones
        real, calls = secrets.token_hex, []

        def fake(n=None):
            calls.append(n)
            return want if len(calls) == 1 else real(n)
        return fake

    try:
        AnalysisRegistry(Store(store)).get(IDS["analysis"])
    except AnalysisNotFoundError:
        with mock.patch("candlekit.analysis.registry.secrets.token_hex",
                        token_hex(IDS["analysis"].split("-")[1])):
            assert run_analysis("BTC", "4h", store=Store(store)).id == IDS["analysis"]
    reg = TaskRegistry(store)
    try:
        reg.status(IDS["task"])
    except TaskError:
        with mock.patch("candlekit.backfill.registry.secrets.token_hex",
                        token_hex(IDS["task"].split("-")[1])):
            task_id = reg.create(["BTC"], ["1h"], start=to_ms("2026-10-01"),
                                 end=to_ms("2026-10-02"), source="emulator")
        assert task_id == IDS["task"]
        reg.finish(task_id, reg.claim(task_id), "completed")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A directory laid out like the repository, and the environment to run commands in."""
    root = tmp_path_factory.mktemp("docs-commands")
    (root / ".venv").mkdir()
    (root / ".venv" / "bin").symlink_to(BIN)
    (root / "notebooks").symlink_to(REPO / "notebooks")
    store = root / "store"
    st = Store(store)
    for symbol in ("BTC", "ETH"):
        for interval, start in (("1m", "2026-10-25"),
                                ("1h", "2026-07-01" if symbol == "BTC" else "2026-10-01")):
            st.write(synthetic_candles(symbol, interval, start, "2026-11-01", seed=3))
    shutil.copytree(store, root / "data")  # what `candlekit serve --data data` serves
    # the analysis lines get a copy of their own: the backfill reports add emulator candles
    # to $CANDLEKIT_DATA, and BTC 1h under two sources would need --source
    shutil.copytree(store, root / "analysis-store")
    for where in (root / "analysis-store", root / "data"):
        _record_ids(where)
    env = dict(os.environ, CANDLEKIT_DATA=str(store), PYTHONWARNINGS="ignore",
               MPLBACKEND="module://matplotlib_inline.backend_inline",
               PATH=f"{root / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("CANDLEKIT_TOKEN", None)
    return root, env


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


@pytest.fixture(scope="module")
def server(sandbox):
    """The README's ``candlekit serve --data data --port 8000``, as written, in the sandbox."""
    root, env = sandbox
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            pytest.skip(f"port {PORT} is taken on 127.0.0.1: the README's server and its curl "
                        "lines cannot run here")
    # its upstream is the real Hyperliquid API (as written): the POSTed backfill is accepted
    # and answered; a proxy that is not there keeps its worker from reaching the network
    dead = "http://127.0.0.1:9"
    env = dict(env, HTTPS_PROXY=dead, https_proxy=dead, HTTP_PROXY=dead, http_proxy=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    log = open(root / "serve.log", "w")
    proc = subprocess.Popen(_argv(SERVER), cwd=root, env=env, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (root / "serve.log").read_text()[-4000:]
            try:
                if _get(f"http://127.0.0.1:{PORT}/api/klines/coverage", 2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (root / "serve.log").read_text()[-4000:]
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _run(argv: list[str], root: Path, env: dict[str, str], timeout: float = 300):
    return subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("command", RUNNABLE)
def test_offline_command_works_as_written(command, sandbox, request):
    root, env = sandbox
    argv = _argv(command)
    name = Path(argv[0]).name
    if name == "curl":
        request.getfixturevalue("server")
        if IDS["task"] in command or IDS["analysis"] in command:
            _record_ids(root / "data")  # (again, after a DELETE)
        proc = _run(argv, root, env, timeout=60)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
        body = json.loads(proc.stdout)
        assert not (isinstance(body, dict) and body.get("error")), (command, body)
        assert body not in (None, [], {}), (command, body)
        return
    if name == "candlekit" and argv[1] == "serve":
        assert command.split(" #")[0].strip() == SERVER, (
            f"{command}: only the README's own server command is started here")
        proc = request.getfixturevalue("server")
        assert proc.poll() is None
        status, raw = _get(f"http://127.0.0.1:{PORT}/api/klines/coverage")
        assert status == 200 and {"BTC", "ETH"} <= set(re.findall(r'"(BTC|ETH)"', raw.decode()))
        return
    if name == "candlekit" and argv[1] in ("analyze", "analyses"):
        env = dict(env, CANDLEKIT_DATA=str(root / "analysis-store"))
        if IDS["analysis"] in command:
            _record_ids(root / "analysis-store")  # (again, after a delete)
        proc = _run(argv, root, env, timeout=120)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
        if argv[1] == "analyze" or argv[2:3] == ["show"]:
            assert "BTC" in proc.stdout, proc.stdout[-2000:]
        return
    assert name in ("candlekit", "papermill") and (name == "papermill" or argv[1] == "report"), (
        f"{command}: a kind of command this test does not know how to check")
    proc = _run(argv, root, env)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    params = _parameters(argv)
    if argv[0].endswith("papermill"):
        executed = nbformat.read(root / argv[2], as_version=4)
    else:
        executed = nbformat.read(root / "reports" / f"{argv[2]}.ipynb", as_version=4)
    shown = "\n".join(json.dumps(o.get("data", o.get("text", "")))
                      for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "Traceback" not in shown
    for symbol in as_list(params.get("symbols", ["BTC", "ETH"]), name="symbols"):
        assert symbol in shown, f"{command}: {symbol} is not in the report"
    if "coverage_report" in command:  # the report is about the symbols asked, only
        others = {"BTC", "ETH"} - set(as_list(params["symbols"], name="symbols"))
        for symbol in others:
            assert f"'{symbol}'" not in shown and f">{symbol}<" not in shown
    if "backfill" in command:
        stored = Store(env["CANDLEKIT_DATA"]).coverage(source="emulator")
        want = {(s, i) for s in as_list(params["symbols"], name="symbols")
                for i in as_list(params.get("intervals", ["1h", "1d"]), name="intervals")}
        assert want <= set(zip(stored["symbol"], stored["interval"]))


def _parameters(argv: list[str]) -> dict:
    """The parameters a ``candlekit report`` or ``papermill`` command line passes."""
    if argv[0].endswith("candlekit"):
        from candlekit.cli import build_parser

        args = build_parser().parse_args(argv[1:])
        return parse_parameters(args.parameter)
    import yaml

    params: dict = {}
    i = 3
    while i < len(argv):
        flag = argv[i]
        if flag in ("-p", "--parameters"):
            from papermill.cli import _resolve_type

            params[argv[i + 1]] = _resolve_type(argv[i + 2])
            i += 3
        elif flag in ("-y", "--parameters_yaml"):
            params.update(yaml.safe_load(argv[i + 1]))
            i += 2
        else:
            i += 1
    return params


@pytest.mark.parametrize(("kind", "command"), NOT_RUNNABLE)
def test_commands_not_run_still_pass_usable_parameters(kind, command):
    """Why a command is not run, and that each candlekit or notebook call in it parses."""
    reason = not_run_reason(kind, command)
    assert reason is not None
    if command.startswith("make "):
        pytest.skip(f"{command!r} is not run here: {reason}")
    segments = [seg.strip() for seg in re.split(r"&&|\(|\)|>>", command)]
    calls = [seg for seg in segments if re.search(r"(^|/)(candlekit|papermill) ", seg)]
    checked = ""
    if not calls:
        assert "pip install" in command, command
    for call in calls:
        argv = shlex.split(call, comments=True)
        argv = argv[next(i for i, a in enumerate(argv)
                         if a.endswith(("candlekit", "papermill"))):]
        if argv[0].endswith("candlekit") and argv[1] != "report":
            from candlekit.cli import build_parser

            build_parser().parse_args(argv[1:])  # exits (an error) when it does not parse
            checked = " (its arguments were parsed)"
            continue
        params = _parameters(argv)
        notebook = find_notebook(argv[2] if argv[1] == "report" else REPO / argv[1])
        declared = _declared_parameters(nbformat.read(notebook, as_version=4))
        assert set(params) <= declared, (command, set(params) - declared)
        for name in LIST_PARAMETERS & set(params):
            values = as_list(params[name], name=name)
            assert all(re.fullmatch(r"[A-Za-z0-9:@/]+", v) for v in values), (command, values)
        checked = " (its parameters were checked)"
    pytest.skip(f"{command!r} is not run here: {reason}{checked}")
