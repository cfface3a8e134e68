"""device_intelligence: a gradient-boosting fault classifier over per-entity daily windows, stacked on the
stage's rules.

The model reads only what the stage passes `predict`, one row per window with its `HealthFeatures` and
`rule_kind`, the kind the rules baseline (`rule_assess`) names for the window, and adds the entity's usual
daily reports implied by events / report-rate ratio. The rules' kind enters as a one-hot over
`HEALTH_KINDS`. Why stack: fault windows are rare, and in the retraining loop a model trains on ~10 homes
with a few dozen faults, too few to relearn the rules from the raw features. Unstacked it scored far below
the rules there (macro-F1 0.30 vs 0.53); with the rules' verdict as a feature it starts from them and only
learns where to overrule them: on 10 training homes it scores about as well as the rules, on 32 clearly
better (macro-F1 0.53 vs 0.40 on held-out homes). Stronger regularisation (larger leaves, L2) and a blend
of the model with the rules' one-hot chosen out of fold were tried on 10-home folds and scored no better.
Entity context, domain and state class were tried as features too and did not help on held-out homes: not
worth widening the stage's contract.

A multi-class `HistGradientBoostingClassifier` (fixed `random_state`, no early stopping, one thread: the
data are small) learns the health kind. Faults are rare (well under 1% of windows), so training keeps
every fault window and a seeded share of the healthy ones (`healthy_share`, weighted back up), and weights
the classes by inverse frequency to the power `class_weight_power` (1 is sklearn's "balanced", 0 none).

Class weights trade precision for recall; how far is decided on data: out-of-fold predictions over the
training homes (`VALIDATION_FOLDS` folds by home) choose the factor on the healthy probability that
maximises macro-F1 (`healthy_scale`), stored with the final model, which is refit on all training homes.
`predict` returns the probabilities after that rescaling (renormalised), so the stage's argmax is the
tuned decision.

The baseline (`predict_examples(None, …)`) is `rule_kind`: the stage's `rule_assess`, recomputed from the
exported windows by `examples` (`baseline_kinds`). Its per-entity context (median daily events,
steadiness, battery median) is recomputed over the entity's windows of that cycle and home, and
`state_class` comes from the catalog by device class. On records the rules produced this reproduces their
`predicted` exactly (checked in the tests), so the baseline stays available in later cycles, whose records
carry a deployed model's predictions.

Artifacts: `model.skops` (the estimator, loaded with an explicit trusted-types list) and `config.json`
(`format` 2 since the stacking; `load` refuses the unstacked format 1); nothing is pickled.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import structlog
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from homesim.generation.catalog import load_catalog
from homesim.io import write_atomic, write_json_atomic
from homesim.retraining.models.base import CONFIG_FILE, ProgressFn, Trainer
from homesim.retraining.models.boosting import boosting_params, fit_boosting
from homesim.retraining.models.sklearn_io import dump_estimator, load_estimator
from homesim.scores import accuracy, binary_scores, macro_f1, macro_f1_from_counts
from homesim.simulation.device_health import FEATURES, RULE_KIND, rule_assess
from homesim.simulation.model_provider import HEALTH_KINDS, Model, ModelType
from homesim.training_data.loading import TrainingData

log = structlog.get_logger("homesim.retraining.device_intelligence")

F64 = npt.NDArray[np.float64]
MODEL_FILE = "model.skops"
#: Version of `config.json`'s layout; `load` refuses others.
ARTIFACT_FORMAT = 2
#: Columns `predict` needs.
COLUMNS: tuple[str, ...] = (*FEATURES, RULE_KIND)
FAULT_KINDS: tuple[str, ...] = tuple(k for k in HEALTH_KINDS if k != "healthy")
_HEALTHY = HEALTH_KINDS.index("healthy")
_FAULTS = [HEALTH_KINDS.index(k) for k in FAULT_KINDS]
#: Folds (by home) of the training homes whose out-of-fold predictions choose `healthy_scale`, and the
#: factors tried.
VALIDATION_FOLDS = 3
HEALTHY_SCALES: tuple[float, ...] = tuple(float(s) for s in np.geomspace(0.25, 64.0, 17))


@cache
def _state_classes() -> dict[str, str]:
    """Sensor device class → state class, from the catalog (the exported windows do not carry it)."""
    return {
        e.device_class: e.state_class
        for t in load_catalog().devices.values()
        for e in t.entities
        if e.domain == "sensor" and e.device_class is not None and e.state_class is not None
    }


def baseline_kinds(examples: pl.DataFrame) -> list[str]:
    """The stage's rules on exported windows (`cycle`, `home_key`, `entity_id`, `domain`, `device_class`
    and the features), with the per-entity context `health_windows` adds recomputed per entity."""
    entity = pl.concat_str(
        pl.col("cycle").cast(pl.Utf8), pl.col("home_key"), pl.col("entity_id"), separator="|"
    )
    windows = examples.with_columns(entity.alias("entity_id")).with_columns(
        pl.col("events").median().over("entity_id").alias("median_events"),
        pl.when(pl.col("domain") == "sensor")
        .then(pl.col("device_class").replace_strict(_state_classes(), default=None, return_dtype=pl.Utf8))
        .alias("state_class"),
    )
    kinds, _ = rule_assess(windows)
    return list(kinds)


def design_matrix(features: pl.DataFrame) -> F64:
    """`FEATURES`, the entity's typical daily reports implied by events / report-rate ratio (NaN on a
    silent day: the context the rules take from the entity's other windows, which `predict` never sees)
    and a one-hot of `rule_kind` over `HEALTH_KINDS`."""
    missing = [c for c in COLUMNS if c not in features.columns]
    if missing:
        raise ValueError(f"device_intelligence model needs columns {missing} (has {features.columns})")
    unknown = set(features.get_column(RULE_KIND).unique().to_list()) - set(HEALTH_KINDS)
    if unknown:
        raise ValueError(
            f"device_intelligence: unknown {RULE_KIND} values {sorted(map(str, unknown))},"
            f" expected kinds of {HEALTH_KINDS}"
        )
    implied = pl.when(pl.col("report_rate_ratio") > 0).then(pl.col("events") / pl.col("report_rate_ratio"))
    frame = features.select(
        *(pl.col(c).cast(pl.Float64) for c in FEATURES),
        implied.alias("usual_events"),
        *((pl.col(RULE_KIND) == k).cast(pl.Float64).alias(f"rule_{k}") for k in HEALTH_KINDS),
    )
    return frame.to_numpy().astype(np.float64)


def _rescale(proba: F64, healthy_scale: float) -> F64:
    scaled = proba.copy()
    scaled[:, _HEALTHY] *= healthy_scale
    return np.asarray(scaled / scaled.sum(axis=1, keepdims=True), dtype=np.float64)


class DeviceFaultModel:
    """A fitted fault classifier: `predict` gives (n, len(HEALTH_KINDS)) probabilities in that order."""

    def __init__(self, estimator: HistGradientBoostingClassifier, healthy_scale: float, version: str) -> None:
        self.estimator = estimator
        self.healthy_scale = healthy_scale
        self.version = version

    def predict(self, features: pl.DataFrame) -> F64:
        return self.predict_matrix(design_matrix(features))

    def predict_matrix(self, x: F64) -> F64:
        """`predict` over a `design_matrix`."""
        out = np.zeros((len(x), len(HEALTH_KINDS)))
        if len(x) == 0:
            return out
        with threadpool_limits(1):
            proba = self.estimator.predict_proba(x)
        # Kinds the training data lacked keep probability 0.
        out[:, [HEALTH_KINDS.index(str(c)) for c in self.estimator.classes_]] = proba
        return _rescale(out, self.healthy_scale)


class DeviceFaultTrainer(Trainer):
    model_type: ClassVar[ModelType] = "device_intelligence"
    primary_metric: ClassVar[str] = "macro_f1"

    def __init__(
        self,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 10,
        l2_regularization: float = 1.0,
        healthy_share: float = 0.5,
        class_weight_power: float = 0.5,
    ) -> None:
        self.hyper = boosting_params(
            max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        )
        self.healthy_share = healthy_share
        self.class_weight_power = class_weight_power

    def params(self) -> dict[str, Any]:
        return {
            **self.hyper,
            "estimator": "HistGradientBoostingClassifier",
            "healthy_share": self.healthy_share,
            "class_weight_power": self.class_weight_power,
            "validation_folds": VALIDATION_FOLDS,
        }

    def examples(self, data: TrainingData) -> pl.DataFrame:
        devices = data.tables["devices"].select(
            "record_id", "cycle", "home_key", "entity_id", "domain", "device_class", *FEATURES, "label"
        )
        return devices.with_columns(pl.Series(RULE_KIND, baseline_kinds(devices), dtype=pl.Utf8))

    def _fit_estimator(self, x: F64, y: npt.NDArray[np.str_], seed: int) -> HistGradientBoostingClassifier:
        """Fit on all fault windows and a seeded share of healthy ones, class-weighted."""
        healthy = y == "healthy"
        keep = ~healthy | (np.random.default_rng(seed).random(len(y)) < self.healthy_share)
        x, y = x[keep], y[keep]
        classes, counts = np.unique(y, return_counts=True)
        # Healthy windows stand for the ones left out; then inverse-frequency class weights.
        counts = np.where(classes == "healthy", counts / self.healthy_share, counts)
        class_weight = (counts.sum() / (len(classes) * counts)) ** self.class_weight_power
        weight = class_weight[np.searchsorted(classes, y)] * np.where(
            y == "healthy", 1 / self.healthy_share, 1.0
        )
        return fit_boosting(self.hyper, x, y, seed, sample_weight=weight / weight.mean())

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        x = design_matrix(examples)
        y = examples.get_column("label").to_numpy().astype(str)
        if len(np.unique(y)) < 2:
            raise ValueError(
                f"device_intelligence: needs at least two health kinds to fit, got {sorted(set(y))}"
            )
        homes = np.asarray(examples.get_column("home_key").to_numpy())
        scale = self._validation_scale(x, y, homes, seed, progress)
        model = DeviceFaultModel(self._fit_estimator(x, y, seed), scale, version="unregistered")
        log.info("fitted", examples=len(y), faults=int((y != "healthy").sum()), healthy_scale=round(scale, 3))
        if progress:
            progress(f"fitted on {len(y)} windows ({int((y != 'healthy').sum())} faulty)")
        return model

    def _validation_scale(
        self, x: F64, y: npt.NDArray[np.str_], homes: npt.NDArray[Any], seed: int, progress: ProgressFn | None
    ) -> float:
        """The healthy-probability factor with the best macro-F1 over out-of-fold predictions of the
        training homes (folds by home); 1 when there are too few homes or faults to tell."""
        unique = np.unique(homes)
        if len(unique) < VALIDATION_FOLDS or not (y != "healthy").any():
            return 1.0
        fold_of_home = dict(
            zip(
                np.random.default_rng(seed).permutation(unique),
                np.arange(len(unique)) % VALIDATION_FOLDS,
                strict=True,
            )
        )
        fold = np.array([fold_of_home[h] for h in homes])
        proba = np.zeros((len(y), len(HEALTH_KINDS)))
        for k in range(VALIDATION_FOLDS):
            held = fold == k
            if len(np.unique(y[~held])) < 2:
                return 1.0
            probe = DeviceFaultModel(self._fit_estimator(x[~held], y[~held], seed), 1.0, "probe")
            proba[held] = probe.predict_matrix(x[held])
        kinds = np.asarray(HEALTH_KINDS)
        f1 = [macro_f1(y, kinds[_rescale(proba, s).argmax(axis=1)], FAULT_KINDS) for s in HEALTHY_SCALES]
        best = HEALTHY_SCALES[int(np.argmax(f1))]
        if progress:
            progress(f"healthy scale {best:.2f} (out-of-fold macro-F1 {max(f1):.3f}, {len(unique)} homes)")
        return best

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        if model is None:
            kinds = examples.get_column(RULE_KIND).to_list()
        else:
            proba = np.asarray(model.predict(examples.select(COLUMNS)), dtype=np.float64)
            kinds = [HEALTH_KINDS[i] for i in proba.argmax(axis=1)]
        return examples.select("home_key", "label").with_columns(pl.Series("predicted", kinds, dtype=pl.Utf8))

    def primary(self, predictions: pl.DataFrame) -> float:
        """Macro-F1 alone."""
        kinds, label, predicted = _codes(predictions)
        return macro_f1(label, predicted, kinds[_FAULTS])

    def primary_counts(self, predictions: pl.DataFrame) -> F64:
        """Per prediction and fault kind: true positive, predicted, labelled (kind-major columns)."""
        kinds, label, predicted = _codes(predictions)
        faults = kinds[_FAULTS]
        in_truth, in_pred = label[:, None] == faults, predicted[:, None] == faults
        return np.hstack([in_truth & in_pred, in_pred, in_truth]).astype(np.float64)

    def primary_of_counts(self, counts: F64) -> F64:
        tp, predicted, truth = np.split(counts, 3, axis=-1)
        return macro_f1_from_counts(tp, predicted, truth)

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        kinds, label, predicted = _codes(predictions)
        detection = binary_scores(label != kinds[_HEALTHY], predicted != kinds[_HEALTHY])
        return {
            "macro_f1": macro_f1(label, predicted, kinds[_FAULTS]),
            "accuracy": accuracy(label, predicted),
            **{f"detection_{k}": v for k, v in detection.items()},
        }

    def save(self, model: Model, directory: Path) -> list[Path]:
        if not isinstance(model, DeviceFaultModel):
            raise TypeError(f"device_intelligence cannot save a {type(model).__name__}")
        directory.mkdir(parents=True, exist_ok=True)
        weights, config = directory / MODEL_FILE, directory / CONFIG_FILE
        write_atomic(weights, lambda tmp: dump_estimator(model.estimator, tmp))
        write_json_atomic(
            config,
            {
                "format": ARTIFACT_FORMAT,
                "columns": list(COLUMNS),
                "classes": [str(c) for c in model.estimator.classes_],
                "healthy_scale": model.healthy_scale,
                "params": self.params(),
            },
        )
        return [weights, config]

    def load(self, directory: Path, version: str) -> Model:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("format") != ARTIFACT_FORMAT:
            raise ValueError(
                f"{directory}: artifact format {config.get('format')!r}, expected {ARTIFACT_FORMAT}"
                f" (format 2 stacks the model on the rules' {RULE_KIND}: retrain older models)"
            )
        if config.get("columns") != list(COLUMNS):
            raise ValueError(
                f"{directory}: fitted on columns {config.get('columns')}, expected {list(COLUMNS)}"
            )
        estimator = load_estimator(directory / MODEL_FILE, HistGradientBoostingClassifier)
        return DeviceFaultModel(estimator, float(config["healthy_scale"]), version)


def _codes(predictions: pl.DataFrame) -> tuple[F64, F64, F64]:
    """HEALTH_KINDS, labels and predictions as numbers, equal exactly where the strings are: the
    evaluator's bootstrap scores thousands of resamples, and numbers compare far faster than strings."""
    n, kinds = predictions.height, len(HEALTH_KINDS)
    columns = (predictions.get_column(c).cast(pl.Utf8) for c in ("label", "predicted"))
    values = pl.concat([pl.Series(HEALTH_KINDS, dtype=pl.Utf8), *columns])
    codes = values.cast(pl.Categorical).to_physical().to_numpy().astype(np.float64)
    return codes[:kinds], codes[kinds : kinds + n], codes[kinds + n :]
