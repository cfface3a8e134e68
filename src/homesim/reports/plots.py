"""The report's figures: matplotlib drawn from `data.py` frames, as PNG data URIs.

Figures are built as `matplotlib.figure.Figure` objects, never through pyplot, so no GUI backend or global
figure state is involved: `savefig(format="png")` renders with Agg on headless machines.

Each function takes a tidy frame and returns `data:image/png;base64,…` so the HTML stays one
self-contained file. PNGs carry no timestamp metadata, so the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from homesim.reports.data import ACTIVITY_COLUMNS
from homesim.schema.events import CAUSES

#: One colour per event cause, stable across figures and reports.
CAUSE_COLORS: dict[str, str] = dict(
    zip(
        CAUSES,
        ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#bab0ac", "#9c755f", "#edc948"),
        strict=False,
    )
)
METRIC_COLORS = {"precision": "#4e79a7", "recall": "#f28e2b", "f1": "#59a14f"}
_DPI = 100


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _encode(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _hbar(ax: Axes, labels: Sequence[str], values: Sequence[float], title: str, color: str) -> None:
    y = np.arange(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def _cycle_ticks(ax: Axes, cycles: Sequence[int]) -> None:
    """Cycles are whole numbers: tick each one (thinned past 15), with a margin when there is only one."""
    step = max(1, math.ceil(len(cycles) / 15))
    ax.set_xticks(list(cycles)[::step])
    if len(cycles) == 1:
        ax.set_xlim(cycles[0] - 1, cycles[0] + 1)


def mix_figure(homes: pl.DataFrame, domains: pl.DataFrame, top: int = 15) -> str:
    """Homes per home type beside entities per domain (the `top` largest domains)."""
    fig, (left, right) = _figure(10, 3.8, ncols=2)
    _hbar(left, homes["home_type"].to_list(), homes["homes"].to_list(), "homes by type", "#4e79a7")
    d = domains.head(top)
    _hbar(right, d["domain"].to_list(), d["entities"].to_list(), "entities by domain", "#59a14f")
    return _encode(fig)


def events_per_day_figure(df: pl.DataFrame) -> str:
    """Stacked bars: mean events per home per day, one colour per cause."""
    wide = df.pivot(on="cause", index="day", values="events").sort("day").fill_null(0.0)
    causes = [c for c in CAUSES if c in wide.columns] + [c for c in wide.columns[1:] if c not in CAUSES]
    fig, (ax,) = _figure(10, 3.8)
    x = np.arange(wide.height)
    bottom = np.zeros(wide.height)
    for cause in causes:
        values = wide[cause].to_numpy()
        ax.bar(x, values, bottom=bottom, label=cause, color=CAUSE_COLORS.get(cause, "#888888"))
        bottom += values
    step = max(1, math.ceil(wide.height / 14))
    ax.set_xticks(x[::step], [d.isoformat() for d in wide["day"].to_list()][::step], rotation=30, ha="right")
    ax.set_ylabel("events per home")
    ax.legend(ncols=4, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return _encode(fig)


def temperature_figure(df: pl.DataFrame) -> str:
    """Heating and cooling switch-ons per home-day against outdoor temperature."""
    fig, (ax,) = _figure(7, 3.6)
    ax.plot(df["bin_c"], df["heating"], marker="o", color="#e15759", label="heating (climate → heat)")
    ax.plot(df["bin_c"], df["cooling"], marker="o", color="#4e79a7", label="cooling (climate → cool)")
    ax.set_xlabel("outdoor temperature (°C, bin start)")
    ax.set_ylabel("switch-ons per home-day")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _encode(fig)


def correlation_figure(df: pl.DataFrame) -> str:
    """Heatmap of Pearson correlations: environment variables (rows) × activity measures (columns)."""
    matrix = df.select(ACTIVITY_COLUMNS).to_numpy().astype(float)
    fig, (ax,) = _figure(6, 3.8)
    image = ax.imshow(np.nan_to_num(matrix), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(ACTIVITY_COLUMNS)), ACTIVITY_COLUMNS)
    ax.set_yticks(range(df.height), df["variable"].to_list())
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, "—" if math.isnan(value) else f"{value:+.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(image, ax=ax, label="Pearson r")
    return _encode(fig)


def truth_figure(df: pl.DataFrame) -> str:
    """Ground-truth items: one panel per kind (patterns by type, synergies by status, faults by kind…)."""
    kinds = df["kind"].unique(maintain_order=True).to_list()
    fig, axes = _figure(3.2 * len(kinds), 3.2, ncols=len(kinds))
    colors = ("#4e79a7", "#f28e2b", "#76b7b2", "#e15759")
    for i, (ax, kind) in enumerate(zip(axes, kinds, strict=True)):
        part = df.filter(pl.col("kind") == kind)
        _hbar(
            ax,
            part["type"].to_list(),
            part["items"].to_list(),
            f"{kind} ({part['items'].sum()})",
            colors[i % 4],
        )
    return _encode(fig)


def stage_metrics_figure(df: pl.DataFrame) -> str:
    """Grouped bars of precision, recall and F1 per stage (missing values drawn as gaps)."""
    metrics = ("precision", "recall", "f1")
    fig, (ax,) = _figure(9, 3.4)
    x = np.arange(df.height)
    width = 0.26
    for k, metric in enumerate(metrics):
        values = df[metric].fill_null(float("nan")).to_numpy()
        ax.bar(x + (k - 1) * width, values, width, label=metric, color=METRIC_COLORS[metric])
    ax.set_xticks(x, df["stage"].to_list())
    ax.set_ylim(0, 1.05)
    ax.legend(ncols=3, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _encode(fig)


def stage_curves_figure(df: pl.DataFrame) -> str:
    """F1 per stage across the cycles of a run."""
    fig, (ax,) = _figure(8, 3.4)
    for (stage,), part in df.group_by("stage", maintain_order=True):
        ax.plot(part["cycle"], part["f1"].fill_null(float("nan")), marker="o", label=str(stage))
    ax.set_xlabel("cycle")
    ax.set_ylabel("F1")
    ax.set_ylim(0, 1.05)
    _cycle_ticks(ax, df["cycle"].unique().sort().to_list())
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    return _encode(fig)


def learning_curve_figure(df: pl.DataFrame, model_type: str) -> str:
    """One model type across cycles: candidate, champion and baseline values of the primary metric (top),
    and the candidate's gain over the champion with its confidence interval (bottom)."""
    return _encode(learning_curve_plot(df, model_type))


