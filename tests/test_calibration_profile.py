"""Calibration's hourly profile and episode sizes: the moments the pilot matches (`hourly_share`,
`episode_size_cv`) and the generator hooks that move them (`Calibration.hourly`, `Episodes.size_shape`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from homesim.datasets.home_folder import write_home
from homesim.generation.calibration import Calibration
from homesim.generation.home import generate_home
from homesim.real_homes.calibration import FittedHome, fit_home
from homesim.real_homes.calibration.fit import EPISODE_S, episode_size_cv, hourly_share
from homesim.real_homes.calibration.moments import calibration_config
from homesim.real_homes.importing import import_history
from homesim.real_homes.realism.footing import load_home

ORDONEZ = Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> FittedHome:
    out = tmp_path_factory.mktemp("real") / "A"
    import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", out)
    return fit_home(out)


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
