"""Which homes are held out for evaluation: one rule (a home's place in [0, 1)) for every layer.

The evaluator trains and scores by it (`retraining.model_evaluator.split_by_home`), and the simulation
uses it to make held-out homes' tasks test generalisation rather than recall: Ask-AI requests in held-out
homes are partly worded in phrasings no training home ever uses (`simulation.ask_ai.requests`). A home is
held out in every cycle and every run, never trained on: its place depends on its key alone.

A generated home's place is the van der Corput radical inverse of its index within its dataset (the index
is part of `GenerationConfig.home_key`), a low-discrepancy sequence: the first n homes of every dataset
(each cycle of `homesim run` is one) hold share × n held-out homes give or take 2.5 for n ≤ 100 (4 for
n ≤ 1,000), at any share, whatever the seed or generator version. A hash of the key gave a binomial count
instead (3 of 24 homes held out at share 0.35 for one seed: too few for a gate to judge). The place is
still one number per home, so a home held out at one share is held out at every larger one (Ask-AI's
held-out wording at 0.2 stays inside the evaluator's 0.35). Other keys (imported homes, hand-written
ones) fall back to a hash of the key.
"""

from __future__ import annotations

import hashlib
import re

#: Share of homes held out for evaluation (by `home_unit`).
VALIDATION_SHARE = 0.2
#: A generated home's key, `GenerationConfig.home_key`: `h<index, ≥ 6 digits>-<12 hex digits>`.
_GENERATED_KEY = re.compile(r"h(\d{6,})-[0-9a-f]{12}")


def radical_inverse(index: int) -> float:
    """`index`'s binary digits mirrored after the point (van der Corput): 0, .5, .25, .75, .125, …"""
    bits = index.bit_length()
    return int(f"{index:0{bits}b}"[::-1], 2) / 2**bits if index > 0 else 0.0


def home_unit(home_key: str) -> float:
    """A home's place in [0, 1): `radical_inverse` of a generated home's index, else the key's sha256
    (first 8 bytes; deterministic, uniform over homes)."""
    generated = _GENERATED_KEY.fullmatch(home_key)
    if generated is not None:
        return radical_inverse(int(generated.group(1)))
    return int.from_bytes(hashlib.sha256(home_key.encode()).digest()[:8], "big") / 2**64


def is_validation_home(home_key: str, share: float = VALIDATION_SHARE) -> bool:
    """Whether `home_key` is held out: its `home_unit` falls below `share`."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"validation share must be in [0, 1], got {share}")
    return home_unit(home_key) < share