def learning_curve_plot(df: pl.DataFrame, model_type: str) -> Figure:
    """`learning_curve_figure`'s figure, not yet rendered (tests read its lines)."""
    fig, (top, bottom) = _figure(8, 5, nrows=2)
    cycles = df["cycle"].to_numpy()
    metric = next((m for m in df["primary_metric"].to_list() if m), "primary metric")
    for column, color, style in (("candidate_value", "#4e79a7", "-o"), ("champion_value", "#59a14f", "-s")):
        top.plot(cycles, df[column].fill_null(float("nan")).to_numpy(), style, color=color, label=column[:-6])
    baseline = df["baseline_value"].fill_null(float("nan")).to_numpy()
    if len(cycles) == 1:  # one point draws no dashed segment: the baseline as a line across the panel
        if not np.isnan(baseline[0]):
            top.axhline(baseline[0], linestyle="--", color="#888888", label="baseline")
    else:
        top.plot(cycles, baseline, "--", color="#888888", label="baseline")
    for cycle, decision, value in zip(cycles, df["decision"], df["candidate_value"], strict=True):
        if decision == "deployed" and value is not None:
            top.annotate(
                "deployed", (cycle, value), textcoords="offset points", xytext=(0, 8), fontsize=7, ha="center"
            )
    top.set_title(f"{model_type}: {metric}", fontsize=10)
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    low = df["ci_low"].fill_null(float("nan")).to_numpy()
    high = df["ci_high"].fill_null(float("nan")).to_numpy()
    # The gain is measured against the champion, or against the baseline while there is no champion yet.
    reference = df.select(pl.coalesce("champion_value", "baseline_value")).to_series()
    gain = (df["candidate_value"] - reference).fill_null(float("nan")).to_numpy()
    bottom.fill_between(cycles, low, high, color="#4e79a7", alpha=0.25, label="confidence interval")
    bottom.plot(cycles, gain, "-o", color="#4e79a7", label="candidate − champion (or baseline)")
    bottom.axhline(0.0, color="#444444", linewidth=0.8)
    bottom.set_xlabel("cycle")
    bottom.set_ylabel("gain")
    bottom.legend(fontsize=8)
    bottom.grid(alpha=0.3)
    for ax in (top, bottom):
        _cycle_ticks(ax, df["cycle"].unique().sort().to_list())
    return fig


