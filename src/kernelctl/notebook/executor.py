"""One run of a notebook in a kernel, cell by cell, with nbclient.

The kernel is started by name through jupyter_client, as JupyterLab starts it (its
kernelspec, launcher, modules and env), in the notebook's directory. The output notebook
is saved when each cell ends, and every ``autosave`` seconds during a long cell (which it
shows ``running``, with its output so far); a save when a cell starts would only double
the cost of short cells. SIGTERM, SIGINT and SIGUSR1 interrupt the kernel
and end the run with the running cell marked ``interrupted``.
"""

from __future__ import annotations

import asyncio
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async

from kernelctl.commands.common import Kernel
from kernelctl.notebook import state
from kernelctl.notebook.kernel import StderrTee, apply_overrides
from kernelctl.notebook.live import Live
from kernelctl.notebook.memory import PeakSampler, human, oom_kills
from kernelctl.notebook.outcome import Cause, is_memory_kill, kernel_death, memory_hint, signal_name
from kernelctl.notebook.saving import Saver

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
# How long an interrupted cell may take to stop before the run stops waiting for it.
INTERRUPT_GRACE = 10.0


@dataclass
class Settings:
    """How to run: timeouts in seconds (None: no limit), error policy, extra kernel argv/env,
    and the command that resumes the run (printed when a signal stops it)."""

    cell_timeout: float | None = None
    start_timeout: float = 60.0
    allow_errors: bool = False
    extra_argv: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    resume_command: str = ""


@dataclass
class Ending:
    """How the run ended: its cause, the error message and hint (none when done)."""

    cause: Cause = Cause.DONE
    message: str = ""
    hint: str | None = None


class _Client(NotebookClient):
    """nbclient's client, showing each output message as it arrives."""

    live: Live | None = None

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if self.live is not None:
            self.live.output(msg)
        return super().process_message(msg, cell, cell_index)


