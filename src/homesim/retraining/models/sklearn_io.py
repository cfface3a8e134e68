"""scikit-learn estimators on disk with skops: no pickle, and only an explicit list of trusted types.

skops trusts scikit-learn's estimators, numpy and builtins by default; `TRUSTED_TYPES` names the few
further types our estimators hold. A file that needs any other type is refused before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import skops.io as sio

#: Types beyond skops' defaults that a fitted HistGradientBoostingClassifier holds.
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)

E = TypeVar("E")


def dump_estimator(estimator: object, path: Path) -> None:
    sio.dump(estimator, path)


def load_estimator(path: Path, expected: type[E]) -> E:
    """Load an estimator of type `expected`; ValueError if the file needs an untrusted type."""
    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise ValueError(f"{path}: refusing to load untrusted types {untrusted}")
    estimator = sio.load(path, trusted=list(TRUSTED_TYPES))
    if not isinstance(estimator, expected):
        raise ValueError(f"{path}: holds a {type(estimator).__name__}, expected {expected.__name__}")
    return estimator
