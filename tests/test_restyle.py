"""Restyled automations: real users' constructs in the measured proportions, the same behaviour exactly."""

from __future__ import annotations

import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ha.automation import Automation, parse_automation, render_yaml
from homesim.ha.automation.restyle import REAL_SHARES, restyle
from homesim.ha.automation.stats import construct_mix
from homesim.ha.automation_validation import validate_against_home
from homesim.simulation.home_view import HomeView
from homesim.simulation.replay import Replayer, ReplayInput, agreement, score_pattern


@pytest.fixture(scope="module")
def generated() -> GeneratedHome:
    return generate_home(GenerationConfig(days=14, seed=3), 0)


@pytest.fixture(scope="module")
def view(generated: GeneratedHome) -> HomeView:
    return HomeView.from_generated(generated)


def _truth(view: HomeView) -> list[Automation]:
    return [parse_automation(p.automation.model_dump(mode="json")) for p in view.truth.patterns]


def test_restyled_automations_act_exactly_alike(view: HomeView) -> None:
    replayer = Replayer(ReplayInput.build(view.events, view.environment, view.timezone))
    changed = 0
    for automation in _truth(view):
        for seed in ("a", "b", "c"):
            styled = restyle(automation, f"{automation.id}:{seed}")
            changed += render_yaml([styled]) != render_yaml([automation])
            assert validate_against_home(styled, view.home) == validate_against_home(automation, view.home)
            original, again = replayer.run(automation), replayer.run(styled)
            assert again.unsupported == original.unsupported
            assert agreement(original, again, tolerance_s=0.0) == 1.0, render_yaml([styled])
    assert changed > 0


def test_ground_truth_stays_exact_when_restyled(view: HomeView, generated: GeneratedHome) -> None:
    replayer = Replayer(ReplayInput.build(view.events, view.environment, view.timezone))
    for pattern, automation in zip(view.truth.patterns, _truth(view), strict=True):
        before = score_pattern(replayer.run(automation), generated.events, pattern)
        after = score_pattern(replayer.run(restyle(automation, pattern.id)), generated.events, pattern)
        assert (after.hit_occurrences, after.firings) == (before.hit_occurrences, before.firings)


def test_restyle_is_deterministic_and_draws_the_measured_shares(view: HomeView) -> None:
    automations = _truth(view)
    assert render_yaml([restyle(automations[0], "x")]) == render_yaml([restyle(automations[0], "x")])
    styled = [restyle(a, f"{a.id}:{n}") for a in automations for n in range(40)]
    mix = construct_mix(styled)
    assert mix["syntax:legacy"] == pytest.approx(REAL_SHARES["legacy_syntax"], abs=0.08)
    assert mix.get("mode:restart", 0.0) > 0.0
    assert mix.get("condition:template", 0.0) > 0.0
