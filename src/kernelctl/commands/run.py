"""``kernelctl run``: execute a notebook in a kernelctl kernel, as a batch job would.

The Python API is :func:`run`; the CLI is a thin layer over it. The work is done by
:mod:`kernelctl.notebook` (parameters, saving, progress, the run, the report).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shlex
import stat
import sys
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from kernelctl.commands.args import add_json_flag, add_parser
from kernelctl.errors import UsageError
from kernelctl.netguard_config import MODES
from kernelctl.notebook.outcome import EXIT_STATUS_HELP, Cause, RunFailed
from kernelctl.notebook.report import RunResult
from kernelctl.output import print_json


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` as nbformat 4.5 (every cell with an id, as in the output), or a
    usage error saying why it cannot be read."""
    import nbformat
    from nbformat.v4.nbbase import random_cell_id
    from nbformat.validator import MissingIDFieldWarning

    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO or device would block the read forever
            raise UsageError(f"{path} is not a regular file", "Pass the path of an .ipynb file.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingIDFieldWarning)  # given ids below
            nb = nbformat.read(path, as_version=4)
        nb.nbformat_minor = max(nb.nbformat_minor, 5)
        for number, cell in enumerate(nb.cells, 1):
            # nbformat.read only logs schema errors; a cell the run cannot handle is refused here
            if not isinstance(cell.get("source"), str) or not isinstance(cell.get("metadata"), dict):
                raise UsageError(f"{path} is not a valid Jupyter notebook: cell {number} has no text source",
                                 "Open and save it in JupyterLab, or pass an .ipynb file saved by Jupyter.")
            cell.setdefault("id", random_cell_id())
        return nb
    except UsageError:
        raise
    except FileNotFoundError:
        raise UsageError(f"no such notebook: {path}", "Pass the path of an .ipynb file.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {path}: {err}", "Pass the path of a readable .ipynb file.") from None
    except Exception as err:  # nbformat's NotJSONError, ValidationError, and the like
        raise UsageError(f"{path} is not a Jupyter notebook: {str(err).splitlines()[0] if str(err) else err!r}",
                         "Pass an .ipynb file saved by Jupyter.") from None


def default_output(notebook: Path) -> Path:
    """``NOTEBOOK-stem.out.ipynb`` beside the notebook."""
    return notebook.with_name(f"{notebook.stem}.out.ipynb")


def _scan(nb: Any, kernel: Any, env: Mapping[str, str], cwd: Path) -> list[dict[str, Any]]:
    """netguard's findings in the code cells, numbered as the run numbers them."""
    from kernelctl.netguard.checker import Checker
    from kernelctl.netguard.notebooks import check_notebook
    from kernelctl.netguard.policy import HostPolicy
    from kernelctl.netguard.rulebook import Context
    from kernelctl.notebook.state import code_cells

    policy = HostPolicy(kernel.manifest.options.netguard_allow)
    checker = Checker(Context(policy=policy, env=dict(env), base_dir=str(cwd)))
    numbers = {index: n for n, index in enumerate(code_cells(nb), 1)}
    return [{"cell": numbers.get(index, 0), "line": f.line, "rule": f.rule, "message": f.message, "hint": f.hint}
            for index, f in check_notebook(nb, checker)]


def run(notebook: str | Path | None = None, kernel: str | None = None, output: str | Path | None = None,
        parameters: Mapping[str, Any] | None = None, *, cell_timeout: float | None = None,
        start_timeout: float = 60.0, allow_errors: bool | None = None, netguard: str | None = None,
        report: str | Path | None = None, resume: str | Path | None = None, autosave: float = 30.0,
        echo: TextIO | bool = True) -> RunResult:
    """Run ``notebook``'s code cells in kernelctl kernel ``kernel`` (default: the one the
    notebook was saved with) and save them, with their outputs, to ``output`` (default:
    ``NOTEBOOK-stem.out.ipynb`` beside it); the notebook itself is never changed.

    ``parameters`` are injected as papermill does. ``netguard`` (``warn``/``block``/``off``)
    sets the kernel's netguard mode for this run only. ``resume`` names the output of a run
    that stopped: its ``setup``/parameter cells run again, then the cells that did not finish;
    its recorded kernel and options apply unless given. ``report`` is a path for the JSON
    report. ``autosave`` is the most seconds a long cell runs between saves. ``echo``
    prints progress and cell output as they happen: True to stdout, or to the stream given
    (cell stderr and warnings go to stderr either way). Returns the :class:`RunResult`;
    raises :class:`UsageError` for a bad notebook, kernel or option.
    """
    from kernelctl.notebook import params, state
    from kernelctl.notebook.executor import Run, Settings
    from kernelctl.notebook.kernel import netguard_settings, resolve
    from kernelctl.notebook.live import Live
    from kernelctl.notebook.report import build, write
    from kernelctl.notebook.saving import Saver, claimed

    if resume is not None:
        if parameters or output is not None:
            raise UsageError("--resume continues the run into its own output, with its parameters",
                             "Leave out -o/-p/-f/-y, or start a new run without --resume.")
        out = Path(resume).absolute()
        nb = read_notebook(out)
        recorded = state.run_settings(nb)
        if not recorded.get("source"):
            raise UsageError(f"{out} was not written by 'kernelctl run' (or its record of the run is damaged)",
                         "Pass the output notebook of a stopped run.")
        source = Path(recorded["source"])
        if notebook is not None and Path(notebook).absolute() != source:
            raise UsageError(f"{out} is the output of {source}, not of {notebook}",
                             f"Run 'kernelctl run --resume {shlex.quote(str(out))}' without NOTEBOOK.")
        again, cells = state.resume_plan(nb)
        if not cells:
            raise UsageError(f"every cell of {out} already finished: there is nothing to resume",
                             "Start a new run without --resume to run it again.")
        kernel = kernel or recorded.get("kernel")
        cell_timeout = cell_timeout if cell_timeout is not None else recorded.get("cell_timeout")
        allow_errors = allow_errors if allow_errors is not None else recorded.get("allow_errors", False)
        netguard = netguard or recorded.get("netguard")
        parameters = recorded.get("parameters") or {}
    else:
        if notebook is None:
            raise UsageError("no notebook given", "Pass NOTEBOOK, or --resume OUTPUT to continue a stopped run.")
        source = Path(notebook).absolute()
        nb = read_notebook(source)
        out = Path(output).absolute() if output is not None else default_output(source)
        if out == source or (out.exists() and source.exists() and out.samefile(source)):
            raise UsageError(f"the output {out} is the notebook itself", "Pass another --output path.")
        again, cells = [], []
    if out.is_dir():
        raise UsageError(f"the output {out} is a directory",
                         "Pass the path of a notebook file to write, e.g. -o DIR/x.ipynb.")
    if report is not None:  # checked before the run, not found out after it
        clash = {source.resolve(): "notebook", out.resolve(): "output notebook"}.get(Path(report).resolve())
        if clash or Path(report).is_dir():
            raise UsageError(f"--report {report} " + (f"would overwrite the {clash}" if clash else "is a directory"),
                             "Pass another path for the JSON report, e.g. --report run.json.")
    if netguard is not None and netguard not in MODES:
        raise UsageError(f"--netguard must be one of {', '.join(MODES)}, not {netguard!r}")
    for name, value in (("--cell-timeout", cell_timeout), ("--start-timeout", start_timeout),
                        ("--autosave", autosave)):
        if value is not None and not 0 < value < math.inf:  # nan passed '<= 0' and made autosave spin
            raise UsageError(f"{name} must be a positive number of seconds, not {value:g}")
    found = resolve(kernel, nb, source)
    live = Live(out=sys.stdout if echo is True else echo or _Discard())
    language = found.manifest.options.language
    if resume is None:
        for warning in params.inject(nb, dict(parameters or {}), language):
            live.warn(warning)
        state.reset(nb)
        cells = state.code_cells(nb)
    argv, env = netguard_settings(found, netguard) if netguard else ([], {})
    nb.metadata["kernelspec"] = {"name": found.spec.name, "language": language,
                                 "display_name": found.spec.spec.get("display_name", found.spec.name)}
    state.record_settings(nb, {"source": str(source), "kernel": found.spec.name, "parameters": dict(parameters or {}),
                               "cell_timeout": cell_timeout, "allow_errors": bool(allow_errors), "netguard": netguard})
    cwd = source.parent
    findings = _scan(nb, found, {**(found.spec.spec.get("env") or {}), **env}, cwd) if language == "python" else []
    for f in findings:
        live.warn(f"netguard: cell {f['cell']} line {f['line']}: {f['rule']} {f['message']} — {f['hint']}")

    with claimed(out):
        saver = Saver(nb, out, autosave)
        saver.save()
        settings = Settings(cell_timeout=cell_timeout, start_timeout=start_timeout, allow_errors=bool(allow_errors),
                            extra_argv=argv, extra_env=env,
                            resume_command=f"kernelctl run --resume {shlex.quote(str(out))}")
        started = datetime.now(timezone.utc)
        began = time.monotonic()
        runner = Run(nb, found, saver, live, settings, cwd)
        ending = asyncio.run(runner.main(again, cells))
        saver.save_final()
        seconds = time.monotonic() - began
        if ending.cause is Cause.DONE:
            live.note(f"[kernelctl] done: {len(again) + len(cells)} cells in {seconds:.1f} s; output: {out}")
        data = build(nb, found, runner.env, ending.cause, ending.message, source=str(source), output=out,
                     seconds=seconds, peak_rss=runner.peak_rss,
                     extra={"started": started.isoformat(timespec="seconds"), "resumed": resume is not None,
                            "parameters": dict(parameters or {}),
                            "netguard": netguard or found.manifest.options.netguard,
                            "netguard_findings": findings,
                            "health": [{"check": p.check, "problem": p.problem, "fix": p.fix} for p in runner.health]})
        if report is not None:
            write(Path(report), data)
        return RunResult(ending.cause, out, ending.message, ending.hint, data)


class _Discard:
    """A stream that drops what is written (progress when ``echo`` is off)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


EXAMPLES = """\
  kernelctl run analysis.ipynb       # its own kernel; writes analysis.out.ipynb
  kernelctl run train.ipynb -k ml -p lr 0.01 -p epochs 20 -o runs/lr0.01.ipynb
  kernelctl run train.ipynb -k ml -f p.yaml --cell-timeout 3600 --report r.json
  kernelctl run fetch.ipynb -k ml --netguard block  # internet attempts fail now
  kernelctl run --resume runs/lr0.01.ipynb          # continue a stopped run

""" + EXIT_STATUS_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_parser(
        subparsers, "run",
        "Run NOTEBOOK's code cells in a kernelctl kernel, started as JupyterLab starts it\n"
        "(its modules, env and netguard), and save them with their outputs to a new\n"
        "notebook. Progress and cell output are printed as they happen; the output is\n"
        "saved after every cell and every 30 s during a long one. SIGTERM, SIGINT and\n"
        "SIGUSR1 stop the run with the running cell marked as interrupted, resumable\n"
        "with --resume. Parameters work as in papermill: the cell tagged 'parameters'\n"
        "keeps the defaults; a cell tagged 'injected-parameters' after it sets values.",
        EXAMPLES,
    )
    parser.add_argument("notebook", metavar="NOTEBOOK", nargs="?", type=Path,
                        help="the notebook to run (never modified; optional with --resume)")
    parser.add_argument("-k", "--kernel", metavar="NAME",
                        help="the kernelctl kernel (default: the notebook's own kernel)")
    parser.add_argument("-o", "--output", metavar="PATH", type=Path,
                        help="the output notebook (default: NOTEBOOK-stem.out.ipynb beside it)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="set a parameter; VALUE is typed: True/False, None, int, float, else str (repeatable)")
    parser.add_argument("-f", "--parameters-file", metavar="FILE", type=Path,
                        help="parameters from a YAML or JSON file (-p overrides them)")
    parser.add_argument("-y", "--parameters-yaml", metavar="YAML", help="parameters as a YAML string")
    parser.add_argument("--cell-timeout", metavar="S", type=float, help="stop if one cell runs longer (exit 3)")
    parser.add_argument("--start-timeout", metavar="S", type=float, default=60.0,
                        help="how long the kernel may take to start (default: 60)")
    parser.add_argument("--allow-errors", action="store_true", default=None,
                        help="run the remaining cells after one raises (exit 0)")
    parser.add_argument("--netguard", choices=MODES,
                        help="the kernel's netguard mode for this run (block: internet attempts fail at once)")
    parser.add_argument("--report", metavar="PATH", type=Path,
                        help="write a JSON report: kernel, modules, env, cells, exit cause, peak memory")
    parser.add_argument("--resume", metavar="OUTPUT", type=Path,
                        help="continue the stopped run that wrote OUTPUT (setup cells run again)")
    parser.add_argument("--autosave", metavar="S", type=float, default=30.0,
                        help="save a long-running cell's output every S seconds (default: 30)")
    add_json_flag(parser, "print the report as JSON on stdout (progress goes to stderr)")
    parser.set_defaults(run=_cli)


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    """-f, then -y, then -p: later ones win, as in papermill."""
    from kernelctl.notebook import params

    found: dict[str, Any] = {}
    if args.parameters_file is not None:
        found.update(params.load_file(args.parameters_file))
    if args.parameters_yaml is not None:
        found.update(params.load_yaml(args.parameters_yaml, "-y"))
    found.update({name: params.parse_value(value) for name, value in args.parameter})
    return found


def _cli(args: argparse.Namespace) -> int:
    # jsonschema, which nbformat imports, imports rfc3987_syntax when it is installed (JupyterLab
    # brings it), and that compiles dozens of grammars at import: seconds per run. kernelctl
    # never validates IRIs, so this process does without it.
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    result = run(args.notebook, args.kernel, args.output, _parameters(args), cell_timeout=args.cell_timeout,
                 start_timeout=args.start_timeout, allow_errors=args.allow_errors, netguard=args.netguard,
                 report=args.report, resume=args.resume, autosave=args.autosave,
                 echo=sys.stderr if args.json else True)
    if args.json:
        print_json(result.report)
    if not result.ok:
        raise RunFailed(result.cause, result.message, result.hint)
    return 0
