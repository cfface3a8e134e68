"""The construct mix of real automations next to homesim's ground truth and yaml_generation export.

Real: the HA-accepted automations of tests/data/real_automations. Generated: the ground-truth automations
and the automation stage's YAML (the `yaml` column of the yaml_generation export's `yaml_pairs`) of
generated homes. Usage: python benchmarks/construct_mix.py [homes] [days]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ha.automation import Automation, load_yaml, parse_automation, parse_items
from homesim.ha.automation.stats import construct_mix, mix_table
from homesim.ha.yaml_loader import loads
from homesim.schema.records import AutomationInputs
from homesim.simulation.automation_builder import AutomationBuilder, AutomationSpec
from homesim.simulation.home_view import HomeView
from homesim.simulation.suggestions import SuggestionGenerator, from_ground_truth

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_automations"


def real_automations() -> list[Automation]:
    """The corpus automations HA 2025.1.4 accepted (concatenated files split at `# --- file:` lines)."""
    accepted = {
        (v["file"], v["index"])
        for v in map(json.loads, (CORPUS / "ha_verdicts.jsonl").read_text().splitlines())
        if v["ha_ok"]
    }
    found = []
    for file in sorted({file for file, _ in accepted}):
        text = (CORPUS / file).read_text("utf-8")
        parts = re.split(r"^# --- file: .*$", text, flags=re.MULTILINE)
        items = [item for part in parts if (data := loads(part)) for item in data]
        parsed = parse_items(items)
        found += [a for prefix, a in parsed.automations.items() if (file, int(prefix[1:-1])) in accepted]
    return found


def main() -> None:
    homes = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 14
    truth: list[Automation] = []
    exported: list[Automation] = []
    for seed in range(1, homes + 1):
        view = HomeView.from_generated(generate_home(GenerationConfig(days=days, seed=seed), 0))
        builder = AutomationBuilder(view, 0)
        suggestions = SuggestionGenerator(view.home, 0)
        for index, pattern in enumerate(view.truth.patterns):
            truth.append(parse_automation(pattern.automation.model_dump(mode="json")))
            suggestion = suggestions.record(from_ground_truth(pattern), view.key, 0)
            if not suggestion.outputs.automation_spec:
                continue
            spec = AutomationSpec.model_validate(suggestion.outputs.automation_spec)
            inputs = AutomationInputs(source="suggestion")
            record = builder.build(spec, f"a{index}", pattern.id, inputs, ())
            if record.outputs.yaml:
                exported += load_yaml(record.outputs.yaml)
    real = real_automations()
    print(
        mix_table(
            {
                f"real corpus ({len(real)})": construct_mix(real),
                f"ground truth ({len(truth)})": construct_mix(truth),
                f"yaml_generation export ({len(exported)})": construct_mix(exported),
            }
        )
    )


if __name__ == "__main__":
    main()
