"""A run seed whose cycles each hold training and held-out homes, whatever the generator version.

Home keys (and so the split by home) hash the generator version, so a seed chosen by hand stops working at
the next version; tests that need both sides of the split in every cycle search for one instead.
"""

from __future__ import annotations

from homesim.retraining.loop import LoopConfig
from homesim.splits import is_validation_home


def splitting_seed(homes: int, days: int, cycles: int, share: float, start: int = 0) -> int:
    """The first seed ≥ `start` whose `cycles` cycles of `homes` homes each split into both sides."""
    for seed in range(start, start + 10_000):
        config = LoopConfig(cycles=cycles, homes=homes, days=days, seed=seed)
        if all(
            0 < sum(is_validation_home(g.home_key(i), share) for i in range(homes)) < homes
            for g in (config.generation(c) for c in range(1, cycles + 1))
        ):
            return seed
    raise AssertionError("no seed splits every cycle")  # pragma: no cover
