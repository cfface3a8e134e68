"""HomeView: one generated home as the simulation's stages see it.

It owns the honesty boundary: the events handed to stages carry what HA's recorder shows of a state
change (time, entity, state, value, attributes) and nothing of how the generator made it. The provenance
columns (`PROVENANCE_COLUMNS`: `cause`, `cause_id`) are removed, and so are the context links, since the
generator sets `parent_context_id` on every caused event, which a real recorder shows only for
automations. Ground truth is loaded too, but stages may read it only to label predictions already made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from homesim.datasets.home_folder import ENVIRONMENT_FILE, EVENTS_FILE, read_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ground_truth.truth import GROUND_TRUTH_FILE, build_ground_truth
from homesim.schema.events import PROVENANCE_COLUMNS
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.home import Home
from homesim.schema.records import AnyRecord, StageName

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
    truth: GroundTruth
    upstream: dict[StageName, list[AnyRecord]] = field(default_factory=dict)

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
        )

    def records(self, stage: StageName) -> list[AnyRecord]:
        """Records an earlier stage produced for this home (empty when it did not run or failed)."""
        return self.upstream.get(stage, [])


def honest_events(frame: pl.DataFrame) -> pl.DataFrame:
    """The events without hidden columns, with `entity_id` as plain strings."""
    return frame.select(VISIBLE_COLUMNS).with_columns(pl.col("entity_id").cast(pl.Utf8))


def load_home_view(directory: Path, config: GenerationConfig | None = None) -> HomeView:
    """Load the home folder `directory`. A home generated before ground truth was written to its folder has
    its truth rebuilt from `config` (the dataset's generation config), deterministically."""
    home = read_home(directory)
    # Read only the visible columns: the hidden ones never enter this process's view of the home.
    events = pl.from_arrow(pq.read_table(directory / EVENTS_FILE, columns=list(VISIBLE_COLUMNS)))
    environment = pl.from_arrow(pq.read_table(directory / ENVIRONMENT_FILE))
    assert isinstance(events, pl.DataFrame) and isinstance(environment, pl.DataFrame)
    truth_file = directory / GROUND_TRUTH_FILE
    if truth_file.is_file():
        truth = GroundTruth.model_validate_json(truth_file.read_bytes())
    elif config is not None:
        truth = build_ground_truth(generate_home(config, home.metadata.home_index))
    else:
        raise FileNotFoundError(f"{truth_file} is missing and no generation config was given to rebuild it")
    return HomeView(home=home, events=honest_events(events), environment=environment, truth=truth)
