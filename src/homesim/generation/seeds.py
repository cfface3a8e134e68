"""Per-home random streams, one per generation step: home *i* is reproducible on its own from (seed, i)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Each generation step draws from its own stream, so changing one step leaves the others' draws.
    (Not a simulation stage: those are `simulation.cycle.Stage`.)"""

    HOME_TYPE = 0
    STRUCTURE = 1
    OCCUPANTS = 2
    ENVIRONMENT = 3
    BEHAVIORS = 4
    EVENTS = 5
    SENSORS = 6
    FAULTS = 7
    CONTEXT_IDS = 8
    ACTIVITIES = 9
    CALIBRATION = 10


def stream_rng(seed: int, home_index: int, stream: Stream) -> np.random.Generator:
    """The generator of one step of one home: SeedSequence spawning keyed by (home index, stream)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(home_index, int(stream))))
