"""Background jobs: a small manager that runs long calls (generation, a simulation cycle, a ground-truth
check, retraining, the whole loop, an A/B cycle) on a thread pool, tracks their progress, and keeps their
state where a restart finds it.

A job's state is in memory and in `reports/jobs/<id>.json` (written on every status change, and at most
once a second while progress moves). A job found `queued` or `running` when the service starts was cut
off by a stop: it is marked failed, with that reason. Progress events are kept in memory for the
server-sent event stream; after a restart only the final state is known.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homesim.io import write_json_atomic
from homesim.workspace import Workspace

log = structlog.get_logger("homesim.api.jobs")

JobKind = Literal["generation", "cycle", "ground_truth_verify", "retrain", "run", "ab"]
JobStatus = Literal["queued", "running", "succeeded", "failed"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed"})
#: Events kept per job for the event stream (the oldest go first; a stream resumes from the oldest kept).
MAX_EVENTS = 10_000
#: Seconds between writes of a running job's file while only its progress changes.
SAVE_EVERY_S = 1.0


class JobProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    done: int = 0
    #: Units of work (homes) in all, once known.
    total: int | None = None
    #: What the last step was: the home key, its status, counts so far.
    detail: dict[str, Any] = Field(default_factory=dict)


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    kind: JobKind
    status: JobStatus
    #: The request body the job was started with.
    request: dict[str, Any]
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    progress: JobProgress = Field(default_factory=JobProgress)
    result: dict[str, Any] | None = None
    error: str | None = None


class JobEvent(BaseModel):
    """One step of a job, as the event stream sends it: `status` changes and `progress` updates."""

    model_config = ConfigDict(frozen=True)

    seq: int
    event: Literal["status", "progress"]
    data: dict[str, Any]


class JobFailedError(Exception):
    """Raised by a runner whose work finished but failed; `result` says what it got to."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class JobContext:
    """What a runner gets: where and how to run, its request, and `report(done, total, detail)`."""

    workspace: Workspace
    executor: str
    workers: int
    request: dict[str, Any]
    report: Callable[[int, int | None, dict[str, Any]], None]


Runner = Callable[[JobContext], dict[str, Any]]


def _now() -> datetime:
    return datetime.now(UTC)


class JobManager:
    """Starts jobs of the kinds in `runners`, `concurrency` at a time; the rest wait in order."""

    def __init__(
        self,
        workspace: Workspace,
        runners: Mapping[str, Runner],
        *,
        executor: str = "process",
        workers: int = 2,
        concurrency: int = 1,
    ) -> None:
        self.workspace = workspace
        self.runners = dict(runners)
        self.executor, self.workers = executor, workers
        self.directory = workspace.jobs_dir
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._events: dict[str, list[JobEvent]] = {}
        self._saved_at: dict[str, float] = {}
        self.concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._load()

    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            try:
                job = Job.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                log.warning("job_file_unreadable", path=str(path), error=str(exc))
                continue
            if job.status not in TERMINAL:
                job = job.model_copy(
                    update={
                        "status": "failed",
                        "finished": _now(),
                        "error": f"interrupted: the service stopped while the job was {job.status}",
                    }
                )
                self._save(job)
            self._jobs[job.id] = job
            self._events[job.id] = []

    def _save(self, job: Job) -> None:
        write_json_atomic(self._path(job.id), job.model_dump(mode="json"))
        self._saved_at[job.id] = time.monotonic()

    def _path(self, job_id: str) -> Path:
        return self.directory / f"{job_id}.json"

    def submit(self, kind: JobKind, request: dict[str, Any]) -> Job:
        if kind not in self.runners:
            raise ValueError(f"no runner for job kind {kind!r}")
        job = Job(
            id=f"job-{uuid.uuid4().hex[:16]}", kind=kind, status="queued", request=request, created=_now()
        )
        with self._lock:
            self._jobs[job.id] = job
            self._events[job.id] = []
            self._emit(job.id, "status", {"status": "queued"})
            self._save(job)
        with self._lock:
            if self._pool is None:  # started on first use, and again after a close (a new app lifespan)
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="homesim-job")
            self._pool.submit(self._run, job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, *, kind: str | None = None, status: str | None = None, limit: int = 100) -> list[Job]:
        """Newest first."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if (kind is None or j.kind == kind) and (status is None or j.status == status)
            ]
        return sorted(found, key=lambda j: j.created, reverse=True)[:limit]

    def events_after(self, job_id: str, seq: int) -> tuple[list[JobEvent], Job]:
        """The job's events numbered above `seq`, and its current state (KeyError if unknown)."""
        with self._lock:
            return [e for e in self._events[job_id] if e.seq > seq], self._jobs[job_id]

    def _emit(self, job_id: str, event: Literal["status", "progress"], data: dict[str, Any]) -> None:
        events = self._events[job_id]
        events.append(JobEvent(seq=events[-1].seq + 1 if events else 1, event=event, data=data))
        if len(events) > MAX_EVENTS:
            del events[0]

    def _update(self, job_id: str, *, save: bool = True, **changes: Any) -> Job:
        with self._lock:
            job = self._jobs[job_id].model_copy(update=changes)
            self._jobs[job_id] = job
            if "status" in changes:
                self._emit(job_id, "status", {"status": job.status, "error": job.error})
            if save or time.monotonic() - self._saved_at.get(job_id, 0.0) >= SAVE_EVERY_S:
                self._save(job)
        return job

    def _run(self, job_id: str) -> None:
        """Run one job; whatever happens, it ends `succeeded` or `failed` (never left `running`)."""
        final: dict[str, Any]
        try:
            job = self._update(job_id, status="running", started=_now())

            def report(done: int, total: int | None, detail: dict[str, Any]) -> None:
                progress = JobProgress(done=done, total=total, detail=detail)
                with self._lock:
                    self._emit(job_id, "progress", progress.model_dump(mode="json"))
                self._update(job_id, save=False, progress=progress)

            context = JobContext(self.workspace, self.executor, self.workers, job.request, report)
            final = {"status": "succeeded", "result": self.runners[job.kind](context)}
        except JobFailedError as exc:
            final = {"status": "failed", "error": str(exc), "result": exc.result}
        except Exception as exc:  # a job's failure is its state, never the service's
            final = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        job = self._update(job_id, finished=_now(), **final)
        log.info("job_finished", job=job_id, kind=job.kind, status=job.status, error=job.error)

    def close(self) -> None:
        """Drop queued jobs (found interrupted at the next start); running ones finish in their thread."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
