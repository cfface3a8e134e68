"""The one place that knows the workspace's layout: every folder and every file it holds, by name.

Like dagster's IO managers or kedro's data catalog, callers ask for a file by what it is
(`workspace.home("h1").events`, `workspace.cycle_report(3, "ds-…").json`) and never spell a file name,
build a folder path or walk a path's parents. Readers and writers that need the upper layers' models
(a `Home`, a `GroundTruth`, a dataset manifest) stay beside those models; they get their paths here.

```
<root>/
  data/homes/<home_key>/          home.json events.parquet environment.parquet behaviors.json
                                  ground_truth.json activities.parquet manifest.json
  data/real_homes/real-<name>/    home.json events.parquet activities.parquet import_report.json
                                  (imported real homes: `homesim import-history`)
  data/cache/                     staging/ locks/<home_key>.lock index.sqlite
  data/datasets/<dataset_id>/     manifest.json validation_report.json ground_truth_accuracy.json
  reports/                        cycle_<n>_<dataset_id>.json|.md  ab_<model_type>_<n>.json
                                  evaluations/<model_type>_<version>.json|.md  runs/<run_id>.json latest.json
                                  jobs/<job_id>.json  lineage_audit.json  html/<name>.html
                                  realism/ summary.json days.parquet hour_profile.parquet [transfer.json]
  training_data/                  records.sqlite  cycle_<n>/<model_type>/  aggregated/<model_type>/
  lineage.sqlite  lineage/openlineage.jsonl  registry.sqlite  models/<model_type>/v<k>/  models/.staging/
  runs/<run_id>/                  training_data/  lineage.sqlite  lineage/  reports/cycle_<n>_<dataset_id>.*
                                  (a `homesim run`'s own cycles: see `Workspace.for_run`)
```

A cycle belongs to a session: the ad-hoc session (`homesim simulate`, the top-level `training_data/`,
`lineage.sqlite` and `reports/cycle_*`) or one named run (`runs/<run_id>/`). A run never sees records it did
not produce, so its cycle 1 and an ad-hoc cycle 1 never mix, overwrite each other's exports or train together.
Homes, datasets, the model registry, run files and every other report are shared by all sessions.

This module sits in the bottom layer (it may import only `schema`, `io`, `settings`, `log`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# ------------------------------------------------------------------------------------- a home's files
HOME_FILE: Final = "home.json"
EVENTS_FILE: Final = "events.parquet"
ENVIRONMENT_FILE: Final = "environment.parquet"
BEHAVIORS_FILE: Final = "behaviors.json"
GROUND_TRUTH_FILE: Final = "ground_truth.json"
#: Activity intervals of a home (synthetic truth or an imported real home's labels).
ACTIVITIES_FILE: Final = "activities.parquet"
#: What an imported real home was read from: every input line imported or skipped, and why.
IMPORT_REPORT_FILE: Final = "import_report.json"
#: The cache entry of a home folder: sha256 and size of every file (see `datasets.cache`).
HOME_MANIFEST_FILE: Final = "manifest.json"

# ---------------------------------------------------------------------------------- a dataset's files
DATASET_MANIFEST_FILE: Final = "manifest.json"
VALIDATION_REPORT_FILE: Final = "validation_report.json"
ACCURACY_FILE: Final = "ground_truth_accuracy.json"

# ------------------------------------------------------------------------------------ exports, runs
#: Each export folder (`training_data/<scope>/<model_type>/`) describes itself in this file.
EXPORT_METADATA_FILE: Final = "metadata.json"
AGGREGATED: Final = "aggregated"
LATEST_RUN: Final = "latest"
#: Where each run's own cycles live (`runs/<run_id>/`).
RUNS_DIR: Final = "runs"
LINEAGE_AUDIT_FILE: Final = "lineage_audit.json"
OPENLINEAGE_FILE: Final = Path("lineage") / "openlineage.jsonl"

#: The latest realism report (`homesim realism`): summary, frames its plots need, train-synthetic-test-real.
REALISM_DIR: Final = "realism"
REALISM_SUMMARY_FILE: Final = "summary.json"
REALISM_DAYS_FILE: Final = "days.parquet"
REALISM_HOUR_PROFILE_FILE: Final = "hour_profile.parquet"
REALISM_TRANSFER_FILE: Final = "transfer.json"

_CYCLE_PREFIX: Final = "cycle_"
_CYCLE_REPORT = re.compile(r"cycle_(?P<cycle>\d+)_(?P<dataset_id>.+)\.json")
_AB_REPORT = re.compile(r"ab_(?P<model_type>[a-z_]+)_(?P<cycle>\d+)\.json")
_EXPORT_SCOPE = re.compile(r"aggregated|cycle_(?P<cycle>[0-9]{1,9})")


def export_scope_cycle(scope: str) -> int | None:
    """The cycle an export scope names (`cycle_<n>`), None for `aggregated`; ValueError for anything else."""
    m = _EXPORT_SCOPE.fullmatch(scope)
    if m is None:
        raise ValueError(f"scope {scope!r} is neither 'aggregated' nor 'cycle_<n>'")
    return None if m["cycle"] is None else int(m["cycle"])


@dataclass(frozen=True)
class HomeFolder:
    """The files of one home, in a workspace or anywhere (`homesim ha export HOME_DIR`)."""

    path: Path

    @property
    def key(self) -> str:
        return self.path.name

    @property
    def home_json(self) -> Path:
        return self.path / HOME_FILE

    @property
    def events(self) -> Path:
        return self.path / EVENTS_FILE

    @property
    def environment(self) -> Path:
        return self.path / ENVIRONMENT_FILE

    @property
    def behaviors(self) -> Path:
        return self.path / BEHAVIORS_FILE

    @property
    def ground_truth(self) -> Path:
        return self.path / GROUND_TRUTH_FILE

    @property
    def activities(self) -> Path:
        return self.path / ACTIVITIES_FILE

    @property
    def import_report(self) -> Path:
        return self.path / IMPORT_REPORT_FILE

    @property
    def manifest(self) -> Path:
        return self.path / HOME_MANIFEST_FILE

    def is_home(self) -> bool:
        """A folder holding at least a home's structure and its events."""
        return self.home_json.is_file() and self.events.is_file()


