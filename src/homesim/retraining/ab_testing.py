"""A/B tests: one simulation cycle whose homes are split between a model type's champion and challenger.

Homes are ranked by a hash of (model type, home key) and the first `share` of them run the challenger
(at least one home per arm): the split is deterministic, independent of the dataset's home order, and
uncorrelated with the evaluator's validation split. Every other model type uses its champion in both arms,
so a difference downstream of the tested stage is the tested model's doing.

Each stage is scored per arm from the homes' additive counts (`simulation.metrics`), and the arms' F1 are
compared with a permutation test by home (homes, not records, are the independent units): the p-value is
the share of re-splits of the homes into arms of the same sizes whose F1 difference is at least as large
as the observed one — every split when there are few, else 9,999 random ones. The challenger wins when it
is significantly better on the model type's own stage and significantly worse on none; the champion wins
when it is significantly better there. The result is written to `reports/ab_<model_type>_<cycle>.json`;
with `promote=True` a winning challenger is deployed (`promote` event).

Honest about power: with few homes no split can be extreme enough — 2 homes per arm allow 6 splits, the
observed one and its mirror, so p ≥ 2/6 = 0.33 whatever the data. `smallest_p` computes this bound before
the cycle runs; when it is not below `alpha` the result says the test cannot be significant
(`can_be_significant` false, the decision names the bound), there is no winner and nothing is promoted.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict

from homesim.datasets.executors import Executor
from homesim.io import write_json_atomic
from homesim.retraining.deployment import DeploymentError, deploy
from homesim.retraining.provider import RegistryModelProvider
from homesim.retraining.registry import ModelRegistry
from homesim.schema.records import STAGES, AnyRecord, StageName
from homesim.scores import f1_from_counts
from homesim.simulation.cycle import (
    DEFAULT_STAGES,
    HomeOutcome,
    SimulationCycle,
    Stage,
    StageError,
    find_dataset,
)
from homesim.simulation.metrics import F1_COUNTS, Counts, StageMetrics, stage_metrics, sum_counts
from homesim.simulation.model_provider import ModelType
from homesim.simulation.sink import RecordSink
from homesim.workspace import Workspace

F64 = npt.NDArray[np.float64]
Arm = Literal["champion", "challenger"]
ARMS: Final[tuple[Arm, Arm]] = ("champion", "challenger")
#: Random re-splits of the permutation test when there are more possible ones.
N_RESAMPLES: Final = 9999

#: The stage whose records each model type's predictions decide.
STAGE_OF: Final[dict[ModelType, StageName]] = {
    "pattern_detection": "pattern",
    "gnn_synergy": "synergy",
    "device_intelligence": "device_health",
    "soft_prompt": "ask_ai",
    "yaml_generation": "automation",
}


class ABStage(BaseModel):
    """One stage's metrics in both arms and the permutation test of their F1 difference."""

    model_config = ConfigDict(frozen=True)

    stage: StageName
    metric: Literal["f1"]
    champion: StageMetrics
    challenger: StageMetrics
    champion_value: float
    challenger_value: float
    #: challenger_value − champion_value.
    difference: float
    #: Two-sided permutation p-value; None when an arm has no home with this stage.
    p_value: float | None
    significant: bool
    better: Arm | None


class ABResult(BaseModel):
    """The outcome of an A/B cycle (`reports/ab_<model_type>_<cycle>.json`)."""

    model_config = ConfigDict(frozen=True)

    model_type: ModelType
    target_stage: StageName
    cycle: int
    dataset_id: str
    created: datetime
    alpha: float
    share: float
    #: The versions compared ("baseline" when there is no champion).
    champion: str
    challenger: str
    homes: dict[Arm, list[str]]
    #: The smallest p-value the permutation test can give with these arm sizes, and whether it is < alpha.
    min_p: float
    can_be_significant: bool
    stages: list[ABStage]
    winner: Arm | None
    decision: str
    promoted: bool
    errors: list[StageError]


class _DiscardSink:
    """The default sink of an A/B cycle: its records are an experiment's, not training data."""

    def emit(self, record: AnyRecord) -> None:
        pass

    def emit_many(self, records: Iterable[AnyRecord]) -> None:
        pass

    def emit_frame(self, stage: StageName, frame: pl.DataFrame) -> None:
        pass


