"""The per-home, content-addressed cache: home folders with sha256 manifests, atomic publish, locks, index.

A home lives at `data/homes/<home_key>/` (the key already hashes generator version, home-shaping config
fields, seed and index). It is written in a staging folder and renamed into place only when every file
and its `manifest.json` are complete, so a reader sees a whole home or none. A per-key file lock makes two
processes asking for the same home take turns: the second finds it published. The manifest on disk is the
truth; the SQLite index (WAL) is a fast summary for `cache stats` and is rebuilt from manifests on demand.

The index also keeps each home's file stamp (names, sizes, inodes, mtimes and ctimes, taken when the home
was published or last hashed whole): a re-request finds a home whose stamp is unchanged without hashing its
files again. Rewriting a file's bytes in place gives it a new ctime, which no user call can set back (unlike
the mtime); bytes changed without it (the disk itself) are still caught where the home is read, since every
read hashes what it parses, and `homesim cache verify` hashes every file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock
from pydantic import BaseModel, ConfigDict, ValidationError

from homesim import GENERATOR_VERSION
from homesim.io import write_json_atomic
from homesim.workspace import HOME_MANIFEST_FILE, HomeFolder, Workspace

_HASH_CHUNK = 1 << 20
#: How long a process waits for another to finish the same home before giving up.
LOCK_TIMEOUT_S = 600.0


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str
    bytes: int


class HomeManifest(BaseModel):
    """What a cached home holds. Deterministic (no timings) so identical homes have identical manifests."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_key: str
    home_index: int
    generator_version: str
    config: dict[str, Any]
    files: dict[str, FileEntry]
    events: int
    validation: dict[str, Any]

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files.values())


