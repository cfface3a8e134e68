"""Calibration's hourly profile, episode sizes and bursts: the moments the pilot matches (`hourly_share`,
`episode_size_cv`, `burst_share`) and the generator hooks that move them (`Calibration.hourly`,
`Episodes.size_shape`, the gaps inside episodes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from homesim.datasets.home_folder import write_home
from homesim.generation.calibration import Calibration
from homesim.generation.home import generate_home
from homesim.real_homes.calibration import FittedHome, fit_home, moments
from homesim.real_homes.calibration.fit import EPISODE_S, burst_share, episode_size_cv, hourly_share
from homesim.real_homes.calibration.moments import calibration_config, match_rates
from homesim.real_homes.realism.footing import load_home


@pytest.fixture(scope="module")
def fitted(home_a: Path) -> FittedHome:
    return fit_home(home_a)


def _activations(seconds: list[float]) -> pl.DataFrame:
    t0 = datetime(2024, 1, 1, 8)
    starts = [t0 + timedelta(seconds=s) for s in seconds]
    return pl.DataFrame({"sensor": ["s"] * len(seconds), "start": starts})


def test_hourly_share_and_episode_size_cv() -> None:
    acts = _activations([0.0, 10.0, 3600.0, 3610.0])
    share = hourly_share(acts)
    assert len(share) == 24
    assert share[8] == share[9] == 0.5
    assert sum(share) == pytest.approx(1.0)
    # Episodes of 2 and 2 activations: even sizes; then 3 and 1.
    assert episode_size_cv(acts) == 0.0
    uneven = _activations([0.0, 10.0, 20.0, 30.0 + EPISODE_S + 1])
    assert episode_size_cv(uneven) == pytest.approx(0.5)
    assert episode_size_cv(_activations([0.0])) == 0.0


def test_hourly_needs_24_positive_multipliers(fitted: FittedHome) -> None:
    data = fitted.calibration.model_dump()
    with pytest.raises(ValidationError):
        Calibration.model_validate({**data, "hourly": [1.0] * 23})
    with pytest.raises(ValidationError):
        Calibration.model_validate({**data, "hourly": [0.0] * 24})


def _home(fitted: FittedHome, calibration: Calibration, tmp: Path) -> pl.DataFrame:
    """One calibrated home's kept-day activations (7 days) on the realism footing."""
    config = calibration_config(fitted, homes=1, days=7, seed=5)
    config = config.model_copy(update={"calibration": calibration})
    write_home(generate_home(config, 0), tmp)
    home = load_home(tmp, real=False)
    return home.activations.filter(pl.col("start").dt.date().is_in(home.kept_days["day"].implode()))


def test_hourly_multipliers_move_the_profile(fitted: FittedHome, tmp_path: Path) -> None:
    cal = fitted.calibration
    afternoon = tuple(0.05 if h < 12 else 1.0 for h in range(24))
    plain = hourly_share(_home(fitted, cal, tmp_path / "plain"))
    late = hourly_share(_home(fitted, cal.model_copy(update={"hourly": afternoon}), tmp_path / "late"))
    assert sum(late[12:]) > sum(plain[12:]) + 0.1


def test_size_shape_evens_episode_sizes(fitted: FittedHome, tmp_path: Path) -> None:
    cal = fitted.calibration
    assert cal.episodes is not None

    def shaped(shape: float) -> Calibration:
        assert cal.episodes is not None
        return cal.model_copy(update={"episodes": cal.episodes.model_copy(update={"size_shape": shape})})

    wide = episode_size_cv(_home(fitted, shaped(0.2), tmp_path / "wide"))
    even = episode_size_cv(_home(fitted, shaped(50.0), tmp_path / "even"))
    assert even < wide


def test_burst_share_counts_gaps_under_a_minute() -> None:
    assert burst_share(_activations([0.0, 30.0, 100.0, 1000.0])) == pytest.approx(1 / 3)
    assert burst_share(_activations([0.0])) == 0.0


def test_shorter_gaps_inside_episodes_give_more_bursts(fitted: FittedHome, tmp_path: Path) -> None:
    cal = fitted.calibration
    assert cal.episodes is not None

    def scaled(factor: float) -> Calibration:
        assert cal.episodes is not None
        gaps = {
            k: tuple(v * factor for v in getattr(cal.episodes, k))
            for k in ("gap_s", "room_gap_s", "same_gap_s")
        }
        return cal.model_copy(update={"episodes": cal.episodes.model_copy(update=gaps)})

    slow = burst_share(_home(fitted, scaled(3.0), tmp_path / "slow"))
    quick = burst_share(_home(fitted, scaled(0.3), tmp_path / "quick"))
    assert quick > slow + 0.05


def test_match_rates_scales_every_gap_by_one_factor(
    fitted: FittedHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moments, "PILOT_DAYS", 7)  # a shorter pilot: the test checks the plumbing
    monkeypatch.setattr(moments, "PILOT_ROUNDS", 2)
    assert 0 < fitted.burst_share < 1
    before, after = fitted.calibration.episodes, match_rates(fitted).calibration.episodes
    assert before is not None and after is not None and before.room_gap_s and after.room_gap_s
    ratios = {
        round(a / b, 9)
        for q, r in ((before.gap_s, after.gap_s), (before.room_gap_s, after.room_gap_s))
        for a, b in zip(r, q, strict=True)
        if b > 0
    }
    assert len(ratios) == 1 and ratios != {1.0}
    assert min(moments.GAP_SCALES) <= ratios.pop() <= max(moments.GAP_SCALES)
