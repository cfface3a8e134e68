"""What each job kind does: the same library calls as `homesim generate`, `simulate`, `ground-truth verify`,
`retrain`, `run` and `ab`, with their progress reported to the job instead of a terminal bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homesim.api.jobs import JobContext, JobFailedError, Runner
from homesim.datasets.manager import DataGenerationManager
from homesim.datasets.progress import ProgressEvent
from homesim.datasets.verification import verify_dataset, write_accuracy_report
from homesim.generation.config import GenerationConfig
from homesim.retraining.ab_testing import run_ab
from homesim.retraining.deployment import DeploymentError
from homesim.retraining.loop import LoopConfig, RetrainingLoop
from homesim.retraining.retraining_manager import RetrainingConfig, RetrainingManager
from homesim.simulation.cycle import HomeOutcome, find_dataset
from homesim.training_data.run_and_collect import run_and_collect


def relative(ctx: JobContext, path: Path) -> str:
    return str(path.relative_to(ctx.workspace.root))


def run_generation(ctx: JobContext) -> dict[str, Any]:
    """Generate the homes of a GenerationConfig (cached ones reused) and write the dataset manifest."""
    config = GenerationConfig.model_validate(ctx.request)

    def progress(event: ProgressEvent) -> None:
        ctx.report(
            event.done,
            event.total,
            {
                "home_key": event.home_key,
                "status": event.status,
                "generated": event.generated,
                "cached": event.cached,
                "failed": event.failed,
                "events": event.events,
                "eta_s": event.eta_s,
            },
        )

    with DataGenerationManager(
        ctx.workspace, ctx.executor, workers=ctx.workers, progress=[progress]
    ) as manager:
        result = manager.generate(config)
    manifest = result.manifest
    summary = {
        "dataset_id": manifest.dataset_id,
        "manifest": relative(ctx, result.manifest_path),
        "home_keys": list(manifest.home_keys),
        "counts": manifest.counts.model_dump(),
        "failures": manifest.failures,
        "wall_s": manifest.timings.wall_s,
    }
    if result.failures:
        raise JobFailedError(f"{len(result.failures)} of {config.homes} homes failed", summary)
    return summary


def run_cycle(ctx: JobContext) -> dict[str, Any]:
    """Run a simulation cycle over a dataset, collecting its records into the training-data store."""
    dataset, cycle = str(ctx.request["dataset_id"]), int(ctx.request["cycle"])
    ws = ctx.workspace
    manifest = find_dataset(ws, dataset)
    total = len(manifest.home_keys)
    done = emitted = 0

    def advance(outcome: HomeOutcome) -> None:
        nonlocal done, emitted
        done += 1
        emitted += outcome.n_records
        ctx.report(
            done, total, {"home_key": outcome.home_key, "records": emitted, "errors": len(outcome.errors)}
        )

    collected = run_and_collect(
        ws, dataset, cycle, executor=ctx.executor, workers=ctx.workers, progress=advance
    )
    report = collected.report
    files = ws.cycle_report(report.cycle, report.dataset_id)
    return {
        "report": report.model_dump(mode="json"),
        "report_files": [relative(ctx, files.json), relative(ctx, files.md)],
        "pass_rates": collected.pass_rates,
    }


def run_ground_truth_verify(ctx: JobContext) -> dict[str, Any]:
    """Score the independent pattern extractor against a dataset's ground truth; write the report."""
    directory = ctx.workspace.dataset_dir(str(ctx.request["dataset_id"]))
    ctx.report(0, 1, {"step": "mining"})
    report = verify_dataset(directory, workers=ctx.workers)
    path = write_accuracy_report(report, directory)
    ctx.report(1, 1, {"step": "done"})
    return {"report": report.model_dump(mode="json"), "file": relative(ctx, path)}


def run_retrain(ctx: JobContext) -> dict[str, Any]:
    """Retrain a model type when a trigger fires (or `force`): sufficiency, train, evaluate, deploy/reject."""
    config = RetrainingConfig.model_validate(ctx.request.get("config") or {})
    steps = 0

    def note(line: str) -> None:
        nonlocal steps
        steps += 1
        ctx.report(steps, None, {"step": line})

    with RetrainingManager(ctx.workspace, config, progress=note) as manager:
        result = manager.run(ctx.request["model_type"], force=bool(ctx.request.get("force")))
    return result.model_dump(mode="json")


def run_loop(ctx: JobContext) -> dict[str, Any]:
    """The self-improving loop over K cycles (`homesim run`); the run file is reports/runs/<run_id>.json."""
    request = ctx.request
    retraining = RetrainingConfig.model_validate({**(request.get("config") or {}), "seed": request["seed"]})
    config = LoopConfig(
        cycles=request["cycles"],
        homes=request["homes"],
        days=request["days"],
        seed=request["seed"],
        workers=ctx.workers,
        executor=ctx.executor,
        models=retraining.models,
        retraining=retraining,
    )

    def advance(cycle: int, step: str, done: int, total: int, note: str) -> None:
        ctx.report(done, total, {"cycle": cycle, "step": step, "note": note})

    result = RetrainingLoop(ctx.workspace, config, progress=advance).run()
    return {
        "run_id": config.run_id,
        "run_file": relative(ctx, ctx.workspace.run_file(config.run_id)),
        **result,
    }


def run_ab_test(ctx: JobContext) -> dict[str, Any]:
    """An A/B cycle: homes split by hash between champion and challenger (`homesim ab`)."""
    request = ctx.request
    ctx.report(0, 1, {"step": "simulating both arms"})
    try:
        result = run_ab(
            ctx.workspace,
            request["model_type"],
            str(request["dataset_id"]),
            int(request["cycle"]),
            promote=bool(request.get("promote")),
            share=float(request.get("share", 0.5)),
            alpha=float(request.get("alpha", 0.05)),
            executor=ctx.executor,
            workers=ctx.workers,
        )
    except DeploymentError as exc:  # no challenger, no champion…: the request's problem, said plainly
        raise JobFailedError(str(exc)) from exc
    ctx.report(1, 1, {"step": "done"})
    path = ctx.workspace.ab_report(result.model_type, result.cycle)
    return {"file": relative(ctx, path), **result.model_dump(mode="json")}


RUNNERS: dict[str, Runner] = {
    "generation": run_generation,
    "cycle": run_cycle,
    "ground_truth_verify": run_ground_truth_verify,
    "retrain": run_retrain,
    "run": run_loop,
    "ab": run_ab_test,
}
