"""Run a parameterized notebook with papermill and render it to HTML with nbconvert.

This is what ``candlekit report NOTEBOOK -p name value`` and ``make demo`` call. The
executed notebook and its HTML go to ``reports/`` (by default), named after the notebook,
so a scheduled report overwrites yesterday's file atomically instead of piling up copies.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CandlekitError, FormatError
from .fsutil import atomic_path, atomic_write_text

__all__ = ["NOTEBOOK_DIRS", "ReportError", "ReportResult", "find_notebook", "parse_parameters",
           "render_report"]

#: Where bundled notebooks are looked up by name: ``./notebooks`` then the repository's.
NOTEBOOK_DIRS: tuple[Path, ...] = (Path("notebooks"),
                                   Path(__file__).resolve().parents[1] / "notebooks")


class ReportError(CandlekitError, RuntimeError):
    """A notebook that failed while it ran; the partly executed notebook is kept.

    Attributes
    ----------
    notebook : pathlib.Path
        The executed notebook, with the failing cell's traceback in its outputs.
    """

    def __init__(self, message: str, notebook: Path):
        self.notebook = notebook
        super().__init__(message)


@dataclass(frozen=True)
class ReportResult:
    """Where a rendered report went."""

    notebook: Path
    html: Path
    parameters: dict[str, Any]


def find_notebook(name: str | os.PathLike[str]) -> Path:
    """The notebook file for a path or a bundled name (``"coverage_report"``).

    Raises
    ------
    FormatError
        When no such notebook exists; the message lists the bundled notebooks.
    """
    path = Path(name).expanduser()
    candidates = [path]
    if path.suffix != ".ipynb":
        candidates.append(path.with_name(path.name + ".ipynb"))
    if not path.is_absolute() and len(path.parts) == 1:
        for folder in NOTEBOOK_DIRS:
            candidates += [folder / c.name for c in candidates[:2]]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.absolute()
    bundled = sorted({p.stem for d in NOTEBOOK_DIRS if d.is_dir() for p in d.glob("*.ipynb")})
    raise FormatError(f"No notebook {str(name)!r} found. Give a path to an .ipynb file or one "
                      f"of the bundled notebooks: {', '.join(bundled) or '(none found)'}.", name)


def parse_parameters(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """Notebook parameters from ``-p name value`` pairs, values read as Python literals.

    ``-p days 7`` gives ``7``, ``-p symbols "['BTC','ETH']"`` a list, ``-p end None``
    ``None``; anything that is not a literal stays a string (``-p start 2025-07-01``).

    Examples
    --------
    >>> parse_parameters([("days", "7"), ("start", "2025-07-01"), ("end", "None")])
    {'days': 7, 'start': '2025-07-01', 'end': None}
    """
    out: dict[str, Any] = {}
    for pair in pairs or ():
        name, value = pair
        if not name.isidentifier():
            raise FormatError(f"Parameter name {name!r} is not a Python identifier; use the "
                              "names in the notebook's parameters cell.", name)
        try:
            out[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name] = value
    return out


def _declared_parameters(nb: Any) -> set[str] | None:
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            names = set()
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names |= {t.id for t in targets if isinstance(t, ast.Name)}
            return names
    return None


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _static_widgets(nb: Any) -> Any:
    """Drop live-widget views that carry a static copy, so HTML shows it offline.

    nbconvert prefers the widget view, which only renders where the widget manager can be
    fetched from the internet; the static HTML/PNG copy renders everywhere.
    """
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if _WIDGET_VIEW in data and ("text/html" in data or "image/png" in data):
                del data[_WIDGET_VIEW]
    return nb


def render_report(notebook: str | os.PathLike[str], *,
                  parameters: Mapping[str, Any] | None = None,
                  output_dir: str | os.PathLike[str] = "reports", name: str | None = None,
                  show_code: bool = False, kernel_name: str | None = None,
                  progress: bool = True) -> ReportResult:
    """Execute ``notebook`` with papermill and render the result to HTML.

    Parameters
    ----------
    notebook : str or os.PathLike
        A path, or the name of a bundled notebook (``"coverage_report"``, ``"backfill"``,
        ``"explorer"``).
    parameters : mapping, optional
        Values injected after the notebook's ``parameters`` cell. Unknown names are an
        error (a typo would otherwise be ignored silently).
    output_dir : path, default "reports"
        Where ``<name>.ipynb`` (executed) and ``<name>.html`` go.
    name : str, optional
        Base name of the outputs (default: the notebook's).
    show_code : bool, default False
        Keep code cells in the HTML (by default the report shows outputs and prose only).
    kernel_name : str, optional
        Jupyter kernel (default: the notebook's, normally ``python3``).
    progress : bool, default True
        Show papermill's progress bar.

    Returns
    -------
    ReportResult
        Paths of the executed notebook and the HTML file.

    Raises
    ------
    FormatError
        For an unknown notebook or parameter name.
    ReportError
        When a cell fails; the executed notebook (with the traceback) is still written and
        named in the message.
    """
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    source = find_notebook(notebook)
    params = dict(parameters or {})
    declared = _declared_parameters(nbformat.read(source, as_version=4))
    unknown = sorted(set(params) - (declared or set()))
    if declared is None and params:
        raise FormatError(f"{source.name} has no cell tagged 'parameters'; it takes no "
                          "parameters.", params)
    if unknown:
        raise FormatError(f"Unknown parameter(s) {', '.join(unknown)} for {source.name}; it "
                          f"takes: {', '.join(sorted(declared or ()))}.", unknown)
    out_dir = Path(output_dir).expanduser().absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = name or source.stem
    executed = out_dir / f"{stem}.ipynb"
    failure: BaseException | None = None
    with atomic_path(executed) as tmp:
        try:
            pm.execute_notebook(str(source), str(tmp), parameters=params,
                                kernel_name=kernel_name, progress_bar=progress,
                                cwd=str(Path.cwd()))
        except pm.PapermillExecutionError as exc:
            failure = exc
    if failure is not None:
        raise ReportError(f"{source.name} failed in cell {failure.exec_count}: "
                          f"{failure.ename}: {failure.evalue}. The executed notebook with the "
                          f"traceback is {executed}.", executed) from failure
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = not show_code
    exporter.exclude_input_prompt = not show_code
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(_static_widgets(nbformat.read(executed, as_version=4)))
    html = atomic_write_text(out_dir / f"{stem}.html", body)
    return ReportResult(notebook=executed, html=html, parameters=params)
