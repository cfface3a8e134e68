"""Which homes are held out for evaluation: one rule (a hash of the home key) for every layer.

The evaluator trains and scores by it (`retraining.model_evaluator.split_by_home`), and the simulation
uses it to make held-out homes' tasks test generalisation rather than recall: Ask-AI requests in held-out
homes are partly worded in phrasings no training home ever uses (`simulation.ask_ai.requests`). A home is
held out in every cycle and every run, never trained on.
"""

from __future__ import annotations

import hashlib

#: Share of homes held out for evaluation (by hash of the home key).
VALIDATION_SHARE = 0.2


def home_unit(home_key: str) -> float:
    """A home's place in [0, 1): its key's sha256, first 8 bytes (deterministic, uniform over homes)."""
    return int.from_bytes(hashlib.sha256(home_key.encode()).digest()[:8], "big") / 2**64


def is_validation_home(home_key: str, share: float = VALIDATION_SHARE) -> bool:
    """Whether `home_key` is held out: its `home_unit` falls below `share`."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"validation share must be in [0, 1], got {share}")
    return home_unit(home_key) < share
