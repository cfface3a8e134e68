"""Where per-home tasks run: in-process, a local process pool, or a dask.distributed cluster (one interface).

Every executor runs the same pure task function, so results do not depend on which one ran them; they
differ only in where and how many at a time. Results come back in completion order.
"""

from __future__ import annotations

import multiprocessing
import os
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
                self.workers, mp_context=context, initializer=_one_thread_per_worker
            )
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _one_thread_per_worker() -> None:
    """Each worker process is one unit of parallelism: Arrow's and polars' own thread pools would only
    oversubscribe the cores the pool already fills."""
    import pyarrow

    pyarrow.set_cpu_count(1)
    pyarrow.set_io_thread_count(1)


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
            self.client = self._dist.Client(address)
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