def _hash_unit(model_type: ModelType, home_key: str) -> float:
    digest = hashlib.sha256(f"ab:{model_type}:{home_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_homes(home_keys: Sequence[str], model_type: ModelType, share: float = 0.5) -> dict[str, Arm]:
    """Home key → arm: the `share` of homes with the lowest hash get the challenger (≥ 1 home per arm)."""
    if len(home_keys) < 2:
        raise ValueError(f"an A/B test needs at least 2 homes, got {len(home_keys)}")
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be strictly between 0 and 1, got {share}")
    ranked = sorted(home_keys, key=lambda key: (_hash_unit(model_type, key), key))
    n_challenger = min(len(ranked) - 1, max(1, round(share * len(ranked))))
    return {key: "challenger" if i < n_challenger else "champion" for i, key in enumerate(ranked)}


def smallest_p(champion_homes: int, challenger_homes: int, n_resamples: int = N_RESAMPLES) -> float:
    """The smallest two-sided p-value `compare_arms` can return for these arm sizes: the observed split
    (and its mirror when the arms are equally large) among all re-splits; `1 / (n_resamples + 1)` when
    the re-splits are sampled."""
    if min(champion_homes, challenger_homes) < 1:
        return 1.0
    splits = math.comb(champion_homes + challenger_homes, challenger_homes)
    extreme = 2 if champion_homes == challenger_homes else 1
    if min(champion_homes, challenger_homes) > 1 and splits > n_resamples:
        return 1 / (n_resamples + 1)
    return min(1.0, extreme / splits)


def _f1(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """F1 of count vectors (last axis in `F1_COUNTS` order); 0 where undefined (nothing predicted…)."""
    return f1_from_counts(*np.moveaxis(counts, -1, 0))


def compare_arms(
    champion: Sequence[Counts],
    challenger: Sequence[Counts],
    *,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> tuple[float, float, float | None]:
    """(champion F1, challenger F1, two-sided permutation p-value by home) from per-home counts."""
    # Imported here: scipy is the `ml` extra and slow to import, and every CLI command imports this module.
    from scipy.stats import permutation_test

    values = np.array(
        [[c.get(k, 0.0) for k in F1_COUNTS] for c in [*champion, *challenger]], dtype=np.float64
    ).reshape(-1, len(F1_COUNTS))
    total, k = len(values), len(challenger)
    champion_f1 = float(_f1(values[: total - k].sum(axis=0)))
    challenger_f1 = float(_f1(values[total - k :].sum(axis=0)))
    if not champion or not challenger:
        return champion_f1, challenger_f1, None

    def distance(
        champion_homes: npt.NDArray[np.int64], challenger_homes: npt.NDArray[np.int64], axis: int
    ) -> F64:
        # The permuted samples are home indices; an arm's F1 is that of its homes' summed counts.
        return np.abs(_f1(values[challenger_homes].sum(axis=-2)) - _f1(values[champion_homes].sum(axis=-2)))

    # |difference| with alternative "greater" is the two-sided test: the share of re-splits at least as
    # far apart as the observed one (every split when there are few, else n_resamples random ones).
    if min(k, total - k) == 1:
        # scipy wants two homes per arm; with one, the `total` re-splits are each home alone in that arm.
        alone = np.arange(total)[:, None]
        rest = np.array([np.delete(np.arange(total), i) for i in range(total)])
        null = distance(rest, alone, axis=-1) if k == 1 else distance(alone, rest, axis=-1)
        observed = distance(np.arange(total - k), np.arange(total - k, total), axis=-1)
        return champion_f1, challenger_f1, float(np.mean(null >= observed * (1 - 1e-12)))
    result = permutation_test(
        (np.arange(total - k), np.arange(total - k, total)),
        distance,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return champion_f1, challenger_f1, min(1.0, float(result.pvalue))


def compare_stage(
    stage: StageName,
    counts: Mapping[Arm, Sequence[Counts]],
    errors: Mapping[Arm, int],
    records: Mapping[Arm, int],
    *,
    alpha: float,
    seed: int,
) -> ABStage:
    """The per-arm metrics of one stage and the test of their F1 difference."""
    champion_f1, challenger_f1, p = compare_arms(counts["champion"], counts["challenger"], seed=seed)
    significant = p is not None and p < alpha and challenger_f1 != champion_f1
    arm_metrics = {
        arm: stage_metrics(
            stage, sum_counts(counts[arm]), homes=len(counts[arm]), errors=errors[arm], records=records[arm]
        )
        for arm in ARMS
    }
    return ABStage(
        stage=stage,
        metric="f1",
        champion=arm_metrics["champion"],
        challenger=arm_metrics["challenger"],
        champion_value=champion_f1,
        challenger_value=challenger_f1,
        difference=challenger_f1 - champion_f1,
        p_value=p,
        significant=significant,
        better=None if not significant else ("challenger" if challenger_f1 > champion_f1 else "champion"),
    )


def decide(target: StageName, stages: Sequence[ABStage]) -> tuple[Arm | None, str]:
    """The winner (None: no significant difference, or a mixed result) and the sentence saying why."""
    by_stage = {s.stage: s for s in stages}
    tested = by_stage.get(target)
    if tested is None:
        return None, f"no {target} records in the A/B cycle: nothing to compare"
    summary = f"{target} F1 {tested.champion_value:.3f} → {tested.challenger_value:.3f}" + (
        f" (p={tested.p_value:.3g})" if tested.p_value is not None else ""
    )
    if tested.better == "champion":
        return "champion", f"champion significantly better: {summary}"
    if tested.better != "challenger":
        return None, f"no significant difference: {summary}"
    worse = [s.stage for s in stages if s.better == "champion"]
    if worse:
        return None, f"challenger better on {target} but significantly worse on {', '.join(worse)}: {summary}"
    return "challenger", f"challenger significantly better: {summary}"


def run_ab(
    workspace: Workspace,
    model_type: ModelType,
    dataset: str | Path,
    cycle: int,
    *,
    promote: bool = False,
    share: float = 0.5,
    alpha: float = 0.05,
    seed: int = 0,
    sink: RecordSink | None = None,
    executor: Executor | str = "process",
    workers: int = 2,
    stages: Sequence[tuple[StageName, Stage]] = DEFAULT_STAGES,
    clock: datetime | None = None,
) -> ABResult:
    """Run cycle `cycle` of `dataset` with the homes split between champion and challenger of `model_type`,
    compare every stage per arm, write the report, and (with `promote`) deploy a winning challenger."""
    providers: dict[Arm, RegistryModelProvider] = {
        "champion": RegistryModelProvider(workspace),
        "challenger": RegistryModelProvider(workspace, overrides={model_type: "challenger"}),
    }
    # Pinned now: both arms keep these versions for the whole cycle, whatever is deployed meanwhile.
    champion, challenger = (providers[arm].resolve()[model_type] for arm in ARMS)
    if challenger is None:
        raise DeploymentError(
            f"{model_type} has no challenger: make one with `homesim models deploy {model_type} VERSION "
            "--challenger`"
        )
    arms = split_homes(find_dataset(workspace, dataset).home_keys, model_type, share)
    sizes = Counter(arms.values())
    min_p = smallest_p(sizes["champion"], sizes["challenger"])
    homes: list[_HomeScore] = []
    with SimulationCycle(
        workspace,
        sink or _DiscardSink(),
        home_models=lambda key: providers[arms[key]],
        executor=executor,
        workers=workers,
        stages=stages,
    ) as sim:
        report = sim.run(dataset, cycle, progress=lambda outcome: homes.append(_HomeScore.of(outcome)))
    stages_compared = _compare(homes, arms, alpha=alpha, seed=seed)
    winner, decision = decide(STAGE_OF[model_type], stages_compared)
    if min_p >= alpha:
        winner, decision = (
            None,
            (
                f"cannot be significant: {sizes['champion']} champion and {sizes['challenger']} challenger "
                f"homes allow no p-value below {min_p:.3g} (alpha {alpha:g}); no winner, nothing promoted — "
                f"use more homes. Observed: {decision}"
            ),
        )
    promoted = promote and winner == "challenger"
    if promoted:
        with ModelRegistry(workspace) as registry:
            deploy(registry, model_type, challenger, f"A/B cycle {cycle}: {decision}", action="promote")
    result = ABResult(
        model_type=model_type,
        target_stage=STAGE_OF[model_type],
        cycle=cycle,
        dataset_id=report.dataset_id,
        created=clock or datetime.now(UTC),
        alpha=alpha,
        share=share,
        champion=champion or "baseline",
        challenger=challenger,
        homes={arm: sorted(k for k, a in arms.items() if a == arm) for arm in ARMS},
        min_p=min_p,
        can_be_significant=min_p < alpha,
        stages=stages_compared,
        winner=winner,
        decision=decision,
        promoted=promoted,
        errors=report.errors,
    )
    write_json_atomic(workspace.ab_report(model_type, cycle), result.model_dump(mode="json"))
    return result


@dataclass(frozen=True)
class _HomeScore:
    """What the comparison keeps of a home's outcome (not its records)."""

    home_key: str
    counts: dict[str, Counts]
    errors: Counter[str]
    records: Counter[str]

    @classmethod
    def of(cls, outcome: HomeOutcome) -> _HomeScore:
        return cls(
            outcome.home_key,
            outcome.counts,
            Counter(e.stage for e in outcome.errors),
            Counter(r.stage for r in outcome.records),
        )


def _compare(
    homes: Sequence[_HomeScore], arms: Mapping[str, Arm], *, alpha: float, seed: int
) -> list[ABStage]:
    compared = []
    for stage in (s for s in STAGES if any(s in h.counts for h in homes)):
        counts: dict[Arm, list[Counts]] = {arm: [] for arm in ARMS}
        errors: dict[Arm, int] = dict.fromkeys(ARMS, 0)
        records: dict[Arm, int] = dict.fromkeys(ARMS, 0)
        for home in sorted(homes, key=lambda h: h.home_key):
            arm = arms[home.home_key]
            if stage in home.counts:
                counts[arm].append(home.counts[stage])
            errors[arm] += home.errors[stage]
            records[arm] += home.records[stage]
        compared.append(compare_stage(stage, counts, errors, records, alpha=alpha, seed=seed))
    return compared
