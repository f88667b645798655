"""Each run of a comparison in a worker process of its own (``perstack compare``).

Why: on an instant model (a local server, a cache, the test model) a run is nothing but
our own CPU work (~3.5 ms a step: the loop, storage, the SDK's HTTP), so runs sharing one
event loop add their CPU up on one core. A worker process per run lets them use every
core; on a real model, whose answers take seconds, it changes nothing but the CPUs used.

How: the worker is a ``fork`` of this process (multiprocessing's ``fork`` start method),
made before the runs start, with everything a run needs already imported here once
(:func:`preload`: the engine, the providers' HTTP stacks and SDKs, the price table).
Measured on a 2-core box (docs/performance.md, issue 14) against the alternatives:

* a plain subprocess, or multiprocessing's ``spawn``: every worker starts an interpreter
  and imports the runtime again (~0.3-0.5 s of CPU each, all at the same time);
* ``forkserver`` preloaded with the same modules: one interpreter start and import before
  the first worker can begin (in series with this process's own), then a fork per worker;
  and the request, its provider factory included, would have to be pickled;
* ``fork`` from here: the imports happen once, in this process, and a worker starts in a
  few milliseconds with the request as it is (closures and all). It is the fastest.

Forking is safe only from a process with one thread (a thread holding a lock at the fork
would leave it held forever in the child), so :func:`process_problem` refuses when another
thread runs (the workbench, with Textual's threads, runs its comparisons in-process) and
:func:`preload` imports on this thread (never :mod:`runtime.providers.prewarm`'s threads).
SIGINT and SIGTERM are blocked around each fork, so a worker never runs the parent's
handlers; it installs its own (both cancel its run, once) before unblocking them.

Each worker runs its job exactly as an in-process run does
(:func:`~runtime.compare.runner.execute_run`, the engine's public ``run``) and sends back,
over a pipe, framed: each event as the JSON line ``perstack run`` prints (only when the
caller listens to events; rebuilt here into full events with
:class:`~runtime.views.checkpoints.StreamRebuilder`, as the client library does), then its
figures and steps read back from the stored job (in the worker, so the four read-backs run
in parallel too). Cancelling the comparison (Ctrl+C, SIGTERM, the caller's cancel) sends
SIGTERM to each worker still going, which cancels its run as Ctrl+C cancels ``perstack
run`` (files whole, the job resumable), and waits for it to exit. A worker that dies
without a result (killed, crashed) is reported as failed, its figures read here from
whatever it stored.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from runtime.compare.one_run import mark_running, one_line, read_back, run_column

if TYPE_CHECKING:
    from runtime.compare.request import CompareRequest, RunEventListener, RunUpdateListener
    from runtime.views.comparison import RunFigures
    from runtime.views.steps import JobSteps

__all__ = ["preload", "process_problem", "run_in_processes", "usable_cpus"]

_SIGNALS = {signal.SIGINT, signal.SIGTERM}
#: prctl(2): the signal a process gets when its parent ends.
_PR_SET_PDEATHSIG = 1
#: A frame: its kind (one byte) and its length, then that many bytes.
_HEADER = struct.Struct(">cI")
_EVENT, _RESULT = b"E", b"R"


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def process_problem(runs: int) -> str | None:
    """Why ``runs`` runs should share this process rather than get one each (``None``:
    they should not)."""
    import multiprocessing

    if runs < 2:
        return "one run"
    if "fork" not in multiprocessing.get_all_start_methods():
        return "no fork on this system"
    if usable_cpus() < 2:
        return "one CPU"
    if threading.active_count() > 1:
        return "other threads are running (forking would copy their locks)"
    return None


def preload(request: CompareRequest) -> None:
    """Import here, once, what every worker's run needs, so that no worker imports it
    again (and load the price table the read-back needs). On this thread only."""
    import importlib

    from runtime.model import Usage
    from runtime.providers.factory import SUPPORTED_PROVIDERS
    from runtime.providers.prewarm import SDK_MODULES
    from runtime.views.cost import PriceBook, RunModel

    names = ["runtime.engine.api", "runtime.engine.jobs", "runtime.skills.factory"]
    names += ["runtime.storage.sources", "runtime.views.steps"]
    for choice in request.models:
        names.append(SUPPORTED_PROVIDERS.get(choice.provider, ""))
        names += SDK_MODULES.get(choice.provider, ())
    for name in dict.fromkeys(filter(None, names)):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the worker meets (and reports) it again
            pass
    prices = request.prices or PriceBook()
    for choice in request.models:  # the library's table, and each model's entry in it
        try:
            prices.price(Usage(), RunModel(choice.provider, choice.model), 0)
        except Exception:  # noqa: BLE001 - the read-back says what is wrong
            pass


async def run_in_processes(
    request: CompareRequest,
    pending: Sequence[tuple[int, RunFigures]],
    steps: list[JobSteps | None],
    on_event: RunEventListener | None,
    on_update: RunUpdateListener | None,
) -> None:
    """Run each of ``pending`` (column index, figures) in a worker process, filling in
    its figures and ``steps[index]``. Raises only ``CancelledError`` (the workers then
    stopped)."""
    preload(request)
    workers: list[_Worker] = []
    try:
        for index, figures in pending:  # every fork before anything else can start a thread
            mark_running(index, figures, on_update)
            workers.append(_Worker(request, index, figures, on_event is not None, workers))
        await asyncio.gather(*(worker.follow(steps, on_event, on_update) for worker in workers))
    finally:
        for worker in workers:
            worker.stop()


class _Worker:
    """One run's worker process, seen from here."""

    def __init__(
        self,
        request: CompareRequest,
        index: int,
        figures: RunFigures,
        send_events: bool,
        others: Sequence[_Worker],
    ) -> None:
        import multiprocessing

        self.request, self.index, self.figures = request, index, figures
        read_fd, write_fd = os.pipe()
        self.read_fd = read_fd
        inherited = [read_fd, *(worker.read_fd for worker in others)]
        self.process = multiprocessing.get_context("fork").Process(
            target=_worker_main,
            args=(request, figures, write_fd, inherited, send_events, os.getpid()),
            name=f"perstack-compare-{index}",
            daemon=True,  # stopped (SIGTERM: a clean cancel) if this process exits first
        )
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            self.process.start()
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            os.close(write_fd)

    def stop(self) -> None:
        """Ask the worker to cancel its run (nothing if it has exited)."""
        if self.process.exitcode is None:
            try:
                self.process.terminate()  # SIGTERM
            except OSError:  # exited meanwhile
                pass

    async def follow(
        self,
        steps: list[JobSteps | None],
        on_event: RunEventListener | None,
        on_update: RunUpdateListener | None,
    ) -> None:
        """Deliver the worker's events, then take its result and wait for it to exit.
        When cancelled: stop the worker, wait for it, raise."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(self.read_fd, "rb", 0)
        transport = None
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe
            )
            feed = None if on_event is None else _EventFeed(self.index, on_event)
            result, problem = await self._read(reader, feed)
            await self._exited()
        except asyncio.CancelledError:
            self.stop()
            if transport is not None:
                await _drain(reader)  # it may be blocked writing to us
            else:
                pipe.close()  # nor may it block writing to nobody
            await self._exited()
            raise
        finally:
            if transport is not None:
                transport.close()
            else:
                pipe.close()
        figures = self.figures
        if result is not None:
            done, steps[self.index] = result
            figures.__dict__.update(done.__dict__)
        else:
            code = self.process.exitcode
            figures.error = problem or f"its worker process ended without a result (exit code {code})"
            steps[self.index] = read_back(self.request, figures)
        if problem and result is not None:
            figures.error = figures.error or problem
        if on_update is not None:
            on_update(self.index, figures)

    async def _read(
        self, reader: asyncio.StreamReader, feed: _EventFeed | None
    ) -> tuple[tuple[RunFigures, JobSteps | None] | None, str | None]:
        result, problem = None, None
        while True:
            try:
                kind, size = _HEADER.unpack(await reader.readexactly(_HEADER.size))
                payload = await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                return result, problem
            if kind == _EVENT and feed is not None:
                problem = problem or feed.deliver(payload)
            elif kind == _RESULT:
                try:
                    result = pickle.loads(payload)
                except Exception as error:  # noqa: BLE001 - reported as the run's failure
                    problem = f"its result could not be read: {one_line(error)}"

    async def _exited(self) -> None:
        loop = asyncio.get_running_loop()
        sentinel = self.process.sentinel
        if self.process.exitcode is None:
            ended = loop.create_future()
            loop.add_reader(sentinel, lambda: ended.done() or ended.set_result(None))
            try:
                await ended
            finally:
                loop.remove_reader(sentinel)
        self.process.join()


class _EventFeed:
    """A worker's event lines, rebuilt into full events for the caller's listener."""

    def __init__(self, index: int, on_event: RunEventListener) -> None:
        from runtime.views.checkpoints import StreamRebuilder

        self.index, self.on_event = index, on_event
        self.rebuilder = StreamRebuilder()
        self.broken = False

    def deliver(self, payload: bytes) -> str | None:
        """Hand one event to the listener; what went wrong, if anything (after which
        events are no longer delivered)."""
        import orjson

        from runtime.events import parse_event

        if self.broken:
            return None
        try:
            self.on_event(self.index, parse_event(self.rebuilder.feed(orjson.loads(payload))))
        except Exception as error:  # noqa: BLE001 - the column's failure, as in-process
            self.broken = True
            return one_line(error)
        return None


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(1 << 16):
        pass


# --- in the worker ----------------------------------------------------------------------


def _worker_main(
    request: CompareRequest,
    figures: RunFigures,
    write_fd: int,
    inherited: Sequence[int],
    send_events: bool,
    parent: int,
) -> None:
    """The worker's body (SIGINT and SIGTERM blocked until its run's handlers are set)."""
    signal.set_wakeup_fd(-1)  # the parent's event loop's, not ours
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _stop_with(parent)
    for fd in inherited:  # the parent's ends of the pipes: ours must see EPIPE if it dies
        try:
            os.close(fd)
        except OSError:
            pass
    frames = _Frames(write_fd)
    try:
        asyncio.run(_work(request, figures, frames, send_events))
    except (asyncio.CancelledError, KeyboardInterrupt):
        sys.exit(130)
    finally:
        frames.close()


def _stop_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM (its run's clean cancel: the job stays
    resumable) when the command ends, even by SIGKILL, which no handler of its sees.
    Otherwise a run on a paid model would go on, unobserved, to its end. Linux only
    (``PR_SET_PDEATHSIG``); elsewhere such a run goes on as before."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it was gone before the request: stop now
        os.kill(os.getpid(), signal.SIGTERM)  # blocked until the run's handlers are set


async def _work(
    request: CompareRequest, figures: RunFigures, frames: _Frames, send_events: bool
) -> None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None and figures.workspace is not None
    interrupts, stopping = 0, False

    def stop(signum: int) -> None:
        # Once: Ctrl+C reaches this worker from the terminal and again, as SIGTERM, from
        # the command, and a second cancel would cut the run's own clean-up short. A
        # second Ctrl+C stops at once, as it stops `perstack run` (files stay whole).
        nonlocal interrupts, stopping
        if signum == signal.SIGINT:
            interrupts += 1
            if interrupts > 1:
                raise KeyboardInterrupt
        if not stopping:
            stopping = True
            task.cancel()

    for signum in _SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    steps = await run_column(
        request, figures, raw_event_listener=frames.event if send_events else None
    )
    frames.send(_RESULT, pickle.dumps((figures, steps), pickle.HIGHEST_PROTOCOL))


class _Frames:
    """Writes frames to the parent; quietly stops if the parent has gone (on Linux the
    run is being cancelled then, see :func:`_stop_with`; elsewhere it goes on to its end,
    stored as usual)."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def event(self, event: Any, data: bytes) -> None:
        self.send(_EVENT, data)

    def send(self, kind: bytes, payload: bytes) -> None:
        if self.fd is None:
            return
        view = memoryview(_HEADER.pack(kind, len(payload)) + payload)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
