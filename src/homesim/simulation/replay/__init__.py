"""Replay: when an HA automation would have acted over a home's recorded history, and how that scores
against a ground-truth pattern.

`interpreter` runs an automation (every trigger, condition and step it can evaluate from a home's state
history and environment — choose, if, conditions, delays, waits with timeouts, repeat, parallel — and
reports the rest per automation as not replayable); `scoring` matches the firings to a pattern's
occurrences. The service ↔ state vocabulary lives in `homesim.schema.vocabulary`.
"""

from homesim.simulation.replay.interpreter import Replay, Replayer, ReplayInput, replay
from homesim.simulation.replay.scoring import (
    Match,
    agreement,
    match,
    pattern_occurrences,
    score_pattern,
    tolerance_s,
)

__all__ = [
    "Match",
    "Replay",
    "ReplayInput",
    "Replayer",
    "agreement",
    "match",
    "pattern_occurrences",
    "replay",
    "score_pattern",
    "tolerance_s",
]