@dataclass(frozen=True)
class EntryProblem:
    """Why a cached entry cannot be used."""

    home_key: str
    problem: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class HomeCache:
    """Cache of home folders in one workspace. Safe to use from many processes at once."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    # --- reading and checking -------------------------------------------------------------------------

    def read_manifest(self, home_key: str) -> HomeManifest | None:
        path = self.workspace.home(home_key).manifest
        try:
            return HomeManifest.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            return None

    def check(self, home_key: str) -> EntryProblem | None:
        """None when the home is complete and every file matches its manifest's sha256; else the problem.

        Every file is hashed, every time: a size/mtime check would miss bytes changed under the same mtime
        (about 60 ms for a 14-day, 1.2 MB home; see docs/data-formats.md).
        """
        directory = self.workspace.home_dir(home_key)
        if not directory.is_dir():
            return EntryProblem(home_key, "missing")
        manifest = self.read_manifest(home_key)
        if manifest is None:
            return EntryProblem(home_key, f"{HOME_MANIFEST_FILE} missing or unreadable")
        if manifest.home_key != home_key:
            return EntryProblem(home_key, f"manifest names another home ({manifest.home_key})")
        for name, entry in manifest.files.items():
            path = directory / name
            if not path.is_file():
                return EntryProblem(home_key, f"{name} missing")
            stat = path.stat()
            if stat.st_size != entry.bytes:
                return EntryProblem(home_key, f"{name} has {stat.st_size} bytes, manifest says {entry.bytes}")
            if sha256_file(path) != entry.sha256:
                return EntryProblem(home_key, f"{name} sha256 differs from the manifest")
        return None

    def stamp(self, home_key: str) -> str | None:
        """A digest of the home folder's file names, sizes, inodes, mtimes and ctimes (None when absent)."""
        try:
            with os.scandir(self.workspace.home_dir(home_key)) as entries:
                stats = sorted((e.name, e.stat()) for e in entries)
        except OSError:
            return None
        text = "\n".join(
            f"{name} {st.st_size} {st.st_ino} {st.st_mtime_ns} {st.st_ctime_ns}" for name, st in stats
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def check_stamped(self, home_key: str, known: str | None) -> tuple[EntryProblem | None, str | None]:
        """`check`, skipping the hashing when the folder still has the stamp `known` it had when last found
        whole; returns (problem, the stamp to record: None when the home is not whole)."""
        stamp = self.stamp(home_key)
        if stamp is not None and stamp == known:
            return None, stamp
        problem = self.check(home_key)
        return problem, (stamp if problem is None else None)

    def keys(self) -> list[str]:
        """Keys of every home folder present (complete or not)."""
        if not self.workspace.homes_dir.is_dir():
            return []
        return sorted(p.name for p in self.workspace.homes_dir.iterdir() if p.is_dir())

    def verify(self) -> list[EntryProblem]:
        """Check every cached home; returns the broken ones."""
        return [problem for key in self.keys() if (problem := self.check(key)) is not None]

    # --- writing ----------------------------------------------------------------------------------------

    @contextmanager
    def lock(self, home_key: str) -> Iterator[None]:
        """Hold one home's cross-process lock; also clears staging left by killed writers of that home."""
        self.workspace.locks_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(self.workspace.home_lock(home_key), timeout=LOCK_TIMEOUT_S):
            # Only a lock holder writes a home's staging folder, so any left now belongs to a dead process.
            for stale in self._staging_of(home_key):
                shutil.rmtree(stale, ignore_errors=True)
            yield

    def _staging_of(self, home_key: str) -> list[Path]:
        if not self.workspace.staging_dir.is_dir():
            return []
        return list(self.workspace.staging_dir.glob(f"{home_key}.*"))

    def publish(
        self,
        home_key: str,
        write: Callable[[Path], dict[str, FileEntry]],
        describe: Callable[[dict[str, FileEntry]], HomeManifest],
    ) -> HomeManifest:
        """Write a home via `write(folder) -> entries` in staging (each file's sha256 and size, taken as it
        was written), add its manifest, and rename it into place.

        Call while holding `lock(home_key)`. A previous (broken) folder of the same key is replaced.
        """
        staging = self.workspace.staging_dir / f"{home_key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            manifest = describe(dict(sorted(write(staging).items())))
            write_json_atomic(HomeFolder(staging).manifest, manifest.model_dump(mode="json"))
            _fsync_dir(staging)
            target = self.workspace.home_dir(home_key)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                # A directory cannot be renamed over a non-empty one; move the broken entry aside first.
                trash = staging.with_name(staging.name + ".old")
                target.rename(trash)
                shutil.rmtree(trash)
            staging.rename(target)
            _fsync_dir(target.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return manifest

    def remove(self, home_key: str) -> None:
        with self.lock(home_key):
            shutil.rmtree(self.workspace.home_dir(home_key), ignore_errors=True)
        self.index().forget([home_key])

    def index(self) -> CacheIndex:
        return CacheIndex(self.workspace.cache_index)

    def clear(self) -> int:
        """Remove every cached home and the index; returns how many homes were removed."""
        keys = self.keys()
        for key in keys:
            self.remove(key)
        shutil.rmtree(self.workspace.staging_dir, ignore_errors=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.workspace.cache_index}{suffix}").unlink(missing_ok=True)
        return len(keys)

    def prune(self) -> list[EntryProblem]:
        """Remove broken entries, entries of other generator versions, and staging left by dead processes."""
        removed = []
        for key in self.keys():
            problem = self.check(key)
            manifest = self.read_manifest(key)
            if problem is None and manifest is not None and manifest.generator_version != GENERATOR_VERSION:
                problem = EntryProblem(key, f"generator version {manifest.generator_version}")
            if problem is not None:
                self.remove(key)
                removed.append(problem)
        if self.workspace.staging_dir.is_dir():
            for stale in sorted(self.workspace.staging_dir.iterdir()):
                with self.lock(stale.name.split(".")[0]):
                    removed.append(EntryProblem(stale.name, "staging left by a stopped process"))
        return removed

    def rebuild_index(self) -> int:
        """Recreate the index from the manifests on disk; returns the number of homes indexed."""
        manifests = [m for key in self.keys() if (m := self.read_manifest(key)) is not None]
        index = self.index()
        index.reset()
        index.record(manifests)
        return len(manifests)


class CacheIndex:
    """SQLite summary of cached homes (WAL: readers and concurrent writers from other processes coexist)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=60)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            # A summary rebuilt from the manifests (and stamps that only spare hashing): a power cut may lose
            # its last commits, never corrupt it, so commits need not wait for the disk (one per home).
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS homes (home_key TEXT PRIMARY KEY, home_index INTEGER NOT NULL, "
                "generator_version TEXT NOT NULL, events INTEGER NOT NULL, bytes INTEGER NOT NULL, "
                "manifest TEXT NOT NULL)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS stamps (home_key TEXT PRIMARY KEY, stamp TEXT NOT NULL)")
            with conn:
                yield conn

    def record(self, manifests: list[HomeManifest], stamps: dict[str, str] | None = None) -> None:
        """Add or replace homes, with the file stamps known for them (one transaction)."""
        rows = [
            (m.home_key, m.home_index, m.generator_version, m.events, m.total_bytes, m.model_dump_json())
            for m in manifests
        ]
        with self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO homes VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT OR REPLACE INTO stamps VALUES (?, ?)", list((stamps or {}).items()))

    def forget(self, keys: list[str]) -> None:
        with self._connect() as conn:
            conn.executemany("DELETE FROM homes WHERE home_key = ?", [(k,) for k in keys])
            conn.executemany("DELETE FROM stamps WHERE home_key = ?", [(k,) for k in keys])

    def reset(self) -> None:
        with self._connect() as conn:
            conn.execute("DELETE FROM homes")
            conn.execute("DELETE FROM stamps")

    def stamps(self) -> dict[str, str]:
        """The file stamp of each home last found whole (`HomeCache.stamp`)."""
        with self._connect() as conn:
            return dict(conn.execute("SELECT home_key, stamp FROM stamps").fetchall())

    def record_stamps(self, stamps: dict[str, str]) -> None:
        with self._connect() as conn:
            conn.executemany("INSERT OR REPLACE INTO stamps VALUES (?, ?)", list(stamps.items()))

    def stats(self) -> dict[str, Any]:
        with self._connect() as conn:
            homes, events, size = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(events), 0), COALESCE(SUM(bytes), 0) FROM homes"
            ).fetchone()
            versions = dict(
                conn.execute("SELECT generator_version, COUNT(*) FROM homes GROUP BY 1").fetchall()
            )
        return {"homes": homes, "events": events, "bytes": size, "generator_versions": versions}

    def keys(self) -> list[str]:
        with self._connect() as conn:
            return [row[0] for row in conn.execute("SELECT home_key FROM homes ORDER BY home_key")]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
