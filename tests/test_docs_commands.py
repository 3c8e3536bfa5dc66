"""Every shell command in the README, notebooks/README.md and the notebooks' header cells
works exactly as written.

The commands are extracted from the ```sh and ```cron blocks. Offline ones run, as
written, in a directory laid out like the repository (``notebooks/`` and ``.venv/bin``
linked to this checkout's), with ``$CANDLEKIT_DATA`` a temporary store holding synthetic BTC
and ETH candles; the backfill notebook's default source is an emulator started in its
kernel on 127.0.0.1. Commands that need the real network (``-p source hyperliquid``, the cron
line) or that are whole workflows of their own (``make ...``) are not run; for them, every
``candlekit report`` and ``papermill`` invocation is still parsed the way it would be and
its parameters checked against the notebook, so that a list passed as a string would fail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```(sh|bash|cron)\n(.*?)```", text, flags=re.S)


def documented_commands() -> list[tuple[str, str, str]]:
    """``(where, kind, command)`` for every command line in the docs and notebook headers."""
    sources = [(p.relative_to(REPO).as_posix(), p.read_text()) for p in DOCS]
    for nb_path in NOTEBOOKS:
        nb = nbformat.read(nb_path, as_version=4)
        header = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        sources.append((f"{nb_path.relative_to(REPO).as_posix()} header", header))
    out = []
    for where, text in sources:
        for kind, block in _blocks(text):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    out.append((where, kind, line))
    return out


COMMANDS = documented_commands()
RUNNABLE = sorted({c for _, kind, c in COMMANDS
                   if kind != "cron" and not NETWORK.search(c)
                   and not any(c.startswith(p) for p in NOT_RUN)})
NOT_RUNNABLE = sorted({(kind, c) for _, kind, c in COMMANDS if c not in RUNNABLE})


def test_the_docs_show_commands():
    wheres = {w for w, _, _ in COMMANDS}
    assert {"README.md", "notebooks/README.md", "notebooks/backfill.ipynb header",
            "notebooks/coverage_report.ipynb header"} <= wheres
    assert any("papermill" in c for c in RUNNABLE) and any("report" in c for c in RUNNABLE)


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
        for interval, start in (("1m", "2026-10-25"), ("1h", "2026-10-01")):
            st.write(synthetic_candles(symbol, interval, start, "2026-11-01", seed=3))
    env = dict(os.environ, CANDLEKIT_DATA=str(store), PYTHONWARNINGS="ignore",
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    return root, env


def _argv(command: str) -> list[str]:
    assert not re.search(r"[|;&<>]|\$\(", command), f"not a single command: {command}"
    return shlex.split(command)


@pytest.mark.parametrize("command", RUNNABLE)
def test_offline_command_works_as_written(command, sandbox):
    root, env = sandbox
    proc = subprocess.run(_argv(command), cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    argv = _argv(command)
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
    """Why a command is not run, and that each notebook call in it would get what it means."""
    reason = next((why for p, why in NOT_RUN.items() if command.startswith(p)), None)
    if reason is not None:
        pytest.skip(f"{command!r} is not run here: {reason}")
    assert NETWORK.search(command) or kind == "cron", command
    calls = [seg for seg in re.split(r"&&|\(|\)|>>", command)
             if re.search(r"(candlekit report|papermill) ", seg)]
    assert calls, command
    for call in calls:
        argv = shlex.split(call.strip().split("&&")[0])
        argv = argv[next(i for i, a in enumerate(argv)
                         if a.endswith(("candlekit", "papermill"))):]
        params = _parameters(argv)
        notebook = find_notebook(argv[2] if argv[1] == "report" else REPO / argv[1])
        declared = _declared_parameters(nbformat.read(notebook, as_version=4))
        assert set(params) <= declared, (command, set(params) - declared)
        for name in LIST_PARAMETERS & set(params):
            values = as_list(params[name], name=name)
            assert all(re.fullmatch(r"[A-Za-z0-9:@/]+", v) for v in values), (command, values)
    pytest.skip(f"{command!r} is not run here: it needs the real Hyperliquid API"
                + (" and cron" if kind == "cron" else "")
                + " (its parameters were checked)")
