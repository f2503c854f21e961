"""netguard in a real in-process IPython shell, each test in a fresh Python process (the audit
hook cannot be removed, so it must not be added to pytest's own process).

Block mode refuses ``example.invalid`` before any lookup is attempted; anything that would
resolve or connect runs under ``offline_command``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import offline_command

SRC = Path(__file__).resolve().parent.parent / "src"
PRELUDE = f"""\
import sys
sys.path.insert(0, {str(SRC)!r})
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
import kernelctl.netguard
from kernelctl.netguard import extension, guard
kernelctl.netguard.load_ipython_extension(ip)
"""
# A cell whose warning comes from a partial parse (held until IPython's parse), and which runs.
HELD_CELL = ("import urllib.request\\nx = 1\\ny = 2\\nif False:\\n"
             "    urllib.request.urlopen('https://example.com/data.csv')\\nprint('CELL RAN')\\n")


def run_shell(script: str, mode: str = "block", offline: bool = False) -> tuple[str, str]:
    """Run ``script`` after loading netguard into an InteractiveShell; its stdout and stderr."""
    argv = [sys.executable, "-c", PRELUDE + textwrap.dedent(script)]
    env = {**os.environ, "KERNELCTL_NETGUARD": mode, "KERNELCTL_NETGUARD_ALLOW": ""}
    done = subprocess.run(offline_command(argv) if offline else argv, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout, done.stderr


def test_a_failing_stderr_never_breaks_a_cell_or_changes_its_error() -> None:
    out, _ = run_shell(f"""
        ip.run_cell("import socket\\nfn = lambda *a: socket.getaddrinfo(*a)\\nh = 'example' + '.invalid'")
        ip.run_cell("import sys, io\\ns = io.StringIO()\\ns.close()\\nsys.stderr = s")
        r = ip.run_cell("try:\\n    fn(h, 80)\\nexcept Exception as e:\\n    print('USER SAW', type(e).__name__)")
        r2 = ip.run_cell("{HELD_CELL}")
        r3 = ip.run_cell("!wget -q http://example.invalid/x")
        sys.stderr = sys.__stderr__
        print('results', r.success, r2.success, repr(r2.error_before_exec), type(r3.error_in_exec).__name__)
    """)
    assert "USER SAW NetworkBlockedError" in out and "CELL RAN" in out
    assert "results True True None NetworkBlockedError" in out


def test_shell_command_expressions_run_once() -> None:
    """``!cmd {f()}`` evaluates f once, as without netguard; plain variables are still expanded
    for the check (block mode refuses ``!wget $url`` and ``!wget {url}``)."""
    out, _ = run_shell("""
        ip.run_cell("calls = []\\ndef f():\\n    calls.append(1)\\n    return 'hi'")
        ip.run_cell("!echo {f()}")
        print('after !echo', len(ip.user_ns['calls']))
        ip.run_cell("out = !echo {f()}")
        print('after out = !echo', len(ip.user_ns['calls']), ip.user_ns['out'])
        ip.run_cell("url = 'http://example.invalid/x'\\nlocal = 'http://localhost:1/x'")
        for cell in ("!wget -q $url", "!wget -q {url}", "out = !wget -q {url}", "!true {local}"):
            print(repr(cell), type(ip.run_cell(cell).error_in_exec).__name__)
    """)
    assert "after !echo 1\n" in out and "after out = !echo 2 ['hi']" in out
    assert "'!wget -q $url' NetworkBlockedError" in out and "'!wget -q {url}' NetworkBlockedError" in out
    assert "'out = !wget -q {url}' NetworkBlockedError" in out and "'!true {local}' NoneType" in out


def test_held_warnings_show_after_another_extension_replaces_the_compiler() -> None:
    out, err = run_shell(f"""
        ip.run_cell("{HELD_CELL}")
        ip.compile = ip.compiler_class()  # as another extension may do
        ip.run_cell("{HELD_CELL}".replace("y = 2", "y = 3"))
    """, mode="warn")
    assert out.count("CELL RAN") == 2 and err.count("http-request") == 2


def test_runtime_warnings_are_not_captured_by_capture_cells() -> None:
    out, err = run_shell("""
        ip.run_cell("import socket\\nfn = lambda *a: socket.getaddrinfo(*a)\\nh = 'example' + '.invalid'")
        ip.run_cell("%%capture cap\\ntry:\\n    fn(h, 80)\\nexcept OSError as e:\\n    print('USER SAW', type(e).__name__)")
        ip.run_cell("%%capture cap2\\n!wget -q http://example.invalid/x")
        print('captured:', repr(ip.user_ns['cap'].stderr + ip.user_ns['cap2'].stderr), ip.user_ns['cap'].stdout.strip())
    """)
    assert "captured: '' USER SAW NetworkBlockedError" in out
    assert err.count("blocked example.invalid") == 1 and err.count("download-tool") == 1


def test_ctrl_c_during_the_check_is_quiet() -> None:
    out, err = run_shell("""
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        extension._active.checker.check_cell = interrupted
        r = ip.run_cell("import requests\\nprint('CELL RAN')")
        print('success', r.success, len(extension._active._running))
    """, mode="warn")
    assert "CELL RAN" in out and "success True 0" in out
    assert "KeyboardInterrupt" not in out + err and "Error in callback" not in out + err
