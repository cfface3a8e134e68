"""HomeView: one generated home as the simulation's stages see it.

It owns the honesty boundary: the events handed to stages carry what HA's recorder shows of a state
change (time, entity, state, value, attributes) and nothing of how the generator made it. The provenance
columns (`PROVENANCE_COLUMNS`: `cause`, `cause_id`) are removed, and so are the context links, since the
generator sets `parent_context_id` on every caused event, which a real recorder shows only for
automations. Ground truth (and the occupants' activities) is loaded too, but stages may read it only to
label predictions already made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from homesim.datasets.home_folder import HomeFiles
from homesim.generation.calendar import day_grid
from homesim.generation.config import GenerationConfig
from homesim.generation.environment import solar_elevation_deg
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ground_truth.truth import build_ground_truth
from homesim.schema.events import ENVIRONMENT_SCHEMA, PROVENANCE_COLUMNS
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.home import Home
from homesim.schema.records import AnyRecord, StageName
from homesim.simulation.replay import Replayer, ReplayInput

HOUR_US = 3_600_000_000
#: Event columns stages receive.
VISIBLE_COLUMNS: tuple[str, ...] = ("time", "entity_id", "state", "value", "attributes")
#: Columns removed before stages see the events: provenance and the generator's causal context links.
HIDDEN_COLUMNS: tuple[str, ...] = (*PROVENANCE_COLUMNS, "context_id", "parent_context_id")


@dataclass
class HomeView:
    """A home's structure, environment, honest events and (for labelling only) its ground truth.

    `upstream` holds the records earlier stages produced for this home in the current cycle, so a stage
    can build on them (suggestions on patterns and synergies, automations on suggestions).
    """

    home: Home
    #: time (datetime[us, UTC]), entity_id, state, value (NaN when not numeric), attributes; sorted by time.
    events: pl.DataFrame
    #: Hourly outdoor conditions: see `homesim.schema.events.ENVIRONMENT_SCHEMA`.
    environment: pl.DataFrame
    #: None for an imported real home: nothing is known of why its events happened.
    truth: GroundTruth | None
    upstream: dict[StageName, Sequence[AnyRecord]] = field(default_factory=dict)
    #: What each occupant was doing (`activities.parquet`), for labelling only; None when the home has none.
    activities: pl.DataFrame | None = None

    @property
    def key(self) -> str:
        return self.home.metadata.home_key

    @property
    def timezone(self) -> str:
        return self.home.metadata.timezone

    @classmethod
    def from_generated(cls, generated: GeneratedHome, truth: GroundTruth | None = None) -> HomeView:
        """A view of a home generated in memory (tests, notebooks); its truth is built unless given."""
        events = pl.from_arrow(generated.events)
        environment = pl.from_arrow(generated.environment.to_table())
        assert isinstance(events, pl.DataFrame) and isinstance(environment, pl.DataFrame)
        return cls(
            home=generated.home,
            events=honest_events(events),
            environment=environment,
            truth=truth or build_ground_truth(generated),
            activities=_frame(generated.activities.to_table(generated.home)),
        )

    @cached_property
    def replayer(self) -> Replayer:
        """The home's replay interpreter, shared by the stages that replay automations: its per-entity
        series and its replays are computed once per home."""
        return Replayer(ReplayInput.build(self.events, self.environment, self.timezone))

    @property
    def is_real(self) -> bool:
        """An imported real home: no ground truth, so its records carry no labels to score against."""
        return self.home.metadata.source == "real"

    def records(self, stage: StageName) -> Sequence[AnyRecord]:
        """Records an earlier stage produced for this home (empty when it did not run or failed); a stage's
        record frame (`RecordFrame`) builds its records when first read."""
        return self.upstream.get(stage, [])


def honest_events(frame: pl.DataFrame) -> pl.DataFrame:
    """The events without hidden columns, with `entity_id` as plain strings."""
    return frame.select(VISIBLE_COLUMNS).with_columns(pl.col("entity_id").cast(pl.Utf8))


def load_home_view(directory: Path, config: GenerationConfig | None = None) -> HomeView:
    """Load the home folder `directory`, each file checked against its manifest's sha256 as it is read
    (`IntegrityError` naming the file on a mismatch, or when `config` is given and there is no manifest).
    A home generated before ground truth was written to its folder has its truth rebuilt from `config` (the
    dataset's generation config), deterministically. An imported real home has no truth, and, unless its
    folder has one, only the sun in its environment."""
    # Every file below is checked against the home's manifest as it is read; a generated dataset's home
    # (a config is given) must have one.
    reader = HomeFiles(directory, manifest_required=config is not None)
    files = reader.folder
    home = reader.home()
    # Parse only the visible columns: the hidden ones never enter this process's view of the home.
    events = pl.from_arrow(reader.parquet(files.events, columns=list(VISIBLE_COLUMNS)))
    if files.environment.is_file():
        environment = pl.from_arrow(reader.parquet(files.environment))
    else:
        environment = sun_only_environment(home)
    assert isinstance(events, pl.DataFrame) and isinstance(environment, pl.DataFrame)
    truth_file = files.ground_truth
    truth: GroundTruth | None = None
    if truth_file.is_file():
        truth = GroundTruth.model_validate_json(reader.read(truth_file))
    elif home.metadata.source == "real":
        truth = None
    elif config is not None:
        truth = build_ground_truth(generate_home(config, home.metadata.home_index))
    else:
        raise FileNotFoundError(f"{truth_file} is missing and no generation config was given to rebuild it")
    activities = _frame(reader.parquet(files.activities)) if files.activities.is_file() else None
    return HomeView(
        home=home, events=honest_events(events), environment=environment, truth=truth, activities=activities
    )


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def sun_only_environment(home: Home) -> pl.DataFrame:
    """The hourly environment of a home with none recorded (an imported real home): the sun's elevation,
    computed from the home's location, is known; weather, carbon and prices are not (NaN, condition null).
    """
    meta = home.metadata
    grid = day_grid(meta.start, meta.days, meta.timezone)
    times = np.arange(grid.begin_us, grid.end_us, HOUR_US, dtype=np.int64)
    unknown = np.full(len(times), np.nan)
    return pl.DataFrame(
        {
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            **{name: unknown for name in ENVIRONMENT_SCHEMA.names if name not in ("time", "condition")},
            "condition": pl.Series([None] * len(times), dtype=pl.String),
            "sun_elevation_deg": solar_elevation_deg(meta.latitude, meta.longitude, times),
        }
    ).select(ENVIRONMENT_SCHEMA.names)
