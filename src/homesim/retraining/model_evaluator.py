"""ModelEvaluator: candidate vs champion vs the stage's baseline on the same held-out homes, and the gate.

Owns the split of examples by home (`split_by_home`, by `homesim.splits.is_validation_home`: a fixed
share of homes by hash of the home key, held out in every cycle and every run, never trained on), the
paired bootstrap by home (resample the validation homes with replacement, score both arms on the same
draw, take the percentile CI of the primary-metric difference), the TFX-style gate, regression
detection, benchmarks and the evaluation report (`reports/evaluations/<model_type>_<version>.json` +
`.md`).

The gate (documented decision): the candidate is compared with a *reference* — the champion, or the stage's
baseline (`predict_examples(None, …)`) when no model is deployed, so the first model is gated on its value
thresholds AND on beating the baseline. It passes when
1. every value threshold holds (`GateConfig.metrics[m].min_value`, e.g. the primary metric ≥ 0.5);
2. the primary metric improves on the reference by more than `min_improvement` (absolute; default 0), and
   — by default, `require_significant` — the bootstrap CI of the difference lies above 0: a candidate must be
   *measurably* better on homes it never saw, not better by the luck of a few held-out homes;
3. no metric with a change threshold (`GateConfig.metrics[m].max_drop`) drops by more than it;
4. with `require_significant`, the held-out homes are enough to *reach* significance at all (the `power`
   check): a one-sided sign-flip test by home cannot give a p-value below 2^-n with n homes, so with fewer
   than 6 homes (2^-5 = 0.031 > 0.025, the one-sided level of a 95 % CI) the gate refuses outright and says
   so, instead of reading meaning into a bootstrap over 2–5 homes.
Next to every CI the comparison keeps its n (held-out homes), the exact sign-flip permutation p-value of
the per-home differences (`scipy.stats.permutation_test`), the smallest p-value n homes can give and the
minimum detectable effect (80 % power at the CI's level, from the bootstrap's standard error).
Every metric that drops by more than `tolerance` (relative to the reference) is reported as a regression;
regressions block only through change thresholds, because the secondary metrics of a better model often
trade off (precision for recall) and the primary metric is the one that was chosen.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.io import write_json_atomic, write_text_atomic
from homesim.retraining.models.base import Trainer
from homesim.retraining.predictions import CANDIDATE, PredictionMemo
from homesim.scores import pr_auc_of_draws
from homesim.simulation.model_provider import Model, ModelType
from homesim.splits import VALIDATION_SHARE, is_validation_home
from homesim.workspace import Workspace

#: The CI's confidence and its one-sided level (the gate asks for the CI's low end above 0).
CONFIDENCE = 0.95
ONE_SIDED_ALPHA = (1 - CONFIDENCE) / 2
#: Power at which the minimum detectable effect is stated.
POWER = 0.8

F64 = npt.NDArray[np.float64]


def split_by_home(
    examples: pl.DataFrame, share: float = VALIDATION_SHARE
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training, validation) rows of `examples`, split by `is_validation_home` of their `home_key`."""
    keys = examples.get_column("home_key").unique().to_list()
    held_out = [k for k in keys if is_validation_home(k, share)]
    mask = pl.col("home_key").is_in(held_out)
    return examples.filter(~mask), examples.filter(mask)


class MetricGate(BaseModel):
    """TFX-style thresholds of one metric: an absolute floor and the largest drop allowed vs the reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_value: float | None = Field(default=None, description="value threshold: candidate ≥ this")
    max_drop: float | None = Field(
        default=None, ge=0, description="change threshold: candidate ≥ reference − this (absolute)"
    )


class GateConfig(BaseModel):
    """How a candidate must compare with the reference (champion, else baseline) to be deployed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_improvement: float = Field(
        default=0.0, description="primary metric: candidate − reference must exceed this (absolute)"
    )
    require_significant: bool = Field(
        default=True, description="also require the bootstrap CI of the primary difference to be above 0"
    )
    tolerance: float = Field(
        default=0.05, ge=0, description="relative drop of any metric that is reported as a regression"
    )
    metrics: dict[str, MetricGate] = Field(default_factory=dict)


