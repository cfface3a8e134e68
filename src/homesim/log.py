"""structlog configuration: console lines on a TTY, JSON lines otherwise (or when asked)."""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class _CurrentStderrLogger:
    """Writes each line to whatever `sys.stderr` is *now*: a stream captured at configuration time may be
    closed later (test runners swap stderr per test), and logging must never write to a closed file."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _current_stderr_logger(*_args: object) -> _CurrentStderrLogger:
    return _CurrentStderrLogger()


def configure_logging(level: str = "info", json_lines: bool | None = None) -> None:
    as_json = (not sys.stderr.isatty()) if json_lines is None else json_lines
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=_current_stderr_logger,
        cache_logger_on_first_use=False,
    )
