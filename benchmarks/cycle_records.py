"""Every record (and per-stage count) a cycle makes for a dataset's first K homes, as JSON lines: run it
with two source trees on the same workspace and compare the files byte for byte to show that a speed-up
changed no output.

    PYTHONPATH=/tmp/base/src python benchmarks/cycle_records.py --workspace W -k 3 base.jsonl
    PYTHONPATH=src python benchmarks/cycle_records.py --workspace W -k 3 new.jsonl
    cmp base.jsonl new.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import DEFAULT_STAGES, HomeTask, run_home
from homesim.simulation.model_provider import NoModels
from homesim.workspace import Workspace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--homes", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", "--first", type=int, default=3, help="how many of the dataset's homes to run")
    args = parser.parse_args(argv)
    workspace = Workspace(args.workspace)
    config = GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
    with DataGenerationManager(workspace, "process", workers=2) as manager:
        keys = list(manager.generate(config).manifest.home_keys)[: args.first]
    with args.out.open("w", encoding="utf-8") as out:
        for key in keys:
            outcome = run_home(HomeTask(workspace.home_dir(key), config, 1, DEFAULT_STAGES, NoModels()))
            if outcome.errors:
                raise SystemExit(f"{key}: {outcome.errors[0].stage}: {outcome.errors[0].error}")
            out.writelines(record.model_dump_json() + "\n" for record in outcome.records)
            out.write(json.dumps({"home": key, "counts": outcome.counts}) + "\n")
    print(f"{args.out}: {len(keys)} homes")


if __name__ == "__main__":
    main()
