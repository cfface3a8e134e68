"""The report's numbers: polars aggregations over a dataset's home files, cycle reports and run summaries.

Event and environment files are scanned lazily with only the columns a figure needs, one lazy frame per
home concatenated into one query (Python loops run over homes, never over events). JSON files (home
structure, ground truth) are small and read whole. Every function returns a tidy DataFrame that
`plots.py` draws and `report.py` tabulates; an empty frame means "no data".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from homesim.ground_truth.verifier import ACTUATOR_DOMAINS
from homesim.reports.inputs import RunSummary
from homesim.simulation.cycle import CycleReport
from homesim.workspace import HomeFolder

#: Hourly environment variables correlated with household activity.
WEATHER_COLUMNS: tuple[str, ...] = (
    "temperature_c",
    "humidity_pct",
    "cloud_cover",
    "sun_elevation_deg",
    "carbon_intensity_g_per_kwh",
    "price_per_kwh",
)
#: Hourly activity measures: climate entities switching to heat / cool, and all actuator state changes.
ACTIVITY_COLUMNS: tuple[str, ...] = ("heating", "cooling", "actions")
#: Width of the outdoor-temperature bins of the heating/cooling curve (°C).
TEMPERATURE_BIN_C = 2.0


def _homes_with(home_dirs: Sequence[Path], file: Callable[[HomeFolder], Path]) -> list[Path]:
    """The file `file` picks out of each home folder, where it exists."""
    paths = (file(HomeFolder(d)) for d in home_dirs)
    return [p for p in paths if p.is_file()]


def _scan(paths: Sequence[Path], columns: Sequence[str | pl.Expr]) -> pl.LazyFrame | None:
    """One lazy frame over many homes' Parquet files, with a `home_key` column; categoricals as strings."""
    if not paths:
        return None
    frames = [pl.scan_parquet(p).select(pl.lit(p.parent.name).alias("home_key"), *columns) for p in paths]
    return pl.concat(frames, how="vertical")