def ab_figure(table: pl.DataFrame) -> str:
    """Grouped bars: every A/B metric of each arm (the figure grows with the number of metrics)."""
    return _encode(ab_plot(table))


def ab_plot(table: pl.DataFrame) -> Figure:
    """`ab_figure`'s figure, not yet rendered (tests read its labels)."""
    arms = table.columns[1:]
    fig, (ax,) = _figure(9, max(3.6, 0.3 * table.height * max(1, len(arms)) / 2 + 1.2))
    y = np.arange(table.height)
    height = 0.8 / max(1, len(arms))
    for k, arm in enumerate(arms):
        ax.barh(y + k * height, table[arm].fill_null(float("nan")).to_numpy(), height, label=arm)
    ax.set_yticks(y + height * (len(arms) - 1) / 2, table["metric"].to_list(), fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


#: Colours of the two sides of a realism comparison.
SIDE_COLORS = {"real": "#59a14f", "synthetic": "#e15759"}


def realism_features_figure(days: pl.DataFrame, features: Sequence[str], ncols: int = 6) -> str:
    """Per feature, box plots of the day values of real (left) and synthetic (right) homes."""
    nrows = math.ceil(len(features) / ncols)
    fig, axes = _figure(2.2 * ncols, 1.9 * nrows, ncols=ncols, nrows=nrows)
    real = days.filter(pl.col("real"))
    synthetic = days.filter(~pl.col("real"))
    for ax, name in zip(axes, features, strict=False):
        values = [side[name].drop_nulls().drop_nans().to_numpy() for side in (real, synthetic)]
        if not all(len(v) for v in values):
            ax.set_axis_off()
            continue
        parts = ax.boxplot(
            values, tick_labels=["real", "syn"], widths=0.6, patch_artist=True, showfliers=False
        )
        for patch, color in zip(parts["boxes"], SIDE_COLORS.values(), strict=True):
            patch.set_facecolor(color)
            patch.set_alpha(0.6)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(features) :]:
        ax.set_axis_off()
    return _encode(fig)


def hour_profile_figure(profile: pl.DataFrame) -> str:
    """Share of activations per clock hour: each home thin, each side's mean over homes thick."""
    fig, (ax,) = _figure(9, 3.6)
    for (_, real), part in profile.group_by("home", "real", maintain_order=True):
        color = SIDE_COLORS["real" if real else "synthetic"]
        ax.plot(part["hour"], part["share"], color=color, alpha=0.25, linewidth=0.8)
    means = profile.group_by("real", "hour").agg(pl.col("share").mean()).sort("hour")
    for real, label in ((True, "real"), (False, "synthetic")):
        part = means.filter(pl.col("real") == real)
        if part.height:
            ax.plot(
                part["hour"], part["share"], color=SIDE_COLORS[label], linewidth=2.5, label=f"{label} (mean)"
            )
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlabel("local hour")
    ax.set_ylabel("share of activations")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _encode(fig)


def c2st_figure(tests: pl.DataFrame, importance: pl.DataFrame, top: int = 15) -> str:
    """AUC with its 95 % CI per test (0.5 = indistinguishable), beside the main test's permutation
    importance (the `top` features)."""
    fig, (left, right) = _figure(
        11, max(3.0, 0.35 * max(tests.height, min(top, importance.height)) + 1), ncols=2
    )
    y = np.arange(tests.height)
    auc = tests["auc"].fill_null(float("nan")).to_numpy()
    low = tests["ci_low"].fill_null(float("nan")).to_numpy()
    high = tests["ci_high"].fill_null(float("nan")).to_numpy()
    # The CI as a segment of its own: a bootstrap interval need not contain the point estimate.
    left.hlines(y, low, high, color="#4e79a7", linewidth=1.5)
    left.plot(auc, y, "o", color="#4e79a7")
    left.axvline(0.5, color="#888888", linestyle="--", linewidth=1)
    left.set_yticks(y, tests["test"].to_list(), fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 1.02)
    left.set_xlabel("ROC AUC (95 % CI)")
    left.grid(axis="x", alpha=0.3)
    part = importance.head(top)
    _hbar(right, part["feature"].to_list(), part["importance"].to_list(), "permutation importance", "#f28e2b")
    return _encode(fig)
