"""Where per-home tasks run: in-process, a local process pool, or a dask.distributed cluster (one interface).

Every executor runs the same pure task function, so results do not depend on which one ran them; they
differ only in where and how many at a time. Results come back in completion order.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs `fn` over items and yields each result as it completes (any order)."""

    name: str

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """Runs tasks one after another in this process (tests, debugging, one worker)."""

    name = "inline"

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        for item in items:
            yield fn(item)

    def close(self) -> None:
        """Nothing to release."""


class ProcessExecutor:
    """A local pool of worker processes (the default). Started lazily, reused across calls until closed."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.name = f"process[{workers}]"
        self._pool: ProcessPoolExecutor | None = None

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self._pool is None:
            # spawn, not fork: callers may hold threads (asyncio, dask) whose locks fork would copy half-held.
            # Read by polars when a worker imports it; workers inherit the environment at spawn.
            os.environ.setdefault("POLARS_MAX_THREADS", "1")
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
            )
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            for future in as_completed(futures):
                yield future.result()
        except GeneratorExit:  # the caller stopped early: queued tasks are cancelled below, as before
            raise
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM, a failed task): running tasks are abandoned, not awaited.
            self._terminate()
            raise
        finally:
            for future in futures:
                future.cancel()

    def _terminate(self) -> None:
        """Stop the workers now: a task midway would otherwise run (and publish) after we gave up on it."""
        if self._pool is None:
            return
        processes = list((self._pool._processes or {}).values())  # no public handle on a pool's workers
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        self._pool = None

    def close(self) -> None:
        if isinstance(sys.exc_info()[1], KeyboardInterrupt | SystemExit):
            # Closed while Ctrl-C or SIGTERM unwinds the caller (its `with` block): do not wait for tasks.
            self._terminate()
        elif self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


#: How often a worker checks that the process that started it is still alive (seconds).
PARENT_POLL_S = 0.5


def _start_worker(parent: int) -> None:
    """Set up a pool worker: one thread for Arrow (each worker is one unit of parallelism: Arrow's and
    polars' own thread pools would only oversubscribe the cores the pool already fills), and a watchdog
    that ends the worker when its parent dies (a kill -9 of the parent runs no cleanup, and orphaned
    workers would go on publishing homes, then block forever on the pool's pipe)."""
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)
    # Arrow's buffers from glibc's heap as well, kept mapped by `_keep_freed_blocks`: its default pool
    # (mimalloc) hands a home's pages back and faults them in again for the next (measured: about 5 %
    # less CPU per home, docs/benchmarks.md). The bytes written are the same.
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    _keep_freed_blocks()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="parent-watchdog").start()


#: glibc's mallopt parameters (malloc.h) and the values a worker sets: blocks up to 32 MiB come from the heap
#: and up to 128 MiB of freed heap stays mapped.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_BYTES, _MMAP_BYTES = 128 << 20, 32 << 20


def _keep_freed_blocks() -> None:
    """Keep a worker's freed numpy buffers mapped for the next home. glibc serves each block over 128 KiB
    (a home's columns are 1–16 MB) with its own mmap and unmaps it when freed, so every home page-faults
    its memory in again: measured, this halves a worker's page faults per home and cuts its system CPU
    (docs/benchmarks.md). The peak stays one home's, as before; no-op where libc is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES)
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)
    except (OSError, AttributeError):
        return


def _exit_with_parent(parent: int) -> None:
    """Poll the parent's pid; on its death (re-parented, or gone) exit at once, without cleanup.

    Polling, not PR_SET_PDEATHSIG: that signal fires when the *thread* that spawned the worker ends, and
    pools are started from worker threads too (the API's jobs, `stream`'s producer)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(70)


class DaskExecutor:
    """Tasks on a dask.distributed cluster: a scheduler address, or a LocalCluster started here.

    Workers must see the workspace's file system (shared disk), since each task writes its home there.
    """

    def __init__(self, address: str | None = None, workers: int = 2, *, processes: bool = True) -> None:
        import distributed

        # distributed ships no type hints; hold it as Any rather than sprinkle ignores on each call.
        self._dist: Any = distributed
        self._cluster: Any = None
        if address is None:
            self._cluster = self._dist.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=processes, dashboard_address=None
            )
            self.client: Any = self._dist.Client(self._cluster)
        else:
            _reachable(address)
            try:
                self.client = self._dist.Client(address, timeout=CONNECT_TIMEOUT_S)
            except OSError as exc:  # something listens there, but no scheduler answers
                raise ValueError(f"no dask scheduler answers at {address}: {exc}") from exc
        self.name = f"dask[{address or 'local'}]"

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        # pure=False: every call must run (a cached home is detected by the task itself, not by dask).
        futures = self.client.map(fn, list(items), pure=False)
        try:
            for future in self._dist.as_completed(futures):
                result: R = future.result()
                yield result
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


#: How long to wait for a dask scheduler to answer (distributed's own default is 30 s).
CONNECT_TIMEOUT_S = 10


def _reachable(address: str) -> None:
    """Fail fast, with one clear line, when nothing listens at a scheduler's `tcp://host:port`."""
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot reach the dask scheduler at {address}: {exc}") from exc


def make_executor(spec: str, workers: int) -> Executor:
    """`inline`, `process`, `dask` (a LocalCluster of `workers`), or `dask://host:port` / `tcp://host:port`."""
    if spec == "inline":
        return InlineExecutor()
    if spec == "process":
        return ProcessExecutor(workers)
    if spec == "dask":
        return DaskExecutor(None, workers)
    if spec.startswith("dask://"):
        return DaskExecutor("tcp://" + spec.removeprefix("dask://"), workers)
    if spec.startswith("tcp://"):
        return DaskExecutor(spec, workers)
    raise ValueError(f"unknown executor {spec!r}; expected inline, process, dask, or dask://host:port")