class Comparison(BaseModel):
    """Paired bootstrap of `metric`: candidate minus `reference` over resampled validation homes."""

    model_config = ConfigDict(frozen=True)

    reference: str
    metric: str
    candidate_value: float
    reference_value: float
    diff: float
    ci_low: float
    ci_high: float
    #: Share of resamples where the candidate is not better (a one-sided bootstrap p-value).
    p_not_better: float
    resamples: int
    #: n: the held-out homes both arms were scored on (the unit resampled).
    homes: int
    #: One-sided exact sign-flip permutation p-value of the per-home differences (None: < 2 homes with a
    #: defined metric in both arms).
    p_permutation: float | None
    #: The smallest p-value a sign-flip test over `homes` homes can give: 2^-n.
    min_p: float
    #: Minimum detectable effect: the difference the CI would exclude 0 for with 80 % power.
    mde: float

    @property
    def can_be_significant(self) -> bool:
        """Whether n homes can reach the CI's one-sided level at all (2^-n ≤ (1 − confidence) / 2)."""
        return self.min_p <= ONE_SIDED_ALPHA

    def ci_text(self) -> str:
        """`[low, high] (n=…)`: a CI never appears without its n."""
        return f"[{self.ci_low:+.4f}, {self.ci_high:+.4f}] (n={self.homes} homes)"

    @property
    def relative(self) -> float | None:
        return None if self.reference_value == 0 else self.diff / abs(self.reference_value)


class GateCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    kind: Literal["value", "improvement", "significance", "power", "change"]
    value: float
    threshold: float
    passed: bool


