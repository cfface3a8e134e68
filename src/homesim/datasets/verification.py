"""Checking a dataset's truth: the independent verifier run again over every home folder of a dataset, and
the `ground_truth_accuracy.json` report beside its homes."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from homesim.datasets.home_folder import HomeFiles
from homesim.datasets.manifest import read_dataset
from homesim.generation.behaviors import BehaviorPlan
from homesim.ground_truth.accuracy import MIN_OCCURRENCES, AccuracyReport, HomeAccuracy, aggregate, match_home
from homesim.ground_truth.truth import build_patterns, event_frame
from homesim.ground_truth.verifier import TruthVerifier, VerifierConfig
from homesim.io import write_json_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.workspace import DatasetFolder, home_folders_in


def verify_dataset(
    dataset: Path,
    *,
    config: VerifierConfig | None = None,
    min_occurrences: int = MIN_OCCURRENCES,
    workers: int = 1,
) -> AccuracyReport:
    """Run the verifier over every home folder in `dataset` and score it against the ground truth.

    A home folder holds home.json, events.parquet, and ground_truth.json or behaviors.json (its patterns
    are then rebuilt from the behaviours and the events).
    """
    config = config or VerifierConfig()
    homes = home_folders(dataset)
    jobs = [(folder, config, min_occurrences) for folder in homes]
    if workers > 1 and len(jobs) > 1:
        # Spawned, not forked: a fork of a process whose polars thread pool is running can deadlock.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            results = list(pool.map(_verify_home, jobs))
    else:
        results = [_verify_home(job) for job in jobs]
    return aggregate(results)


def write_accuracy_report(report: AccuracyReport, dataset: Path) -> Path:
    """Write the report as `ground_truth_accuracy.json` in the dataset folder, beside its homes."""
    path = DatasetFolder(dataset).accuracy_report
    write_json_atomic(path, report.model_dump(mode="json"))
    return path


def home_folders(dataset: Path) -> list[Path]:
    """The home folders of a dataset, sorted: the homes a dataset manifest lists (a workspace dataset
    folder), else the folders holding home.json and events.parquet (any folder of homes)."""
    folder = DatasetFolder(dataset)
    if folder.is_dataset():
        manifest = read_dataset(folder.manifest)
        return sorted(folder.workspace.home_dir(key) for key in manifest.home_keys)
    return [home.path for home in home_folders_in(dataset)]


def _verify_home(job: tuple[Path, VerifierConfig, int]) -> HomeAccuracy:
    folder, config, min_occurrences = job
    reader = HomeFiles(folder)  # each file checked against the home's manifest as it is read
    files = reader.folder
    home = reader.home()
    events = event_frame(reader.parquet(files.events))
    if files.ground_truth.is_file():
        patterns = GroundTruth.model_validate_json(reader.read(files.ground_truth)).patterns
    else:
        plan = BehaviorPlan.model_validate_json(reader.read(files.behaviors))
        patterns = build_patterns(home, plan, events)
    extracted = TruthVerifier(config).extract(events, home.metadata.timezone)
    return match_home(
        home.metadata.home_key,
        patterns,
        extracted,
        min_occurrences=min_occurrences,
        high_confidence=config.high_confidence,
    )
