"""Realism of synthetic homes measured against real ones.

`footing` puts real and synthetic home folders on one footing (binary activity sensors as activations,
HA motion clear time, local days with somebody home); `features` computes behaviour features per
home-day; `statistics` holds the classifier two-sample test and per-feature distances (scikit-learn and
scipy); `compare` ties them into a `RealismReport`; `transfer` trains an activity classifier on one set of
homes and scores it on real homes' labelled activities. `docs/realism.md` describes the method.
"""

from homesim.real_homes.realism.compare import RealismError, RealismReport, RealismSummary, compare
from homesim.real_homes.realism.features import FEATURES
from homesim.real_homes.realism.footing import FootingError, harmonise, resolve_homes

__all__ = [
    "FEATURES",
    "FootingError",
    "RealismError",
    "RealismReport",
    "RealismSummary",
    "compare",
    "harmonise",
    "resolve_homes",
]
