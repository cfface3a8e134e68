"""Background jobs: a small manager that runs long calls (generation, a simulation cycle, a ground-truth
check, retraining, the whole loop, an A/B cycle) on a thread pool, tracks their progress, and keeps their
state where a restart finds it.

The queue is bounded: at most `max_jobs` jobs queued or running (more: 429), and no job costing more than
`max_cost` home-days (homes × days, × cycles for a run: 422). A job is cancelled with `cancel`: a queued
one at once, a running one at its runner's next progress report (`JobContext.report` raises
`JobCancelledError`, which unwinds the runner through its `with` blocks, so its worker pool shuts down).
`close` (the service's shutdown) cancels every job and waits up to `SHUTDOWN_GRACE_S` for them to stop.

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
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homesim.api.errors import ApiError, clean
from homesim.io import write_json_atomic
from homesim.workspace import Workspace

log = structlog.get_logger("homesim.api.jobs")

JobKind = Literal["generation", "cycle", "ground_truth_verify", "retrain", "run", "ab"]
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"queued", "running"})
#: Events kept per job for the event stream (the oldest go first; a stream resumes from the oldest kept).
MAX_EVENTS = 10_000
#: Seconds between writes of a running job's file while only its progress changes.
SAVE_EVERY_S = 1.0
#: Seconds the service's shutdown waits for cancelled jobs to stop (each stops at its next progress report).
SHUTDOWN_GRACE_S = 30.0


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
    #: Home-days the job generates or simulates (homes × days; × cycles for a run); 0 for retraining.
    cost: int = 0
    #: Set when a cancel was asked for while the job ran; it ends `cancelled` at its next progress report.
    cancel_requested: bool = False
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


class JobCancelledError(Exception):
    """Raised inside a runner (by `JobContext.report`) once its job is cancelled; the message says why."""


class JobFailedError(Exception):
    """Raised by a runner whose work finished but failed; `result` says what it got to."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class JobContext:
    """What a runner gets: where and how to run, its request, and `report(done, total, detail)`.

    `report` raises JobCancelledError once the job is cancelled; a runner with long silent steps may also
    look at `cancelled` between them.
    """

    workspace: Workspace
    executor: str
    workers: int
    request: dict[str, Any]
    report: Callable[[int, int | None, dict[str, Any]], None]
    cancelled: threading.Event


Runner = Callable[[JobContext], dict[str, Any]]


def _now() -> datetime:
    return datetime.now(UTC)


class JobManager:
    """Starts jobs of the kinds in `runners`, `concurrency` at a time; the rest wait in order, at most
    `max_jobs` queued or running, none costing over `max_cost` home-days."""

    def __init__(
        self,
        workspace: Workspace,
        runners: Mapping[str, Runner],
        *,
        executor: str = "process",
        workers: int = 2,
        concurrency: int = 1,
        max_jobs: int = 8,
        max_cost: int = 100_000,
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
        self.max_jobs, self.max_cost = max_jobs, max_cost
        self._cancel: dict[str, threading.Event] = {}
        self._reasons: dict[str, str] = {}
        self._futures: dict[str, Future[None]] = {}
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

    def submit(self, kind: JobKind, request: dict[str, Any], cost: int = 0) -> Job:
        """Queue a job; 422 (ApiError) when it costs too much, 429 when the queue is full."""
        if kind not in self.runners:
            raise ValueError(f"no runner for job kind {kind!r}")
        if cost > self.max_cost:
            raise ApiError(
                422,
                "job too large",
                f"this job would generate or simulate {cost:,} home-days; this service runs at most "
                f"{self.max_cost:,} per job (HOMESIM_API_MAX_JOB_COST): ask for fewer homes or days",
            )
        job = Job(
            id=f"job-{uuid.uuid4().hex[:16]}",
            kind=kind,
            status="queued",
            request=request,
            cost=cost,
            created=_now(),
        )
        with self._lock:
            active = sum(1 for j in self._jobs.values() if j.status in ACTIVE)
            if active >= self.max_jobs:
                raise ApiError(
                    429,
                    "too many jobs",
                    f"{active} jobs are queued or running, the most this service holds "
                    "(HOMESIM_API_MAX_JOBS): wait for one to finish, or cancel one (DELETE /v1/jobs/{id})",
                    {"Retry-After": "30"},
                )
            self._jobs[job.id] = job
            self._events[job.id] = []
            self._cancel[job.id] = threading.Event()
            self._emit(job.id, "status", {"status": "queued"})
            self._save(job)
            self._futures = {k: f for k, f in self._futures.items() if not f.done()}
            if self._pool is None:  # started on first use, and again after a close (a new app lifespan)
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="homesim-job")
            self._futures[job.id] = self._pool.submit(self._run, job.id)
        return job

    def cancel(self, job_id: str, reason: str = "cancelled by a DELETE request") -> Job:
        """Cancel a job: a queued one ends now, a running one at its next progress report (KeyError if
        unknown; 409 ApiError if it already ended)."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status in TERMINAL:
                raise ApiError(409, "conflict", f"job {job_id} already ended ({job.status})")
            self._reasons[job_id] = reason
            self._cancel[job_id].set()
        if job.status == "queued":
            return self._update(job_id, status="cancelled", finished=_now(), error=f"cancelled: {reason}")
        return self._update(job_id, cancel_requested=True)

    def cancel_all(self, reason: str) -> None:
        """Cancel every queued or running job (the service is stopping)."""
        with self._lock:
            active = [j.id for j in self._jobs.values() if j.status in ACTIVE]
        for job_id in active:
            try:
                self.cancel(job_id, reason)
            except ApiError:  # it ended in between
                continue

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
        """Run one job; whatever happens, it ends `succeeded`, `failed` or `cancelled` (never `running`)."""
        final: dict[str, Any]
        cancelled = self._cancel[job_id]
        with self._lock:
            if self._jobs[job_id].status != "queued":  # cancelled while it waited
                return
        try:
            job = self._update(job_id, status="running", started=_now())

            def report(done: int, total: int | None, detail: dict[str, Any]) -> None:
                if cancelled.is_set():
                    raise JobCancelledError(self._reasons.get(job_id, "cancelled"))
                progress = JobProgress(done=done, total=total, detail=detail)
                with self._lock:
                    self._emit(job_id, "progress", progress.model_dump(mode="json"))
                self._update(job_id, save=False, progress=progress)

            context = JobContext(self.workspace, self.executor, self.workers, job.request, report, cancelled)
            final = {"status": "succeeded", "result": self.runners[job.kind](context)}
        except Exception as exc:  # a job's failure is its state, never the service's
            if cancelled.is_set():  # JobCancelledError, or what a runner made of it
                final = {"status": "cancelled", "error": f"cancelled: {self._reasons.get(job_id, exc)}"}
            elif isinstance(exc, JobFailedError):
                final = {"status": "failed", "error": str(exc), "result": exc.result}
            else:
                final = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            # The whole error goes to the log; the job (which the API answers) keeps it bounded, path-free.
            log.info("job_failed", job=job_id, status=final["status"], error=final["error"])
            final["error"] = clean(final["error"])
        job = self._update(job_id, finished=_now(), **final)
        log.info("job_finished", job=job_id, kind=job.kind, status=job.status, error=job.error)

    def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """Cancel every job and wait up to `grace_s` for the running ones to stop (their pools with them)."""
        self.cancel_all("the service is stopping")
        with self._lock:
            pool, self._pool = self._pool, None
            futures = list(self._futures.values())
            self._futures.clear()
        wait(futures, timeout=grace_s)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