def home_mix(home_dirs: Sequence[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(homes per home type, entities per HA domain) over the homes' `home.json`."""
    types: list[str] = []
    entity_ids: list[str] = []
    for path in _homes_with(home_dirs, lambda h: h.home_json):
        home: dict[str, Any] = json.loads(path.read_bytes())
        types.append(home["metadata"]["home_type"])
        entity_ids.extend(e["entity_id"] for e in home["entities"])
    homes = (
        pl.DataFrame({"home_type": types}, schema={"home_type": pl.String})
        .group_by("home_type")
        .agg(homes=pl.len())
        .sort(["homes", "home_type"], descending=[True, False])
    )
    domains = (
        pl.DataFrame({"entity_id": entity_ids}, schema={"entity_id": pl.String})
        .group_by(domain=pl.col("entity_id").str.split(".").list.first())
        .agg(entities=pl.len())
        .sort(["entities", "domain"], descending=[True, False])
    )
    return homes, domains


def events_per_day(home_dirs: Sequence[Path]) -> pl.DataFrame:
    """Mean events per home per UTC day, by cause: columns day, cause, events."""
    lf = _scan(
        _homes_with(home_dirs, lambda h: h.events),
        [pl.col("time").dt.date().alias("day"), pl.col("cause").cast(pl.String)],
    )
    if lf is None:
        return pl.DataFrame(schema={"day": pl.Date, "cause": pl.String, "events": pl.Float64})
    homes = len(_homes_with(home_dirs, lambda h: h.events))
    return lf.group_by("day", "cause").agg(events=pl.len() / homes).sort("day", "cause").collect()


def hourly_activity(home_dirs: Sequence[Path]) -> pl.DataFrame:
    """One row per home-hour: the environment columns and the activity counts of that hour."""
    homes = [h for h in map(HomeFolder, home_dirs) if h.events.is_file() and h.environment.is_file()]
    events = _scan(
        [h.events for h in homes],
        [pl.col("time"), pl.col("entity_id").cast(pl.String), pl.col("state")],
    )
    environment = _scan([h.environment for h in homes], ["time", *WEATHER_COLUMNS])
    if events is None or environment is None:
        schema: dict[str, pl.DataType] = {"home_key": pl.String(), "time": pl.Datetime("us", "UTC")}
        schema |= dict.fromkeys(WEATHER_COLUMNS, pl.Float64()) | dict.fromkeys(ACTIVITY_COLUMNS, pl.Int64())
        return pl.DataFrame(schema=schema)
    domain = pl.col("entity_id").str.split(".").list.first()
    climate = domain == "climate"
    counts = (
        events.filter(domain.is_in(list(ACTUATOR_DOMAINS)))
        .group_by("home_key", pl.col("time").dt.truncate("1h"))
        .agg(
            heating=(climate & (pl.col("state") == "heat")).sum().cast(pl.Int64),
            cooling=(climate & (pl.col("state") == "cool")).sum().cast(pl.Int64),
            actions=pl.len().cast(pl.Int64),
        )
    )
    return (
        environment.join(counts, on=["home_key", "time"], how="left")
        .with_columns(pl.col(ACTIVITY_COLUMNS).fill_null(0))
        .sort("home_key", "time")
        .collect()
    )


def temperature_response(hourly: pl.DataFrame) -> pl.DataFrame:
    """Heating/cooling switch-ons per home-day by outdoor-temperature bin: bin_c, hours, heating, cooling."""
    if hourly.is_empty():
        return pl.DataFrame(
            schema={"bin_c": pl.Float64, "hours": pl.UInt32, "heating": pl.Float64, "cooling": pl.Float64}
        )
    return (
        hourly.group_by(bin_c=(pl.col("temperature_c") / TEMPERATURE_BIN_C).floor() * TEMPERATURE_BIN_C)
        .agg(
            hours=pl.len(),
            # per home-day: the hourly rate scaled to 24 hours, so bins with few hours stay comparable
            heating=pl.col("heating").mean() * 24,
            cooling=pl.col("cooling").mean() * 24,
        )
        .sort("bin_c")
    )


def activity_correlations(hourly: pl.DataFrame) -> pl.DataFrame:
    """Pearson correlation of each environment column with each activity measure, over home-hours.

    Columns: variable, then one per activity measure; NaN where a column is constant (e.g. no cooling).
    """
    if hourly.height < 3:
        return pl.DataFrame(schema={"variable": pl.String} | dict.fromkeys(ACTIVITY_COLUMNS, pl.Float64))
    row = hourly.select(
        pl.corr(w, a).alias(f"{w}|{a}") for w in WEATHER_COLUMNS for a in ACTIVITY_COLUMNS
    ).row(0, named=True)
    return pl.DataFrame(
        [{"variable": w} | {a: row[f"{w}|{a}"] for a in ACTIVITY_COLUMNS} for w in WEATHER_COLUMNS],
        schema={"variable": pl.String} | dict.fromkeys(ACTIVITY_COLUMNS, pl.Float64),
    )


_KIND_ORDER = {"pattern": 0, "synergy": 1, "decoy": 2, "fault": 3}


def truth_counts(home_dirs: Sequence[Path]) -> pl.DataFrame:
    """Ground-truth items by kind and type: kind (pattern/synergy/decoy/fault), type, items, occurrences."""
    rows: list[dict[str, Any]] = []
    for path in _homes_with(home_dirs, lambda h: h.ground_truth):
        truth: dict[str, Any] = json.loads(path.read_bytes())
        rows += [
            {"kind": "pattern", "type": p["type"], "occurrences": p.get("occurrences", 0)}
            for p in truth.get("patterns", [])
        ]
        rows += [
            {"kind": "synergy", "type": s["status"], "occurrences": s.get("occurrences", 0)}
            for s in truth.get("synergies", [])
        ]
        rows += [
            {"kind": "decoy", "type": "decoy", "occurrences": d.get("co_occurrences", 0)}
            for d in truth.get("decoys", [])
        ]
        rows += [
            {"kind": "fault", "type": f["kind"], "occurrences": f.get("anomalous_events", 0)}
            for f in truth.get("faults", [])
        ]
    schema = {"kind": pl.String, "type": pl.String, "occurrences": pl.Int64}
    return (
        pl.DataFrame(rows, schema=schema)
        .group_by("kind", "type")
        .agg(items=pl.len(), occurrences=pl.col("occurrences").sum())
        .sort(pl.col("kind").replace_strict(_KIND_ORDER, default=len(_KIND_ORDER)), "type")
    )


def stage_table(report: CycleReport) -> pl.DataFrame:
    """A cycle report's stage metrics: stage, model, homes, errors, records, precision, recall, f1, rates."""
    return pl.DataFrame(
        [
            {
                "stage": m.stage,
                "model": report.model_versions.get(m.stage, "—"),
                "homes": m.homes,
                "errors": m.errors,
                "records": m.records,
                "precision": m.precision,
                "recall": m.recall,
                "f1": m.f1,
                "rates": ", ".join(f"{k} {v:.3f}" for k, v in m.rates.items() if v is not None),
            }
            for m in report.stages
        ],
        schema={
            "stage": pl.String,
            "model": pl.String,
            "homes": pl.Int64,
            "errors": pl.Int64,
            "records": pl.Int64,
            "precision": pl.Float64,
            "recall": pl.Float64,
            "f1": pl.Float64,
            "rates": pl.String,
        },
    )


def _number(value: float | str | None) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def run_cycle_table(run: RunSummary) -> pl.DataFrame:
    """The cycles of a run: cycle, dataset, homes, records, wall_s."""
    schema = {
        "cycle": pl.Int64,
        "dataset": pl.String,
        "homes": pl.Int64,
        "records": pl.Int64,
        "wall_s": pl.Float64,
    }
    rows = [
        {
            "cycle": c.cycle,
            "dataset": c.dataset_id,
            "homes": c.homes,
            "records": c.records,
            "wall_s": c.wall_s,
        }
        for c in run.cycles
    ]
    return pl.DataFrame(rows, schema=schema)


def run_stage_curves(run: RunSummary) -> pl.DataFrame:
    """Per cycle and stage of a run: cycle, stage, precision, recall, f1, model_version."""
    rows = [
        {
            "cycle": c.cycle,
            "stage": stage,
            "precision": _number(m.get("precision")),
            "recall": _number(m.get("recall")),
            "f1": _number(m.get("f1")),
            "model_version": str(m.get("model_version") or "—"),
        }
        for c in run.cycles
        for stage, m in c.stage_metrics.items()
    ]
    schema = {
        "cycle": pl.Int64,
        "stage": pl.String,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
        "model_version": pl.String,
    }
    return pl.DataFrame(rows, schema=schema).sort("stage", "cycle")


_MODEL_SCHEMA: dict[str, pl.DataType] = {
    "model_type": pl.String(),
    "cycle": pl.Int64(),
    "decision": pl.String(),
    "reason": pl.String(),
    "candidate": pl.String(),
    "champion": pl.String(),
    "primary_metric": pl.String(),
    "candidate_value": pl.Float64(),
    "champion_value": pl.Float64(),
    "baseline_value": pl.Float64(),
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "ci_homes": pl.Int64(),
    "train_s": pl.Float64(),
    "eval_s": pl.Float64(),
}


def run_model_curves(run: RunSummary) -> pl.DataFrame:
    """Per model type and cycle of a run: the retraining outcome (values, CI, decision)."""
    rows = [
        {"model_type": name, "cycle": c.cycle}
        | o.model_dump(include=set(_MODEL_SCHEMA) - {"model_type", "cycle"})
        for c in run.cycles
        for name, o in c.models.items()
    ]
    return pl.DataFrame(rows, schema=_MODEL_SCHEMA).sort("model_type", "cycle")


def flatten_numbers(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], float]]:
    """Every number in a nested dict/list as (key path, value); how A/B dicts of unknown nesting are read."""
    if isinstance(obj, bool):
        return []
    if isinstance(obj, int | float):
        return [(prefix, float(obj))]
    if isinstance(obj, dict):
        return [item for k, v in obj.items() for item in flatten_numbers(v, (*prefix, str(k)))]
    if isinstance(obj, list):
        return [item for i, v in enumerate(obj) for item in flatten_numbers(v, (*prefix, str(i)))]
    return []


