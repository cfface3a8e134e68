"""Generation progress as events (homes done, events written, rate, ETA) and the callbacks that render them.

The manager emits one `ProgressEvent` per finished home; the CLI renders them as a Rich bar on a terminal
and as structlog lines otherwise. Timing here is wall clock on purpose: it never feeds into generated data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog


@dataclass(frozen=True)
class ProgressEvent:
    """Where a run stands after home `home_key` finished (`status`: generated, cached or failed)."""

    home_key: str
    status: str
    done: int
    total: int
    generated: int
    cached: int
    failed: int
    events: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Homes per second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None before the first home."""
        if self.done == 0 or self.rate == 0:
            return None
        return (self.total - self.done) / self.rate


ProgressCallback = Callable[[ProgressEvent], None]


class ProgressTracker:
    """Counts finished homes and turns each into a ProgressEvent for the callbacks."""

    def __init__(self, total: int, callbacks: list[ProgressCallback]) -> None:
        self.total = total
        self.callbacks = callbacks
        self.counts = {"generated": 0, "cached": 0, "failed": 0}
        self.events = 0
        self._started = time.perf_counter()

    def home_done(self, home_key: str, status: str, events: int) -> ProgressEvent:
        self.counts[status] += 1
        self.events += events
        event = ProgressEvent(
            home_key=home_key,
            status=status,
            done=sum(self.counts.values()),
            total=self.total,
            generated=self.counts["generated"],
            cached=self.counts["cached"],
            failed=self.counts["failed"],
            events=self.events,
            elapsed_s=time.perf_counter() - self._started,
        )
        for callback in self.callbacks:
            callback(event)
        return event


def log_progress(every: int = 1) -> ProgressCallback:
    """A callback writing a structlog line every `every` homes and at the last one (for non-TTY output)."""
    log = structlog.get_logger("homesim.generate")

    def callback(event: ProgressEvent) -> None:
        if event.done % every == 0 or event.done == event.total:
            eta = event.eta_s
            log.info(
                "homes_progress",
                done=event.done,
                total=event.total,
                generated=event.generated,
                cached=event.cached,
                failed=event.failed,
                events=event.events,
                homes_per_s=round(event.rate, 3),
                events_per_s=round(event.events_per_s),
                eta_s=None if eta is None else round(eta, 1),
            )

    return callback