def home_folders_in(folder: Path) -> list[HomeFolder]:
    """The home folders directly inside `folder` (any folder of homes), sorted by name."""
    if not folder.is_dir():
        return []
    return sorted((HomeFolder(p) for p in folder.iterdir() if HomeFolder(p).is_home()), key=lambda h: h.path)


@dataclass(frozen=True)
class DatasetFolder:
    """The files of one dataset (`data/datasets/<dataset_id>/`); its homes live in the workspace's
    `data/homes/` and are listed by the manifest."""

    path: Path

    @property
    def dataset_id(self) -> str:
        return self.path.name

    @property
    def manifest(self) -> Path:
        return self.path / DATASET_MANIFEST_FILE

    @property
    def validation_report(self) -> Path:
        return self.path / VALIDATION_REPORT_FILE

    @property
    def accuracy_report(self) -> Path:
        return self.path / ACCURACY_FILE

    def is_dataset(self) -> bool:
        return self.manifest.is_file()

    @property
    def workspace(self) -> Workspace:
        """The workspace this dataset folder belongs to (`<root>/data/datasets/<dataset_id>`)."""
        return Workspace(self.path.parent.parent.parent)


@dataclass(frozen=True)
class ReportFiles:
    """A report written twice: JSON for programs, markdown for people."""

    json: Path
    md: Path


@dataclass(frozen=True)
class RealismFiles:
    """A saved realism report (`reports/realism/`)."""

    path: Path

    @property
    def summary(self) -> Path:
        return self.path / REALISM_SUMMARY_FILE

    @property
    def days(self) -> Path:
        return self.path / REALISM_DAYS_FILE

    @property
    def hour_profile(self) -> Path:
        return self.path / REALISM_HOUR_PROFILE_FILE

    @property
    def transfer(self) -> Path:
        return self.path / REALISM_TRANSFER_FILE


@dataclass(frozen=True)
class CycleReportFile:
    cycle: int
    dataset_id: str
    path: Path


@dataclass(frozen=True)
class ABReportFile:
    model_type: str
    cycle: int
    path: Path


#: Key prefix of imported real homes: they live apart from the cache, which may delete and regenerate
#: its homes, while a real home's history cannot be regenerated.
REAL_HOME_PREFIX = "real-"


def check_run_id(run_id: str) -> str:
    """`run_id` if it is a plain file name; ValueError otherwise (it names files and folders)."""
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise ValueError(f"invalid run id {run_id!r}")
    return run_id


