"""Test data for the report tests: real homes and a real cycle, plus an illustrative run (tests only).

`build_demo_workspace` generates a few homes, runs one simulation cycle over them (cycle 1, core stages by
default, so it is quick), then writes a run summary (`reports/runs/<run_id>.json` + `latest.json`) and an
A/B result (`reports/ab_<model_type>_<cycle>.json`) in the shapes the retraining loop and A/B test write.
Those two files are *illustrative*: cycle 1 carries the real cycle's stage metrics, later cycles and the
model outcomes are made-up numbers, deterministic, so every report section has something to draw. Only the
report and browser tests use it: nothing a user sees is drawn from it (the documentation's screenshots come
from a real `make run`, `benchmarks/screenshots.py`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.io import write_json_atomic
from homesim.schema.records import StageName
from homesim.simulation.cycle import CycleReport, SimulationCycle, Stage
from homesim.simulation.device_health import device_health_stage
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.sink import InMemorySink
from homesim.simulation.synergy_detection import synergy_stage
from homesim.workspace import Workspace

DEMO_RUN_ID = "demo-run"
#: The quick stages: enough for every report section (the language stages add minutes, nothing new).
CORE_STAGES: tuple[tuple[StageName, Stage], ...] = (
    ("pattern", pattern_stage),
    ("synergy", synergy_stage),
    ("device_health", device_health_stage),
)
#: Model types of the illustrative run: (model type, primary metric, baseline, first candidate value).
_MODELS = (
    ("gnn_synergy", "pr_auc", 0.58, 0.66),
    ("pattern_detection", "f1", 0.71, 0.74),
    ("soft_prompt", "behaviour_accuracy", 0.77, 0.8),
)


@dataclass(frozen=True)
class DemoWorkspace:
    workspace: Workspace
    report: CycleReport
    run_id: str
    #: Cycles in the run summary (cycle 1 is the real one) and the A/B result's model type and cycle.
    cycles: int
    ab: tuple[str, int]


def build_demo_workspace(
    root: Path,
    *,
    homes: int = 3,
    days: int = 7,
    seed: int = 7,
    cycles: int = 2,
    stages: Sequence[tuple[StageName, Stage]] = CORE_STAGES,
) -> DemoWorkspace:
    """Generate homes, simulate cycle 1, and write an illustrative `cycles`-cycle run and an A/B result."""
    workspace = Workspace(root)
    config = GenerationConfig(homes=homes, days=days, seed=seed)
    with DataGenerationManager(workspace, "inline") as manager:
        manifest = manager.generate(config).manifest
    with SimulationCycle(workspace, InMemorySink(), executor="inline", stages=stages) as sim:
        report = sim.run(manifest.dataset_id, 1)
    # The demo run's cycle 1 is that cycle: a run reads its cycle reports from its own session (runs/<id>/).
    own = workspace.for_run(DEMO_RUN_ID).cycle_report(1, manifest.dataset_id).json
    own.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(workspace.cycle_report(1, manifest.dataset_id).json, own)
    run = _run_summary(report, cycles, config)
    write_json_atomic(workspace.run_file(DEMO_RUN_ID), run)
    write_json_atomic(workspace.latest_run_file, run)
    ab = ("gnn_synergy", cycles)
    write_json_atomic(
        workspace.ab_report(*ab),
        _ab_result(report, ab[0], ab[1], manifest.home_keys),
    )
    return DemoWorkspace(workspace, report, DEMO_RUN_ID, cycles, ab)


def _run_summary(report: CycleReport, cycles: int, config: GenerationConfig) -> dict[str, Any]:
    """The run file's shape (see the retraining loop): real cycle-1 metrics, then steady made-up gains."""

    def stage_metrics(k: int) -> dict[str, dict[str, Any]]:
        gain = 0.04 * k  # the illustration: every retrained cycle recovers a little more
        return {
            m.stage: {
                "precision": None if m.precision is None else min(1.0, m.precision + gain),
                "recall": None if m.recall is None else min(1.0, m.recall + gain / 2),
                "f1": None if m.f1 is None else min(1.0, m.f1 + 0.75 * gain),
                "model_version": "baseline" if k == 0 else f"v{k}",
            }
            for m in report.stages
        }

    def model(k: int, baseline: float, first: float, metric: str) -> dict[str, Any]:
        candidate = first + 0.03 * k - (0.05 if k == 2 else 0.0)  # cycle 3 regresses: rejected
        champion = None if k == 0 else first + 0.03 * (k - 1)
        reference = champion if champion is not None else baseline
        ci_low, ci_high = candidate - reference - 0.02, candidate - reference + 0.02
        deployed = ci_low > 0  # the gate: the gain's whole interval above zero
        return {
            "decision": "deployed" if deployed else "rejected",
            # reasons as long as the loop's (they must wrap, not widen the page, in the report)
            "reason": (
                f"{1000 + 100 * k} new records since cycle {k} (threshold 100) → {metric} "
                + (
                    f"{candidate:.4f} vs champion {reference:.4f} (+{candidate - reference:.4f}, "
                    f"95% CI [{ci_low:+.4f}, {ci_high:+.4f}])"
                    if deployed
                    else f"improvement not significant (95% CI low {ci_low:.4f} ≤ 0); "
                    "regressions: detection_recall −9.1%, detection_precision −63.6%"
                )
            ),
            "candidate": f"v{k + 1}",
            "champion": f"v{k + 1}" if deployed else (f"v{k}" if k else None),
            "primary_metric": metric,
            "candidate_value": round(candidate, 4),
            "champion_value": None if champion is None else round(champion, 4),
            "baseline_value": baseline,
            "ci_low": round(ci_low, 4),
            "ci_high": round(ci_high, 4),
            "train_s": 2.5 + k,
            "eval_s": 0.4,
        }

    return {
        "run_id": DEMO_RUN_ID,
        "started": report.started_at.isoformat(),
        "config": {"cycles": cycles, "homes": config.homes, "days": config.days, "seed": config.seed},
        "cycles": [
            {
                "cycle": k + 1,
                "dataset_id": report.dataset_id,
                "homes": report.homes,
                "records": report.records,
                "wall_s": round(report.wall_s, 2),
                "stage_metrics": stage_metrics(k),
                "models": {name: model(k, base, first, metric) for name, metric, base, first in _MODELS},
            }
            for k in range(cycles)
        ],
    }


