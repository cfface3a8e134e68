"""The cross-fitted calibration score: `fold_splits` cuts the kept days into contiguous blocks, a fold's fit
never reads its held-out block (a middle one included), and `mean_c2st` averages the folds' tests."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats

from homesim.datasets.home_folder import read_home
from homesim.real_homes.calibration import CalibrationError, fit_home, moments
from homesim.real_homes.calibration.crossfit import mean_c2st
from homesim.real_homes.calibration.fit import fold_splits
from homesim.real_homes.calibration.run import REPORT_FILE, calibrate, calibration_file
from homesim.real_homes.realism.footing import load_home
from homesim.real_homes.realism.statistics import C2ST
from homesim.workspace import ACTIVITIES_FILE, EVENTS_FILE, Workspace


def test_fold_splits_hold_out_each_day_once_in_contiguous_blocks(home_a: Path) -> None:
    footing = load_home(home_a, real=True)
    days = sorted(footing.kept_days["day"].to_list())
    splits = fold_splits(footing, 3)
    held = [d for s in splits for d in s.held_out_days]
    assert held == days  # every kept day held out once, in order
    for j, s in enumerate(splits):
        assert s.fold == (j, 3)
        assert len(s.held_out_days) >= 4  # 13 days: blocks of 4, 5 and 4
        assert sorted(s.fit_days + s.held_out_days) == days
        assert s.cutoff == datetime.combine(s.held_out_days[0], datetime.min.time())
        later = [d for d in s.fit_days if d > s.held_out_days[-1]]
        assert (s.resume is None) == (not later)
        if later:
            assert s.resume == datetime.combine(later[0], datetime.min.time())
    with pytest.raises(CalibrationError, match="cannot be cut into 7 blocks"):
        fold_splits(footing, 7)


def _drop_toilet_and_labels(src: Path, dst: Path, start: datetime, end: datetime) -> None:
    """Copy a home and drop one sensor's events and every non-leaving label in [start, end)."""
    shutil.copytree(src, dst)
    for name, column, keep in (
        (EVENTS_FILE, "entity_id", "toilet"),
        (ACTIVITIES_FILE, "activity", "leaving"),
    ):
        table = pq.read_table(dst / name)
        values = table[column].cast(pa.string())
        chosen = pc.match_substring(values, "toilet") if keep == "toilet" else pc.not_equal(values, keep)
        times = table["time" if name == EVENTS_FILE else "start"]
        inside = pc.and_(pc.greater_equal(times, start), pc.less(times, end))
        pq.write_table(table.filter(pc.invert(pc.and_(chosen, inside))), dst / name)


def test_a_middle_block_never_reaches_its_fold_fit(home_a: Path, tmp_path: Path) -> None:
    tz = ZoneInfo(read_home(home_a).metadata.timezone)
    fitted = fit_home(home_a, fold=(1, 3))
    split = fitted.split
    assert split.resume is not None and split.fit_days[0] < split.cutoff.date() < split.resume.date()
    cutoff, resume = split.cutoff.replace(tzinfo=tz), split.resume.replace(tzinfo=tz)
    _drop_toilet_and_labels(home_a, tmp_path / "held", cutoff, resume)
    assert fit_home(tmp_path / "held", fold=(1, 3)) == fitted
    # The same change to the fit days after the block does change the fit: the test can fail.
    _drop_toilet_and_labels(home_a, tmp_path / "after", resume, resume.replace(year=resume.year + 1))
    assert fit_home(tmp_path / "after", fold=(1, 3)).calibration != fitted.calibration


def _test(auc: float, p: float, n_real: int, boot: list[float], importance: float) -> C2ST:
    return C2ST(
        name="fold",
        positive="calibrated",
        negative="held-out real",
        auc=auc,
        ci_low=min(boot),
        ci_high=max(boot),
        n_positive=28,
        n_negative=n_real,
        groups_positive=2,
        groups_negative=n_real,
        folds=2,
        grouped_by="home/day",
        bootstrap_resamples=len(boot),
        p_value=p,
        min_p_value=0.01,
        significant=p < 0.05,
        can_reach_significance=True,
        importance=[("activations", importance), ("night_share", 0.0)],
        bootstrap_aucs=boot,
    )


def test_mean_c2st_weights_folds_by_their_held_out_days() -> None:
    a = _test(0.9, 0.02, 3, [0.8, 0.9, 1.0], 0.3)
    b = _test(0.5, 0.5, 1, [0.4, 0.5, 0.6, 0.7], 0.1)
    mean = mean_c2st("cross-fitted", [a, b], [3, 1])
    assert mean.auc == pytest.approx(0.8)
    assert mean.n_negative == 4 and mean.folds == 2
    # The CI pairs the folds' i-th resamples (the shorter bootstrap bounds how many).
    drawn = [0.75 * x + 0.25 * y for x, y in zip([0.8, 0.9, 1.0], [0.4, 0.5, 0.6], strict=False)]
    assert mean.bootstrap_resamples == 3
    assert (mean.ci_low, mean.ci_high) == pytest.approx(tuple(np.quantile(drawn, [0.025, 0.975])))
    assert mean.p_value == pytest.approx(stats.combine_pvalues([0.02, 0.5]).pvalue)
    assert mean.importance[0] == ("activations", pytest.approx(0.25))
    assert "bootstrap_aucs" not in json.loads(mean.model_dump_json())  # not saved


def test_mean_c2st_without_an_auc_is_not_computed() -> None:
    a = _test(0.9, 0.02, 3, [0.8, 0.9], 0.3)
    missing = a.model_copy(update={"auc": None, "p_value": None, "note": "not computed: too few days"})
    mean = mean_c2st("cross-fitted", [a, missing], [3, 1])
    assert mean.auc is None and mean.ci_low is None and not mean.significant
    assert "too few days" in mean.note


@pytest.mark.slow
def test_cross_fitted_calibrate_scores_every_day_once(
    home_a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moments, "PILOT_DAYS", 7)  # a shorter pilot: the test checks the plumbing
    monkeypatch.setattr(moments, "PILOT_ROUNDS", 2)
    fits, report, out = calibrate(
        home_a, Workspace(tmp_path / "ws"), homes=4, days=4, seed=1, folds=2, resamples=2
    )
    assert [f.split.fold for f in fits] == [(0, 2), (1, 2)]
    assert report.folds == 2 and report.held_out_days == 13  # A's kept days, each scored once
    assert [f.homes for f in report.by_fold] == [2, 2]
    assert [f.held_out_days for f in report.by_fold] == [6, 7]
    assert report.by_fold[0].held_out[1] < report.by_fold[1].held_out[0]
    assert report.c2st.auc is not None
    weighted = sum(f.c2st.auc * f.held_out_days for f in report.by_fold if f.c2st.auc is not None) / 13
    assert report.c2st.auc == pytest.approx(weighted)
    assert len({f.dataset_id for f in report.by_fold}) == 2
    for j, fold in enumerate(report.by_fold):
        assert (tmp_path / "ws" / "data" / "datasets" / fold.dataset_id / "manifest.json").is_file()
        saved = json.loads((out / calibration_file(j, 2)).read_text())
        assert saved["split"]["fold"] == [j, 2]
    assert json.loads((out / REPORT_FILE).read_text())["folds"] == 2