@dataclass(frozen=True)
class Workspace:
    root: Path
    #: The session whose cycles this view reads and writes: a run's id, or None for the ad-hoc session.
    run_id: str | None = None

    @classmethod
    def of_export(cls, export_dir: Path) -> Workspace:
        """The workspace and session of `[runs/<id>/]training_data/<scope>/<model_type>/`."""
        session = export_dir.parent.parent.parent
        # A run's session holds no homes (`data/`): a workspace that merely sits in a folder named runs does.
        if session.parent.name == RUNS_DIR and not (session / "data").is_dir():
            return cls(session.parent.parent, session.name)
        return cls(session)

    # ------------------------------------------------------------------------------------ sessions
    def for_run(self, run_id: str) -> Workspace:
        """This workspace as run `run_id` sees it: its own records, lineage, exports and cycle reports."""
        return Workspace(self.root, check_run_id(run_id))

    @property
    def ad_hoc(self) -> Workspace:
        """This workspace as the ad-hoc session (`homesim simulate`) sees it."""
        return Workspace(self.root)

    @property
    def session_dir(self) -> Path:
        """Where this session's cycles live: the root (ad-hoc) or `runs/<run_id>/`."""
        return self.root if self.run_id is None else self.root / RUNS_DIR / self.run_id

    def run_sessions(self) -> list[str]:
        """The runs that own cycles here (`runs/<run_id>/`), sorted."""
        folder = self.root / RUNS_DIR
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    # --------------------------------------------------------------------------------------- homes
    @property
    def homes_dir(self) -> Path:
        """Generated homes (the cache)."""
        return self.root / "data" / "homes"

    @property
    def real_homes_dir(self) -> Path:
        """Imported real homes (`homesim import-history`), keyed `real-…`."""
        return self.root / "data" / "real_homes"

    def home_dir(self, home_key: str) -> Path:
        base = self.real_homes_dir if home_key.startswith(REAL_HOME_PREFIX) else self.homes_dir
        return base / home_key

    def home(self, home_key: str) -> HomeFolder:
        return HomeFolder(self.home_dir(home_key))

    @property
    def staging_dir(self) -> Path:
        """Homes being written; a home folder is renamed into `homes_dir` only once complete."""
        return self.root / "data" / "cache" / "staging"

    @property
    def locks_dir(self) -> Path:
        return self.root / "data" / "cache" / "locks"

    def home_lock(self, home_key: str) -> Path:
        return self.locks_dir / f"{home_key}.lock"

    @property
    def cache_index(self) -> Path:
        return self.root / "data" / "cache" / "index.sqlite"

    # ------------------------------------------------------------------------------------ datasets
    @property
    def datasets_dir(self) -> Path:
        return self.root / "data" / "datasets"

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.datasets_dir / dataset_id

    def dataset(self, dataset_id: str) -> DatasetFolder:
        return DatasetFolder(self.dataset_dir(dataset_id))

    def latest_dataset(self) -> DatasetFolder | None:
        """The dataset whose manifest was written last (by `generate`, cached homes or not), or None."""
        return max(self.datasets(), key=lambda d: d.manifest.stat().st_mtime_ns, default=None)

    def datasets(self) -> list[DatasetFolder]:
        """Every dataset folder that holds a manifest, sorted by id."""
        return sorted(
            (DatasetFolder(p.parent) for p in self.datasets_dir.glob(f"*/{DATASET_MANIFEST_FILE}")),
            key=lambda d: d.path,
        )

    # ------------------------------------------------------------------------------------- reports
    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def _cycle_reports_dir(self) -> Path:
        return self.session_dir / "reports"

    def cycle_report(self, cycle: int, dataset_id: str) -> ReportFiles:
        """`[runs/<run_id>/]reports/cycle_<n>_<dataset_id>.json` and `.md` (this session's)."""
        base = self._cycle_reports_dir / f"{_CYCLE_PREFIX}{cycle}_{dataset_id}"
        return ReportFiles(base.with_suffix(".json"), base.with_suffix(".md"))

    def cycle_reports(self, cycle: int | None = None) -> list[CycleReportFile]:
        """This session's cycle reports (of one cycle, or all), ordered by cycle then dataset."""
        found = []
        folder = self._cycle_reports_dir
        for path in folder.iterdir() if folder.is_dir() else ():
            m = _CYCLE_REPORT.fullmatch(path.name)
            if m and (cycle is None or int(m["cycle"]) == cycle):
                found.append(CycleReportFile(int(m["cycle"]), m["dataset_id"], path))
        return sorted(found, key=lambda f: (f.cycle, f.dataset_id))

    def ab_report(self, model_type: str, cycle: int) -> Path:
        """`reports/ab_<model_type>_<cycle>.json`."""
        return self.reports_dir / f"ab_{model_type}_{cycle}.json"

    def ab_reports(self) -> list[ABReportFile]:
        """The A/B result files present, ordered by cycle then model type."""
        found = []
        for path in self._reports():
            m = _AB_REPORT.fullmatch(path.name)
            if m:
                found.append(ABReportFile(m["model_type"], int(m["cycle"]), path))
        return sorted(found, key=lambda f: (f.cycle, f.model_type))

    def evaluation_report(self, model_type: str, version: str | None) -> ReportFiles:
        """`reports/evaluations/<model_type>_<version>.json` and `.md` (`candidate` before registration)."""
        base = self.reports_dir / "evaluations" / f"{model_type}_{version or 'candidate'}"
        return ReportFiles(base.with_suffix(".json"), base.with_suffix(".md"))

    @property
    def runs_dir(self) -> Path:
        return self.reports_dir / "runs"

    def run_file(self, run_id: str) -> Path:
        """`reports/runs/<run_id>.json` (`latest` is the newest run's copy); ValueError on an id that
        is not a plain file name."""
        return self.runs_dir / f"{check_run_id(run_id)}.json"

    @property
    def latest_run_file(self) -> Path:
        return self.run_file(LATEST_RUN)

    @property
    def html_dir(self) -> Path:
        """Static HTML reports, `reports/html/<name>.html` (see `reports.report`)."""
        return self.reports_dir / "html"

    def html_report(self, name: str) -> Path:
        return self.html_dir / f"{name}.html"

    @property
    def realism(self) -> RealismFiles:
        """The latest realism report of this workspace."""
        return RealismFiles(self.reports_dir / REALISM_DIR)

    @property
    def jobs_dir(self) -> Path:
        """API jobs, `reports/jobs/<job_id>.json`."""
        return self.reports_dir / "jobs"

    @property
    def lineage_audit(self) -> Path:
        return self.reports_dir / LINEAGE_AUDIT_FILE

    def _reports(self) -> Iterator[Path]:
        return self.reports_dir.iterdir() if self.reports_dir.is_dir() else iter(())

    # ------------------------------------------------------------------------------- training data
    @property
    def training_data_dir(self) -> Path:
        """This session's exports per cycle (`cycle_<n>/<model_type>/`) and aggregated
        (`aggregated/<model_type>/`), beside its collected records."""
        return self.session_dir / "training_data"

    @property
    def training_store(self) -> Path:
        """The collected records (accepted and rejected), per cycle: see `training_data.store`."""
        return self.training_data_dir / "records.sqlite"

    def export_scope_dir(self, cycle: int | None) -> Path:
        """`training_data/cycle_<n>`, or `training_data/aggregated` for None."""
        return self.training_data_dir / (AGGREGATED if cycle is None else f"{_CYCLE_PREFIX}{cycle}")

    def export_dir(self, model_type: str, cycle: int | None) -> Path:
        """`training_data/cycle_<n>/<model_type>`, or `training_data/aggregated/<model_type>` for None."""
        return self.export_scope_dir(cycle) / model_type

    def export_cycle_dirs(self) -> dict[int, Path]:
        """The per-cycle export folders present, by cycle."""
        base = self.training_data_dir
        if not base.is_dir():
            return {}
        return {
            int(p.name.removeprefix(_CYCLE_PREFIX)): p
            for p in base.glob(f"{_CYCLE_PREFIX}*")
            if p.is_dir() and p.name.removeprefix(_CYCLE_PREFIX).isdigit()
        }

    def export_cycles(self, model_type: str) -> list[int]:
        """The cycles with a complete export of `model_type` (its metadata file written), ascending."""
        return sorted(
            c
            for c in self.export_cycle_dirs()
            if (self.export_dir(model_type, c) / EXPORT_METADATA_FILE).is_file()
        )

    def export_dirs(self) -> list[Path]:
        """Every complete export folder (per cycle and aggregated), sorted."""
        scopes = [self.export_scope_dir(None), *self.export_cycle_dirs().values()]
        return sorted(p.parent for s in scopes for p in s.glob(f"*/{EXPORT_METADATA_FILE}"))

    # ----------------------------------------------------------------------------- lineage, models
    @property
    def lineage_db(self) -> Path:
        """Where this session's training records came from and went: see `training_data.lineage_tracker`."""
        return self.session_dir / "lineage.sqlite"

    @property
    def openlineage_file(self) -> Path:
        """This session's OpenLineage run events, one JSON per line (when no `OPENLINEAGE_URL` is set)."""
        return self.session_dir / OPENLINEAGE_FILE

    @property
    def registry_db(self) -> Path:
        """Model versions, aliases and deployment events: see `retraining.registry`."""
        return self.root / "registry.sqlite"

    @property
    def models_dir(self) -> Path:
        """Model artifacts and cards, `models/<model_type>/v<k>/`."""
        return self.root / "models"

    def model_version_dir(self, model_type: str, number: int) -> Path:
        return self.models_dir / model_type / f"v{number}"

    @property
    def models_staging_dir(self) -> Path:
        """Versions being registered; a version folder is renamed into place once its row commits."""
        return self.models_dir / ".staging"
