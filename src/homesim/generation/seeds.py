"""Per-home, per-stage random streams: home *i* is reproducible on its own from (seed, i)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stage(IntEnum):
    """Each generation stage draws from its own stream, so changing one stage leaves the others' draws."""

    HOME_TYPE = 0
    STRUCTURE = 1
    OCCUPANTS = 2
    ENVIRONMENT = 3
    BEHAVIORS = 4
    EVENTS = 5
    SENSORS = 6
    FAULTS = 7
    CONTEXT_IDS = 8


def stage_rng(seed: int, home_index: int, stage: Stage) -> np.random.Generator:
    """The generator for one stage of one home: SeedSequence spawning keyed by (home index, stage)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(home_index, int(stage))))
