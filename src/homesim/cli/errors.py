"""The one place a user's mistake becomes one line on stderr and exit code 2 — never a traceback.

`HomesimGroup` is the app's click group: it runs every command (and sub-group) and turns usage errors,
pydantic validation errors (settings and config models) and the library's known input errors into
`homesim: error: <what>: <why>`. Bounds live in the models; this module only renders their verdicts.
Data that fails its integrity check (a file whose sha256 differs from the one recorded, a model artifact
changed since it was registered) is no user error but a refusal: one line too, exit code 1.
"""

from __future__ import annotations

import sqlite3
from typing import Any, NoReturn

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from typer._click import Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from homesim.generation.config import ConfigError
from homesim.io import IntegrityError
from homesim.retraining.registry import ArtifactIntegrityError

#: Exceptions the library raises for bad input (all ValueErrors: ConfigError, HaYamlError, ...),
#: missing or unreadable files, and files that are not what they claim (binary text, non-SQLite).
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValidationError,
    ValueError,
    SettingsError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    sqlite3.DatabaseError,
    RecursionError,
)

#: Refusals to use corrupted data (checked before USER_ERRORS: IntegrityError is a ValueError).
INTEGRITY_ERRORS: tuple[type[BaseException], ...] = (IntegrityError, ArtifactIntegrityError)


def _short(text: str, limit: int = 120) -> str:
    """`text` cut to `limit` characters: an error must never echo a huge value back (a 200 MB alias bomb)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(exc: BaseException) -> str:
    """One line for `exc`: pydantic errors name each field (HOMESIM_* for settings) and the value given."""
    if isinstance(exc, ValidationError):
        settings = exc.title == "Settings"
        parts = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or exc.title
            if settings:
                where = f"HOMESIM_{where.upper()} / --{where.replace('_', '-')}"
            got = "" if error["type"] == "missing" else f" (got {_short(repr(error['input']))})"
            parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}{got}")
        return "; ".join(parts)
    if isinstance(exc, ConfigError):
        return "invalid configuration: " + "; ".join(exc.problems)
    if isinstance(exc, UsageError):
        return exc.format_message()
    if isinstance(exc, RecursionError):
        return "input nested too deeply"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    return str(exc)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `message` as the command's single error line and exit `code` (2: the user's mistake)."""
    typer.echo(f"homesim: error: {' '.join(_short(message, 400).split())}", err=True)
    raise typer.Exit(code)


class HomesimGroup(TyperGroup):
    """Typer's group, with user errors rendered as one line (exit 2) instead of a panel or a traceback."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `homesim ha` alone: help, as Typer shows it
                raise
            prefix = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
            fail(prefix + describe(exc))
        except INTEGRITY_ERRORS as exc:
            fail(describe(exc), code=1)
        except USER_ERRORS as exc:
            fail(describe(exc))
