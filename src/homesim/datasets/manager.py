"""DataGenerationManager: makes many homes through an executor, from cache where possible; records the run.

One task per home (`build_home`) runs wherever the executor puts it: under the home's file lock it reuses a
verified cached home or generates, validates and publishes it. Because the task is a pure function of
(config home fields, seed, index), the homes are byte-identical whichever executor ran them. The manager
collects results as they complete, updates the cache index, emits progress, and writes the dataset manifest
and validation report. `CachedHomeGenerator` is the on-demand entry point the simulation calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from homesim import GENERATOR_VERSION
from homesim.datasets.cache import HomeCache, HomeManifest
from homesim.datasets.executors import Executor, InlineExecutor, make_executor
from homesim.datasets.home_folder import read_events, read_home, read_truth, write_home_files
from homesim.datasets.manifest import (
    DatasetCounts,
    DatasetManifest,
    DatasetTimings,
    dataset_id,
    write_dataset,
)
from homesim.datasets.progress import ProgressCallback, ProgressTracker
from homesim.datasets.validation import HomeValidation, ValidationReport, validate_home
from homesim.datasets.verification import write_accuracy_report
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.accuracy import accuracy_of
from homesim.ground_truth.truth import verified_home
from homesim.schema.home import Home
from homesim.settings import Settings
from homesim.workspace import Workspace

Status = Literal["generated", "cached", "failed"]


@dataclass(frozen=True)
class HomeTask:
    """Everything a worker needs to build one home (picklable)."""

    root: Path
    config: GenerationConfig
    index: int


class HomeResult(BaseModel):
    """Outcome of one home: where it is, or why it failed (`error`, with the home's key)."""

    model_config = ConfigDict(frozen=True)

    index: int
    home_key: str
    status: Status
    directory: Path | None
    manifest: HomeManifest | None
    validation: HomeValidation | None
    error: str | None = None
    seconds: float

    @property
    def events(self) -> int:
        return self.manifest.events if self.manifest else 0

    @property
    def bytes(self) -> int:
        return self.manifest.total_bytes if self.manifest else 0


def _cached_result(
    cache: HomeCache, workspace: Workspace, config: GenerationConfig, index: int, stamps: dict[str, str]
) -> HomeResult | None:
    """The cached home `index` when it is whole (its stamp in `stamps` is updated), else None."""
    started = time.perf_counter()
    key = config.home_key(index)
    problem, stamp = cache.check_stamped(key, stamps.get(key))
    if problem is not None or stamp is None:
        return None
    manifest = cache.read_manifest(key)
    if manifest is None:
        return None
    stamps[key] = stamp
    return HomeResult(
        index=index,
        home_key=key,
        status="cached",
        directory=workspace.home_dir(key),
        manifest=manifest,
        validation=HomeValidation.model_validate(manifest.validation),
        seconds=time.perf_counter() - started,
    )


def _failed(
    task: HomeTask, key: str, error: str, started: float, validation: HomeValidation | None = None
) -> HomeResult:
    return HomeResult(
        index=task.index,
        home_key=key,
        status="failed",
        directory=None,
        manifest=None,
        validation=validation,
        error=error,
        seconds=time.perf_counter() - started,
    )


def build_home(task: HomeTask) -> HomeResult:
    """Reuse the cached home if it verifies, else generate, validate and publish it. Never raises."""
    started = time.perf_counter()
    key = task.config.home_key(task.index)
    workspace = Workspace(task.root)
    cache = HomeCache(workspace)
    status: Status = "cached"
    try:
        with cache.lock(key):
            manifest = cache.read_manifest(key) if cache.check(key) is None else None
            if manifest is None:
                status = "generated"
                generated = generate_home(task.config, task.index)
                validation = validate_home(generated.home, generated.events)
                if not validation.ok:
                    rules = sorted({f.rule for f in validation.failures if f.severity == "error"})
                    return _failed(task, key, f"validation failed: {rules}", started, validation)
                manifest = cache.publish(
                    key,
                    lambda folder: write_home_files(generated, folder),
                    lambda files: HomeManifest(
                        home_key=key,
                        home_index=task.index,
                        generator_version=GENERATOR_VERSION,
                        config=task.config.home_fields(),
                        files=files,
                        events=generated.events.num_rows,
                        validation=validation.model_dump(mode="json"),
                    ),
                )
    except Exception as exc:  # one home's failure is reported with its key, never lost among the others
        return _failed(task, key, f"{type(exc).__name__}: {exc}", started)
    return HomeResult(
        index=task.index,
        home_key=key,
        status=status,
        directory=workspace.home_dir(key),
        manifest=manifest,
        validation=HomeValidation.model_validate(manifest.validation),
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True)
class GenerationResult:
    manifest: DatasetManifest
    manifest_path: Path
    homes: list[HomeResult]
    report: ValidationReport

    @property
    def failures(self) -> list[HomeResult]:
        return [h for h in self.homes if h.status == "failed"]

    def count(self, status: Status) -> int:
        return sum(h.status == status for h in self.homes)


class DataGenerationManager:
    """Generates homes into a workspace through an executor (`inline`, `process`, `dask…`, or an instance)."""

    def __init__(
        self,
        workspace: Workspace,
        executor: Executor | str = "process",
        *,
        workers: int = 2,
        progress: Sequence[ProgressCallback] = (),
    ) -> None:
        self.workspace = workspace
        self._owns_executor = isinstance(executor, str)
        self.executor = make_executor(executor, workers) if isinstance(executor, str) else executor
        self.progress = list(progress)
        self.cache = HomeCache(workspace)
        #: Result of the last completed `stream` (its dataset manifest and validation report).
        self.last_result: GenerationResult | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: object) -> DataGenerationManager:
        return cls(Workspace(settings.workspace), settings.executor, workers=settings.workers, **kwargs)  # type: ignore[arg-type]

    def __enter__(self) -> DataGenerationManager:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Release the executor if this manager created it."""
        if self._owns_executor:
            self.executor.close()

    def ensure(self, config: GenerationConfig, indices: Sequence[int] | None = None) -> Iterator[HomeResult]:
        """Yield each requested home (default: all of `config.homes`) as it completes, cached or generated."""
        wanted = range(config.homes) if indices is None else indices
        tracker = ProgressTracker(len(wanted), self.progress)
        index = self.cache.index()
        known = index.stamps()
        stamps = dict(known)
        tasks = []
        for i in wanted:
            # Checked here first: a re-request of cached homes needs no worker; a home whose bytes changed
            # goes to a worker and is regenerated. A home keeping the stamp it had when last found whole is
            # not hashed again (see `homesim.datasets.cache`).
            cached = _cached_result(self.cache, self.workspace, config, i, stamps)
            if cached is None:
                tasks.append(HomeTask(self.workspace.root, config, i))
                continue
            tracker.home_done(cached.home_key, cached.status, cached.events)
            yield cached
        index.record_stamps({k: v for k, v in stamps.items() if known.get(k) != v})
        for result in self.executor.map_unordered(build_home, tasks):
            if result.status == "generated" and result.manifest is not None:
                stamp = self.cache.stamp(result.home_key)
                index.record([result.manifest], {result.home_key: stamp} if stamp else None)
            tracker.home_done(result.home_key, result.status, result.events)
            yield result

    def generate(self, config: GenerationConfig) -> GenerationResult:
        """Make every home of `config` (reusing cached ones) and write the dataset manifest."""
        started_at, started = datetime.now(UTC), time.perf_counter()
        return self._finish(config, list(self.ensure(config)), started_at, started)

    async def stream(self, config: GenerationConfig) -> AsyncIterator[HomeResult]:
        """`async for home in manager.stream(config)`: each home as it completes; manifest written last.

        The executor runs in a worker thread, so the event loop stays free while homes are made.
        """
        started_at, started = datetime.now(UTC), time.perf_counter()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[HomeResult | BaseException | None] = asyncio.Queue()

        stop = threading.Event()

        def post(item: HomeResult | BaseException | None) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the consumer has gone, nobody to tell
                stop.set()

        def produce() -> None:
            try:
                for result in self.ensure(config):
                    if stop.is_set():  # consumer left early: closing ensure() cancels the remaining homes
                        return
                    post(result)
            except BaseException as exc:  # handed to the consumer, which re-raises it
                post(exc)
                return
            post(None)

        thread = threading.Thread(target=produce, name="homesim-stream", daemon=True)
        thread.start()
        results: list[HomeResult] = []
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                results.append(item)
                yield item
        finally:
            stop.set()
        await asyncio.to_thread(thread.join)
        self.last_result = await asyncio.to_thread(self._finish, config, results, started_at, started)

    def _finish(
        self, config: GenerationConfig, results: list[HomeResult], started_at: datetime, started: float
    ) -> GenerationResult:
        homes = sorted(results, key=lambda r: r.index)
        wall = time.perf_counter() - started
        ok = [h for h in homes if h.status != "failed"]
        events = sum(h.events for h in ok)
        report = ValidationReport.from_homes(h.validation for h in homes if h.validation is not None)
        # The detector scores are stored in the ground truth of the sampled homes: no mining pass here.
        accuracy = accuracy_of(
            read_truth(h.directory) for h in ok if h.directory is not None and verified_home(h.index)
        )
        manifest = DatasetManifest(
            dataset_id=dataset_id(config),
            config=config.model_dump(mode="json"),
            config_hash=config.config_hash(),
            generator_version=GENERATOR_VERSION,
            executor=self.executor.name,
            home_keys=tuple(h.home_key for h in ok),
            failures={h.home_key: h.error or "" for h in homes if h.status == "failed"},
            counts=DatasetCounts(
                homes=len(homes),
                generated=sum(h.status == "generated" for h in homes),
                cached=sum(h.status == "cached" for h in homes),
                failed=len(homes) - len(ok),
                events=events,
                bytes=sum(h.bytes for h in ok),
            ),
            timings=DatasetTimings(
                started_at=started_at,
                finished_at=datetime.now(UTC),
                wall_s=wall,
                homes_per_s=len(homes) / wall if wall else 0.0,
                events_per_s=events / wall if wall else 0.0,
            ),
            validation=report.summary(),
            ground_truth_accuracy=accuracy.model_dump(mode="json"),
        )
        path = write_dataset(self.workspace, manifest, report)
        write_accuracy_report(accuracy, path.parent)
        return GenerationResult(manifest=manifest, manifest_path=path, homes=homes, report=report)


@dataclass
class HomeBatch:
    """Homes asked of CachedHomeGenerator: folders by key, and errors by key for homes that failed."""

    homes: dict[str, Path] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def load(self, home_key: str) -> tuple[Home, pa.Table]:
        directory = self.homes[home_key]
        return read_home(directory), read_events(directory)


class CachedHomeGenerator:
    """On-demand homes for the simulation: served from the cache when present, generated otherwise."""

    def __init__(self, workspace: Workspace, executor: Executor | None = None) -> None:
        self.manager = DataGenerationManager(workspace, executor or InlineExecutor())

    def get(self, config: GenerationConfig, indices: Sequence[int] | None = None) -> HomeBatch:
        batch = HomeBatch()
        for result in sorted(self.manager.ensure(config, indices), key=lambda r: r.index):
            if result.directory is not None:
                batch.homes[result.home_key] = result.directory
            else:
                batch.errors[result.home_key] = result.error or "unknown error"
        return batch
