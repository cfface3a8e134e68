"""Train synthetic, test real: a standard activity classifier over sensor-event windows.

Each activation of a home on the common footing ends a window of the last `WINDOW` activations (Krishnan
& Cook's sliding sensor-event windows). A window's features do not name a home's sensors, so a model
carries across homes: clock hour (sine, cosine), window span, seconds since the previous activation, the
last activation's on-duration, its room class and kind, and counts per room class and per kind in the
window. Its label is the activity (`activities.parquet`) under way when the last activation starts;
unlabelled windows are left out. A random forest trained on one set of homes is scored on each real home
by macro-F1 over that home's activities: trained on the synthetic homes (synthetic→real) and on the
other real homes (real→real); their ratio says how much of real→real the synthetic data reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from homesim.real_homes.realism.footing import KINDS, HomeActivity, load_home
from homesim.schema.activities import ROOMS
from homesim.workspace import HomeFolder

#: Activations per window (the last one and the ones before it).
WINDOW = 8
RANDOM_STATE = 0


class TransferError(ValueError):
    """Inputs activity transfer cannot use (no labelled real home)."""


class TransferScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    test_home: str
    #: "synthetic" or "real" (the other real homes).
    train: str
    train_homes: int
    train_windows: int
    test_windows: int
    macro_f1: float


class TransferResult(BaseModel):
    """Macro-F1 per real test home, both ways of training, and the ratio of their means."""

    model_config = ConfigDict(frozen=True)

    labels: list[str]
    window: int
    scores: list[TransferScore]
    synthetic_to_real: float | None
    real_to_real: float | None
    ratio: float | None
    note: str = ""


def _labels(directory: Path, timezone: str) -> pl.DataFrame | None:
    path = HomeFolder(directory).activities
    if not path.is_file():
        return None
    local = [pl.col(c).dt.convert_time_zone(timezone).dt.replace_time_zone(None) for c in ("start", "end")]
    return (
        pl.read_parquet(path, columns=["activity", "start", "end"])
        .select(pl.col("activity").cast(pl.String), *local)
        .sort("start")
    )


def windows(home: HomeActivity, labels: pl.DataFrame) -> pl.DataFrame:
    """One row per activation: the window's features, then `activity` (labelled windows only)."""
    hour = (pl.col("start") - pl.col("start").dt.truncate("1d")).dt.total_seconds() / 3600
    one_hot = [(pl.col("room") == r).cast(pl.Int32).alias(f"room_{r}") for r in ROOMS] + [
        (pl.col("kind") == k).cast(pl.Int32).alias(f"kind_{k}") for k in KINDS
    ]
    counted = [f"room_{r}" for r in ROOMS] + [f"kind_{k}" for k in KINDS]
    acts = home.activations.sort("start").with_columns(*one_hot)
    frame = acts.with_columns(
        (hour * (2 * np.pi / 24)).sin().alias("hour_sin"),
        (hour * (2 * np.pi / 24)).cos().alias("hour_cos"),
        (pl.col("start") - pl.col("start").shift(WINDOW - 1)).dt.total_seconds().alias("span_s"),
        (pl.col("start") - pl.col("start").shift(1)).dt.total_seconds().alias("since_prev_s"),
        (pl.col("end") - pl.col("start")).dt.total_seconds().alias("on_s"),
        *(pl.col(c).rolling_sum(WINDOW, min_samples=1).alias(f"n_{c}") for c in counted),
    )
    labelled = frame.join_asof(
        labels.rename({"start": "label_start"}), left_on="start", right_on="label_start"
    )
    return labelled.filter(pl.col("activity").is_not_null() & (pl.col("start") < pl.col("end_right"))).select(
        *feature_columns(), "activity"
    )


def feature_columns() -> list[str]:
    kinds_rooms = [f"room_{r}" for r in ROOMS] + [f"kind_{k}" for k in KINDS]
    return [
        "hour_sin",
        "hour_cos",
        "span_s",
        "since_prev_s",
        "on_s",
        *kinds_rooms,
        *(f"n_{c}" for c in kinds_rooms),
    ]


def _home_windows(directory: Path, real: bool) -> tuple[HomeActivity, pl.DataFrame] | None:
    home = load_home(directory, real=real)
    labels = _labels(directory, home.timezone)
    if labels is None or labels.is_empty():
        return None
    return home, windows(home, labels)


def _score(train: pl.DataFrame, test: pl.DataFrame) -> float:
    model = RandomForestClassifier(
        n_estimators=200, min_samples_leaf=2, class_weight="balanced", random_state=RANDOM_STATE, n_jobs=1
    )
    columns = feature_columns()
    with threadpool_limits(1):
        model.fit(train.select(columns).fill_null(-1).to_numpy(), train["activity"].to_numpy())
        predicted = model.predict(test.select(columns).fill_null(-1).to_numpy())
    truth = test["activity"].to_numpy()
    return float(f1_score(truth, predicted, labels=np.unique(truth), average="macro", zero_division=0))


def activity_transfer(
    synthetic_dirs: Sequence[Path], real_dirs: Sequence[Path], *, residents: int | None = None
) -> TransferResult:
    """Macro-F1 on each labelled real home of a classifier trained on the synthetic homes with activity
    ground truth (`residents` filters them), next to one trained on the other labelled real homes."""
    real = [w for d in real_dirs if (w := _home_windows(d, real=True)) is not None]
    if not real:
        raise TransferError("no real home with labelled activities (activities.parquet)")
    synthetic = [w for d in synthetic_dirs if (w := _home_windows(d, real=False)) is not None]
    synthetic = [w for w in synthetic if residents is None or w[0].residents == residents]
    synthetic_train = pl.concat([w for _, w in synthetic]) if synthetic else None
    scores = []
    for i, (home, test) in enumerate(real):
        if test.is_empty():
            continue
        others = [w for j, (_, w) in enumerate(real) if j != i]
        if others:
            train = pl.concat(others)
            scores.append(
                TransferScore(
                    test_home=home.home,
                    train="real",
                    train_homes=len(others),
                    train_windows=train.height,
                    test_windows=test.height,
                    macro_f1=_score(train, test),
                )
            )
        if synthetic_train is not None:
            scores.append(
                TransferScore(
                    test_home=home.home,
                    train="synthetic",
                    train_homes=len(synthetic),
                    train_windows=synthetic_train.height,
                    test_windows=test.height,
                    macro_f1=_score(synthetic_train, test),
                )
            )
    s2r = [s.macro_f1 for s in scores if s.train == "synthetic"]
    r2r = [s.macro_f1 for s in scores if s.train == "real"]
    mean_s2r = float(np.mean(s2r)) if s2r else None
    mean_r2r = float(np.mean(r2r)) if r2r else None
    notes = []
    if not synthetic:
        notes.append("no synthetic home has activity ground truth (activities.parquet): synthetic→real n/a")
    if not r2r:
        notes.append("one labelled real home only: real→real n/a")
    labels = sorted({a for _, w in real for a in w["activity"].unique().to_list()})
    return TransferResult(
        labels=labels,
        window=WINDOW,
        scores=scores,
        synthetic_to_real=mean_s2r,
        real_to_real=mean_r2r,
        ratio=mean_s2r / mean_r2r if mean_s2r is not None and mean_r2r else None,
        note="; ".join(notes),
    )