class Run:
    """Runs the code cells ``again`` (for their state, on a resume) and then ``cells`` of
    ``nb`` (indexes into ``nb.cells``) in ``kernel``, saving ``nb`` through ``saver``."""

    def __init__(self, nb: Any, kernel: Kernel, saver: Saver, live: Live, settings: Settings, cwd: Path) -> None:
        self.nb = nb
        self.kernel = kernel
        self.saver = saver
        self.live = live
        self.settings = settings
        self.cwd = cwd
        self.numbers = {index: n for n, index in enumerate(state.code_cells(nb), 1)}
        self.env: dict[str, str] = {}
        self.peak_rss = 0
        self.health: list[Any] = []
        self._stop: int | None = None
        self._current: asyncio.Future[Any] | None = None
        self._client: _Client | None = None

    # signals -----------------------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if self._stop is not None:  # a second signal: stop waiting for the cell at once
            if self._current is not None:
                self._current.cancel()
            return
        self._stop = signum
        self.live.note(f"[kernelctl] {signal_name(signum)} received: interrupting the kernel, saving, stopping")
        if self._current is not None and not self._current.done():
            asyncio.ensure_future(self._interrupt(self._current))

    async def _interrupt(self, running: asyncio.Future[Any]) -> None:
        client = self._client
        try:
            if client is not None and client.km is not None:
                await client.km.interrupt_kernel()
        except Exception:  # a kernel already gone cannot be interrupted; the cell ends anyway
            pass
        await asyncio.sleep(INTERRUPT_GRACE)
        running.cancel()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
            except (RuntimeError, ValueError):  # not the main thread: the caller handles signals
                return

    def _remove_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            try:
                loop.remove_signal_handler(signum)
            except (RuntimeError, ValueError):
                return

    # the run -----------------------------------------------------------------------------

    async def main(self, again: list[int], cells: list[int]) -> Ending:
        self._install_signals()
        try:
            return await self._main(again, cells)
        finally:
            self._remove_signals()

    async def _main(self, again: list[int], cells: list[int]) -> Ending:
        from kernelctl.health import doctor_problems

        loop = asyncio.get_running_loop()
        health = loop.run_in_executor(None, doctor_problems, self.kernel.spec)
        client = self._client = _Client(
            # nbclient's timeouts are whole seconds (a float such as 1.5 is a TraitError)
            self.nb, kernel_name=self.kernel.spec.name,
            timeout=None if self.settings.cell_timeout is None else math.ceil(self.settings.cell_timeout),
            startup_timeout=math.ceil(self.settings.start_timeout), allow_errors=self.settings.allow_errors,
            resources={"metadata": {"path": str(self.cwd)}},
        )
        client.live = self.live
        km = client.create_kernel_manager()
        apply_overrides(km.kernel_spec, self.settings.extra_argv, self.settings.extra_env)
        self.env = dict(km.kernel_spec.env or {})
        oom_before = oom_kills()
        tee = StderrTee()
        sampler: PeakSampler | None = None
        autosave: asyncio.Task[None] | None = None
        try:
            started = await self._start(client, tee, health)
            if started is not None:
                return started
            sampler = PeakSampler(km.provisioner.pid).start()  # type: ignore[union-attr]
            autosave = asyncio.ensure_future(self.saver.autosave())
            for index in [*again, *cells]:
                if self._stop is not None:
                    return self._stopped(None)
                ending = await self._cell(client, index, again=index in again)
                if ending is not None:
                    if ending.cause is Cause.KERNEL_DIED:
                        ending = await self._death(km, index, oom_before, sampler)
                    return ending
            return Ending() if self._stop is None else self._stopped(None)
        finally:
            if autosave is not None:
                autosave.cancel()
            if sampler is not None:
                self.peak_rss = sampler.stop()
            await self._shutdown(client, km)
            tee.close()

    async def _start(self, client: _Client, tee: StderrTee, health: asyncio.Future[Any]) -> Ending | None:
        """Start the kernel while the doctor checks run; an Ending when it did not start."""
        name = self.kernel.spec.name
        try:
            try:
                await client.async_start_new_kernel(stderr=tee.fd)
            finally:
                tee.started()
            await client.async_start_new_kernel_client()
            reply = await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))  # type: ignore[union-attr]
            if reply and "language_info" in reply["content"]:
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
            failure = None
        except Exception as err:  # jupyter_client raises RuntimeError, TimeoutError or OSError
            failure = err
        self.health = await health
        for problem in self.health:
            self.live.warn(f"kernel {name}: {problem.check}: {problem.problem} (fix: {problem.fix})")
        if failure is None:
            return None
        tee.close()
        said = str(failure).strip().splitlines()[0] if str(failure).strip() else type(failure).__name__
        own = tee.last_lines(1)
        said = f"{said}; its last words: {own}" if own else said
        fixes = "; ".join(p.fix for p in self.health)
        return Ending(Cause.KERNEL_START, f"kernel {name!r} did not start: {said}",
                      f"Fix: {fixes}" if fixes else
                      f"Its own error output is above; run 'kernelctl doctor {name}' to check it.")

    async def _cell(self, client: _Client, index: int, again: bool) -> Ending | None:
        """Run one cell; an Ending when the run must stop here."""
        cell = self.nb.cells[index]
        number, total = self.numbers[index], len(self.numbers)
        state.mark(cell, "running")
        self.live.cell_start(number, total, cell.source, again)
        began = time.monotonic()
        self._current = asyncio.ensure_future(
            client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1))
        ending: Ending | None = None
        try:
            await self._current
            status = "error" if any(o.get("output_type") == "error" for o in cell.outputs) else "completed"
        except CellTimeoutError:
            status = "timeout"
            ending = Ending(Cause.CELL_TIMEOUT,
                            f"cell {number} ran longer than --cell-timeout ({self.settings.cell_timeout:g} s)",
                            f"Raise --cell-timeout, or speed the cell up; outputs so far are in {self.saver.path}.")
        except CellExecutionError as err:
            status = "failed"
            ending = Ending(Cause.CELL_ERROR, f"cell {number} raised {err.ename}: {err.evalue}".rstrip(": "),
                            f"Its traceback is above and in {self.saver.path}; later cells did not run "
                            "(--allow-errors runs them anyway).")
        except (DeadKernelError, asyncio.CancelledError):
            status = "died"
            ending = Ending(Cause.KERNEL_DIED)
        finally:
            self._current = None
        seconds = time.monotonic() - began
        if self._stop is not None and status != "completed":
            return self._stopped(index, seconds)
        state.mark(cell, status, seconds)
        self.live.cell_end(number, total, status, seconds)
        self.saver.save()
        return ending

    def _stopped(self, index: int | None, seconds: float | None = None) -> Ending:
        """The run was stopped by a signal, in cell ``index`` (None: between cells)."""
        import nbformat

        name = signal_name(self._stop or signal.SIGTERM)
        where = "before the next cell"
        if index is not None:
            number = self.numbers[index]
            where = f"in cell {number}"
            cell = self.nb.cells[index]
            state.mark(cell, "interrupted", seconds, signal=name)
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"[kernelctl] interrupted by {name} after {seconds or 0:.1f} s: this cell did not finish. "
                     f"Resume with: {self.settings.resume_command}\n"))
            self.live.cell_end(number, len(self.numbers), "interrupted", seconds or 0.0)
        self.saver.save()
        return Ending(Cause.STOPPED, f"stopped by {name} {where}; outputs so far are saved in {self.saver.path}",
                      f"Resume with: {self.settings.resume_command}")

    async def _death(self, km: Any, index: int, oom_before: int | None, sampler: PeakSampler) -> Ending:
        """Say how the kernel died in cell ``index``, from its process's exit status."""
        returncode = await km.provisioner.poll() if km.provisioner is not None else None
        oom_after = oom_kills()
        oom = oom_before is not None and oom_after is not None and oom_after > oom_before
        how = kernel_death(returncode, oom)
        message = f"the kernel {how} while running cell {self.numbers[index]}"
        if is_memory_kill(returncode, oom):
            return Ending(Cause.KERNEL_DIED, message, memory_hint(human(sampler.peak)))
        return Ending(Cause.KERNEL_DIED, message,
                      f"Its error output is above; outputs up to that cell are in {self.saver.path}.")

    async def _shutdown(self, client: _Client, km: Any) -> None:
        """Stop the kernel (immediately: a batch run has nothing to wait for) and its channels."""
        try:
            if client.kc is not None:
                client.kc.stop_channels()
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
        except Exception:  # already gone; nothing is left to stop
            pass