_AB_METRICS = ("precision", "recall", "f1")


def ab_metric_table(data: dict[str, Any]) -> pl.DataFrame:
    """A/B metrics as rows `metric` × one column per arm.

    Reads `ABResult` (`stages[]` with each arm's stage metrics), else a plain dict whose `metrics` hold
    numbers under arm names at any depth (arms from `arms`, a list or dict of names, else the top-level
    keys of `metrics`).
    """
    stages = data.get("stages")
    if isinstance(stages, list) and stages and all(isinstance(s, dict) and "stage" in s for s in stages):
        arms = ["champion", "challenger"]
        rows = [
            {"metric": f"{s['stage']} {m}"} | {a: _number((s.get(a) or {}).get(m)) for a in arms}
            for s in stages
            for m in _AB_METRICS
        ]
        return pl.DataFrame(rows, schema={"metric": pl.String} | dict.fromkeys(arms, pl.Float64))
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return pl.DataFrame(schema={"metric": pl.String})
    arms_field = data.get("arms")
    if isinstance(arms_field, dict | list) and arms_field and all(isinstance(a, str) for a in arms_field):
        arms = [str(a) for a in arms_field]
    else:
        arms = [str(k) for k in metrics]
    cells: dict[str, dict[str, float]] = {}
    for path, value in flatten_numbers(metrics):
        arm = next((p for p in path if p in arms), None)
        if arm is not None:
            cells.setdefault(".".join(p for p in path if p != arm) or "value", {})[arm] = value
    return pl.DataFrame(
        [{"metric": k} | {a: v.get(a) for a in arms} for k, v in cells.items()],
        schema={"metric": pl.String} | dict.fromkeys(arms, pl.Float64),
    )


def ab_p_values(data: dict[str, Any]) -> list[tuple[str, float | None]]:
    """(what, p-value) pairs: per stage from `ABResult.stages`, else every number under `p_values`."""
    stages = data.get("stages")
    if isinstance(stages, list) and all(isinstance(s, dict) and "stage" in s for s in stages):
        return [(f"{s['stage']} {s.get('metric', 'f1')}", _number(s.get("p_value"))) for s in stages]
    return [(".".join(k) or "p", v) for k, v in flatten_numbers(data.get("p_values"))]