def _ab_result(report: CycleReport, model_type: str, cycle: int, home_keys: Sequence[str]) -> dict[str, Any]:
    """An `ABResult`-shaped dict: the challenger arm is the champion's metrics with a small F1 gain."""
    stages = []
    for m in report.stages:
        champion = m.model_dump(mode="json")
        challenger = champion | {"f1": None if m.f1 is None else min(1.0, m.f1 + 0.05)}
        better = m.stage == "synergy" and m.f1 is not None
        stages.append(
            {
                "stage": m.stage,
                "metric": "f1",
                "champion": champion,
                "challenger": challenger,
                "champion_value": m.f1 or 0.0,
                "challenger_value": challenger["f1"] or 0.0,
                "difference": (challenger["f1"] or 0.0) - (m.f1 or 0.0),
                "p_value": 0.03 if better else 0.4,
                "significant": better,
                "better": "challenger" if better else None,
            }
        )
    half = len(home_keys) // 2
    return {
        "model_type": model_type,
        "target_stage": "synergy",
        "cycle": cycle,
        "dataset_id": report.dataset_id,
        "created": report.started_at.isoformat(),
        "alpha": 0.05,
        "share": 0.5,
        "champion": "v1",
        "challenger": "v2",
        "homes": {"champion": list(home_keys[half:]), "challenger": list(home_keys[:half])},
        "min_p": 0.01,
        "can_be_significant": True,
        "stages": stages,
        "winner": "challenger",
        "decision": "challenger better on synergy, worse on none",
        "promoted": False,
        "errors": [],
    }