class Regression(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    candidate: float
    reference: float
    relative_drop: float


class Benchmarks(BaseModel):
    model_config = ConfigDict(frozen=True)

    latency_p50_ms: float
    latency_p95_ms: float
    predict_calls: int
    model_bytes: int | None
    train_s: float | None
    eval_s: float


class Evaluation(BaseModel):
    """Everything the gate looked at, and its decision."""

    model_config = ConfigDict(frozen=True)

    model_type: ModelType
    primary_metric: str
    candidate_version: str | None
    champion_version: str | None
    reference: Literal["champion", "baseline"]
    examples: int
    validation_homes: list[str]
    #: Arm ("candidate", "champion", "baseline") → metrics on the validation examples.
    metrics: dict[str, dict[str, float]]
    vs_reference: Comparison
    vs_baseline: Comparison
    passed: bool
    reasons: list[str]
    checks: list[GateCheck]
    regressions: list[Regression]
    benchmarks: Benchmarks

    def value(self, arm: str) -> float | None:
        """The primary metric of `arm`, or None when that arm was not evaluated."""
        return self.metrics[arm][self.primary_metric] if arm in self.metrics else None

    def markdown(self) -> str:
        arms = list(self.metrics)
        names = sorted({m for ms in self.metrics.values() for m in ms})
        b = self.benchmarks
        lines = [
            f"# Evaluation of {self.model_type} {self.candidate_version or 'candidate'}",
            "",
            f"**{'PASSED' if self.passed else 'REJECTED'}** — " + "; ".join(self.reasons),
            "",
            f"{self.examples} examples from {len(self.validation_homes)} held-out homes; reference: "
            f"{self.reference} ({self.champion_version or 'baseline'}); "
            f"primary metric `{self.primary_metric}`.",
            "",
            "| metric | " + " | ".join(arms) + " |",
            "| --- |" + " ---: |" * len(arms),
            *(
                f"| {m} | " + " | ".join(f"{self.metrics[a].get(m, float('nan')):.4f}" for a in arms) + " |"
                for m in names
            ),
            "",
            "| comparison | difference | 95% CI | n homes | P(not better) | permutation p | smallest p "
            "| MDE |",
            "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c in (
            (self.vs_reference, self.vs_baseline) if self.reference == "champion" else (self.vs_baseline,)
        ):
            perm = "—" if c.p_permutation is None else f"{c.p_permutation:.4f}"
            lines.append(
                f"| candidate − {c.reference} | {c.diff:+.4f} | [{c.ci_low:+.4f}, {c.ci_high:+.4f}] | "
                f"{c.homes} | {c.p_not_better:.3f} | {perm} | {c.min_p:.2g} | {c.mde:.4f} |"
            )
        if not self.vs_reference.can_be_significant:
            lines += [
                "",
                f"**Underpowered**: {self.vs_reference.homes} held-out homes cannot reach significance "
                f"(smallest attainable p {self.vs_reference.min_p:.3g} > {ONE_SIDED_ALPHA:.3g}).",
            ]
        lines += [
            "",
            "| gate check | metric | value | threshold | passed |",
            "| --- | --- | ---: | ---: | --- |",
        ]
        lines += [
            f"| {c.kind} | {c.metric} | {c.value:.4f} | {c.threshold:.4f} | {c.passed} |" for c in self.checks
        ]
        if self.regressions:
            lines += ["", "Regressions (relative drop beyond the tolerance):"]
            lines += [
                f"- {r.metric}: {r.reference:.4f} → {r.candidate:.4f} (−{r.relative_drop:.1%})"
                for r in self.regressions
            ]
        size = "—" if b.model_bytes is None else f"{b.model_bytes:,} bytes"
        train = "—" if b.train_s is None else f"{b.train_s:.2f} s"
        lines += [
            "",
            f"Benchmarks: predict latency p50 {b.latency_p50_ms:.2f} ms, p95 {b.latency_p95_ms:.2f} ms "
            f"({b.predict_calls} calls, one home each); model size {size}; training {train}; "
            f"evaluation {b.eval_s:.2f} s.",
            "",
            "Held-out homes: " + ", ".join(f"`{h}`" for h in self.validation_homes),
        ]
        return "\n".join(lines) + "\n"


class _HomeIndex:
    """Row indices of each home in a predictions frame, for gathering bootstrap draws."""

    def __init__(self, predictions: pl.DataFrame) -> None:
        keys = predictions.get_column("home_key").to_numpy()
        order = np.argsort(keys, kind="stable")
        homes, starts = np.unique(keys[order], return_index=True)
        self.rows = dict(zip(homes.tolist(), np.split(order, starts[1:]), strict=True))

    def gather(self, homes: list[str]) -> np.ndarray:
        parts = [self.rows[h] for h in homes if h in self.rows]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


#: Draws scored at once: a ranking scorer holds a few float arrays of draws × prediction rows.
_DRAWS_AT_ONCE = 64
#: The primary metric of each draw, from how many times each home was drawn ((draws, homes) → (draws,)).
DrawScorer = Callable[[F64], F64]


def _draw_scorer(trainer: Trainer, predictions: pl.DataFrame, homes: list[str]) -> DrawScorer | None:
    """The primary metric of `predictions` for a whole matrix of draws at once, or None when the trainer
    offers neither `primary_counts` nor `primary_ranking` (then each draw's rows are scored)."""
    home_of_row = np.searchsorted(np.array(homes), predictions.get_column("home_key").to_numpy())
    counts = trainer.primary_counts(predictions)
    if counts is not None:
        per_home = np.zeros((len(homes), counts.shape[1]))  # zeros for a home without predictions
        np.add.at(per_home, home_of_row, counts)
        return lambda times: trainer.primary_of_counts(times @ per_home)
    ranking = trainer.primary_ranking(predictions)
    if ranking is not None:
        labels, scores = ranking
        return lambda times: pr_auc_of_draws(labels, scores, times[:, home_of_row])
    return None


def _draw_differences(candidate: DrawScorer, reference: DrawScorer, homes: int) -> Callable[..., F64]:
    """The bootstrap's statistic, vectorised: draws of indices into `homes` homes (last axis) →
    primary(candidate) − primary(reference) of each draw."""

    def difference(draws: npt.NDArray[np.int64], axis: int = -1) -> F64:
        draws = np.moveaxis(np.asarray(draws), axis, -1)
        flat = draws.reshape(-1, draws.shape[-1])
        times = np.zeros((flat.shape[0], homes))
        np.add.at(times, (np.arange(flat.shape[0])[:, None], flat), 1.0)
        out = np.concatenate(
            [
                candidate(times[start : start + _DRAWS_AT_ONCE])
                - reference(times[start : start + _DRAWS_AT_ONCE])
                for start in range(0, len(times), _DRAWS_AT_ONCE)
            ]
        )
        return np.asarray(out.reshape(draws.shape[:-1]), dtype=np.float64)

    return difference


def paired_bootstrap(
    trainer: Trainer,
    candidate: pl.DataFrame,
    reference: pl.DataFrame,
    *,
    reference_name: str,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """CI of `score(candidate)[primary] − score(reference)[primary]`, resampling homes with replacement.

    Both arms are scored on the same draw of homes in every resample (paired), so differences between
    homes cancel out and only the models' difference is left. Also the sign-flip permutation test of the
    per-home differences, the smallest p-value n homes allow and the minimum detectable effect.
    """
    # Imported here: scipy is the `ml` extra and slow to import, and every CLI command imports this module.
    from scipy.stats import bootstrap, norm

    metric = trainer.primary_metric
    homes = sorted(
        set(candidate.get_column("home_key").to_list()) | set(reference.get_column("home_key").to_list())
    )
    if not homes:
        raise ValueError("cannot bootstrap without validation homes")
    cand_value = trainer.primary(candidate)
    ref_value = trainer.primary(reference)
    cand_scorer, ref_scorer = _draw_scorer(trainer, candidate, homes), _draw_scorer(trainer, reference, homes)
    statistic: Callable[[npt.NDArray[np.int64]], F64 | float]
    if cand_scorer is not None and ref_scorer is not None:
        statistic, vectorized = _draw_differences(cand_scorer, ref_scorer, len(homes)), True

        def difference(draw: npt.NDArray[np.int64]) -> float:
            return float(statistic(draw))

    else:  # a metric the trainer offers no shortcut for: score each draw's rows
        cand_index, ref_index = _HomeIndex(candidate), _HomeIndex(reference)

        def difference(draw: npt.NDArray[np.int64]) -> float:
            picked = [homes[i] for i in draw]
            a = trainer.primary(candidate[cand_index.gather(picked)])
            b = trainer.primary(reference[ref_index.gather(picked)])
            return float(a - b)

        statistic, vectorized = difference, False

    if len(homes) == 1:  # scipy wants two observations; every resample of one home is that home
        diffs = np.full(resamples, difference(np.zeros(1, dtype=np.int64)))
        low = high = float(diffs[0])
    else:
        # The same draws either way (scipy draws every resample's indices up front).
        result = bootstrap(
            (np.arange(len(homes)),),
            statistic,
            n_resamples=resamples,
            vectorized=vectorized,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        diffs = result.bootstrap_distribution
        low, high = result.confidence_interval
    per_home = np.array([difference(np.array([i])) for i in range(len(homes))])
    z = norm.ppf(1 - (1 - confidence) / 2) + norm.ppf(POWER)
    return Comparison(
        reference=reference_name,
        metric=metric,
        candidate_value=float(cand_value),
        reference_value=float(ref_value),
        diff=float(cand_value - ref_value),
        ci_low=float(low),
        ci_high=float(high),
        p_not_better=float(np.mean(diffs <= 0)),
        resamples=resamples,
        homes=len(homes),
        p_permutation=sign_flip_p(per_home, seed=seed),
        min_p=smallest_sign_flip_p(len(homes)),
        mde=float(z * np.std(diffs)),
    )


def smallest_sign_flip_p(homes: int) -> float:
    """The smallest one-sided p-value a sign-flip test over `homes` paired differences can give."""
    return float(2.0**-homes)


def sign_flip_p(differences: npt.NDArray[np.float64], *, seed: int = 0) -> float | None:
    """One-sided p-value (candidate better) of per-home differences: `scipy.stats.permutation_test` over
    sign flips (exact up to 2^13 flips); None with fewer than 2 defined differences."""
    from scipy.stats import permutation_test

    defined = differences[np.isfinite(differences)]
    if len(defined) < 2:
        return None
    if not defined.any():
        return 1.0
    result = permutation_test(
        (defined,),
        lambda d, axis: np.mean(d, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=9999,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def model_bytes(trainer: Trainer, model: Model) -> int:
    """Size of the model's artifact files, written by `trainer.save` into a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="homesim-size-") as scratch:
        files = trainer.save(model, Path(scratch))
        return sum(f.stat().st_size for f in files)


class ModelEvaluator:
    """Scores candidate, champion and baseline on the same held-out examples and applies the gate."""

    def __init__(
        self,
        gate: GateConfig | None = None,
        *,
        resamples: int = 1000,
        seed: int = 0,
        latency_calls: int = 10,
        memo: PredictionMemo | None = None,
    ) -> None:
        self.gate = gate or GateConfig()
        self.resamples = resamples
        self.seed = seed
        self.latency_calls = latency_calls
        # Homes a version (or the baseline) already predicted are answered from memory (same predictions).
        self.memo = memo or PredictionMemo()

    def evaluate(
        self,
        trainer: Trainer,
        candidate: Model | None,
        champion: Model | None,
        examples: pl.DataFrame,
        *,
        candidate_version: str | None = None,
        champion_version: str | None = None,
        train_s: float | None = None,
        artifact_bytes: int | None = None,
    ) -> Evaluation:
        """Evaluate on `examples` (held-out homes only: the caller splits with `split_by_home`).

        `candidate=None` evaluates the baseline as if it were a candidate (useful as a reference point).
        """
        if examples.is_empty():
            raise ValueError(f"no held-out examples to evaluate {trainer.model_type} on")
        started = time.perf_counter()
        memo = self.memo
        memo.forget_candidate(trainer.model_type)  # an earlier, unregistered candidate is not this one
        predictions = {
            "candidate": memo.predict(trainer, candidate, candidate_version or CANDIDATE, examples)
        }
        predictions["baseline"] = memo.predict(trainer, None, None, examples)
        if champion is not None:
            predictions["champion"] = memo.predict(trainer, champion, champion_version, examples)
        metrics = {arm: trainer.score(p) for arm, p in predictions.items()}
        reference: Literal["champion", "baseline"] = "champion" if champion is not None else "baseline"
        bootstrap = {"resamples": self.resamples, "seed": self.seed}
        vs_baseline = paired_bootstrap(
            trainer, predictions["candidate"], predictions["baseline"], reference_name="baseline", **bootstrap
        )
        vs_reference = (
            vs_baseline
            if reference == "baseline"
            else paired_bootstrap(
                trainer,
                predictions["candidate"],
                predictions["champion"],
                reference_name="champion",
                **bootstrap,
            )
        )
        checks = self._checks(trainer.primary_metric, metrics["candidate"], metrics[reference], vs_reference)
        regressions = self._regressions(metrics["candidate"], metrics[reference])
        failed = [c for c in checks if not c.passed]
        passed = not failed
        reasons = (
            [
                f"{trainer.primary_metric} {vs_reference.candidate_value:.4f} vs {reference} "
                f"{vs_reference.reference_value:.4f} ({vs_reference.diff:+.4f}, 95% CI "
                f"{vs_reference.ci_text()})"
            ]
            if passed
            else [_describe(c, vs_reference) for c in failed]
        )
        if regressions:
            reasons.append(
                "regressions: " + ", ".join(f"{r.metric} −{r.relative_drop:.1%}" for r in regressions)
            )
        latency = self._latency(trainer, candidate, examples)
        size = (
            artifact_bytes
            if artifact_bytes is not None or candidate is None
            else model_bytes(trainer, candidate)
        )
        homes = sorted(set(examples.get_column("home_key").to_list()))
        return Evaluation(
            model_type=trainer.model_type,
            primary_metric=trainer.primary_metric,
            candidate_version=candidate_version,
            champion_version=champion_version,
            reference=reference,
            examples=examples.height,
            validation_homes=homes,
            metrics=metrics,
            vs_reference=vs_reference,
            vs_baseline=vs_baseline,
            passed=passed,
            reasons=reasons,
            checks=checks,
            regressions=regressions,
            benchmarks=Benchmarks(
                latency_p50_ms=latency[0],
                latency_p95_ms=latency[1],
                predict_calls=latency[2],
                model_bytes=size,
                train_s=train_s,
                eval_s=time.perf_counter() - started,
            ),
        )

    def _checks(
        self,
        primary: str,
        candidate: Mapping[str, float],
        reference: Mapping[str, float],
        comparison: Comparison,
    ) -> list[GateCheck]:
        checks = []
        for metric, gate in sorted(self.gate.metrics.items()):
            value = candidate.get(metric, float("nan"))
            if gate.min_value is not None:
                checks.append(
                    GateCheck(
                        metric=metric,
                        kind="value",
                        value=value,
                        threshold=gate.min_value,
                        passed=value >= gate.min_value,
                    )
                )
            if gate.max_drop is not None:
                floor = reference.get(metric, float("nan")) - gate.max_drop
                checks.append(
                    GateCheck(
                        metric=metric, kind="change", value=value, threshold=floor, passed=value >= floor
                    )
                )
        checks.append(
            GateCheck(
                metric=primary,
                kind="improvement",
                value=comparison.diff,
                threshold=self.gate.min_improvement,
                passed=comparison.diff > self.gate.min_improvement,
            )
        )
        if self.gate.require_significant:
            checks.append(
                GateCheck(
                    metric=primary,
                    kind="power",
                    value=comparison.min_p,
                    threshold=ONE_SIDED_ALPHA,
                    passed=comparison.can_be_significant,
                )
            )
            checks.append(
                GateCheck(
                    metric=primary,
                    kind="significance",
                    value=comparison.ci_low,
                    threshold=0.0,
                    passed=comparison.ci_low > 0,
                )
            )
        return checks

    def _regressions(
        self, candidate: Mapping[str, float], reference: Mapping[str, float]
    ) -> list[Regression]:
        found = []
        for metric in sorted(set(candidate) & set(reference)):
            ref, cand = reference[metric], candidate[metric]
            drop = (ref - cand) / abs(ref) if ref else 0.0
            if drop > self.gate.tolerance:
                found.append(Regression(metric=metric, candidate=cand, reference=ref, relative_drop=drop))
        return found

    def _latency(
        self, trainer: Trainer, model: Model | None, examples: pl.DataFrame
    ) -> tuple[float, float, int]:
        """p50 and p95 milliseconds of one `predict_examples` call on one home's examples."""
        per_home = examples.partition_by("home_key", maintain_order=True)
        calls = self.latency_calls  # a fixed budget: with many held-out homes one call each would dominate
        timings = []
        for n in range(calls):
            started = time.perf_counter()
            trainer.predict_examples(model, per_home[n % len(per_home)])
            timings.append((time.perf_counter() - started) * 1000)
        if not timings:
            return 0.0, 0.0, 0
        p50, p95 = np.quantile(timings, [0.5, 0.95])
        return float(p50), float(p95), len(timings)


def _describe(check: GateCheck, comparison: Comparison) -> str:
    if check.kind == "value":
        return f"{check.metric} {check.value:.4f} below the value threshold {check.threshold:.4f}"
    if check.kind == "change":
        return f"{check.metric} {check.value:.4f} dropped below {check.threshold:.4f} (change threshold)"
    if check.kind == "significance":
        return (
            f"{check.metric} improvement not significant (95% CI {comparison.ci_text()}, low ≤ 0; "
            f"minimum detectable effect {comparison.mde:.4f})"
        )
    if check.kind == "power":
        return (
            f"cannot be significant with {comparison.homes} held-out homes (smallest attainable p "
            f"{check.value:.3g} > {check.threshold:.3g}): more held-out homes needed"
        )
    return f"{check.metric} did not improve on the reference: {check.value:+.4f} ≤ {check.threshold:+.4f}"


def write_evaluation(workspace: Workspace, evaluation: Evaluation) -> tuple[Path, Path]:
    """Write the evaluation report (JSON + markdown) atomically; return both paths."""
    files = workspace.evaluation_report(evaluation.model_type, evaluation.candidate_version)
    write_json_atomic(files.json, evaluation.model_dump(mode="json"))
    write_text_atomic(files.md, evaluation.markdown())
    return files.json, files.md
