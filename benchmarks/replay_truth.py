"""Replay every ground-truth automation over its home's events: the share of occurrences it fires on.

The simulation issue's check that the truth's automations reproduce the behaviour (goal: >= 95%).
Usage: python benchmarks/replay_truth.py [homes] [days]
"""

from __future__ import annotations

import sys
from collections import defaultdict

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import build_ground_truth
from homesim.ha.automation import parse_automation
from homesim.simulation.replay import Replayer, ReplayInput, score_pattern


def main() -> None:
    homes = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    config = GenerationConfig(days=days, seed=11)
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for index in range(homes):
        generated = generate_home(config, index)
        truth = build_ground_truth(generated)
        data = ReplayInput.build(
            generated.events, generated.environment.to_table(), generated.home.metadata.timezone
        )
        replayer = Replayer(data)
        for pattern in truth.patterns:
            result = replayer.run(parse_automation(pattern.automation.model_dump(mode="json")))
            match = score_pattern(result, generated.events, pattern)
            kind = f"{pattern.type}/{pattern.trigger.kind}"
            hits[kind][0] += match.hit_occurrences
            hits[kind][1] += match.occurrences
    total_hit = sum(h for h, _ in hits.values())
    total = sum(n for _, n in hits.values())
    print(f"| pattern type / trigger | occurrences fired on ({homes} homes × {days} days) |")
    print("| --- | --- |")
    for kind, (hit, n) in sorted(hits.items()):
        print(f"| {kind} | {hit / max(n, 1):.1%} ({hit}/{n}) |")
    print(f"| **all** | **{total_hit / max(total, 1):.1%}** ({total_hit}/{total}) |")


if __name__ == "__main__":
    main()
