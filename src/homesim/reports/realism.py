"""The realism section of the HTML report: synthetic homes measured against real ones.

`realism_sections` renders a `RealismReport` (and optionally a train-synthetic-test-real result) as
report sections — the footing and its homes, the classifier two-sample test with its floor, the
per-feature table with the day distributions side by side, and the hour-of-day profiles;
`write_realism_report` writes them as one self-contained page. `homesim realism` saves its latest report
in the workspace (`save_realism`), and `homesim report` adds these sections when it finds one.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from homesim.io import write_text_atomic
from homesim.real_homes.realism.compare import OUTSIDE_LIMIT, RealismReport, read_realism, write_realism
from homesim.real_homes.realism.features import FEATURE_NAMES
from homesim.real_homes.realism.transfer import TransferResult
from homesim.reports import plots
from homesim.reports.markup import figure, key_values, no_data, note, page, slug, table
from homesim.workspace import Workspace

#: Section titles, in order (tests and docs refer to them).
REALISM_SECTIONS = (
    "Realism: footing",
    "Classifier two-sample test",
    "Behaviour features",
    "Hour-of-day profiles",
    "Train synthetic, test real",
)


def _tests_frame(report: RealismReport) -> pl.DataFrame:
    summary = report.summary
    return pl.DataFrame(
        [
            {
                "test": t.name,
                "auc": t.auc,
                "ci_low": t.ci_low,
                "ci_high": t.ci_high,
                "p_value": t.p_value,
                "days": f"{t.n_positive} vs {t.n_negative}",
                "groups": f"{t.groups_positive} vs {t.groups_negative} {t.grouped_by}s",
                "folds": t.folds,
                "note": t.note,
            }
            for t in [summary.c2st, *summary.floor]
        ],
        schema={
            "test": pl.String,
            "auc": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "p_value": pl.Float64,
            "days": pl.String,
            "groups": pl.String,
            "folds": pl.Int64,
            "note": pl.String,
        },
    )


def _footing_body(report: RealismReport) -> str:
    s = report.summary
    homes = pl.DataFrame(
        [
            {
                "home": h.home,
                "side": "real" if h.real else "synthetic",
                "residents": h.residents,
                "sensors": ", ".join(f"{k} {v}" for k, v in h.sensors.items()),
                "days": h.days,
                "kept": h.kept_days,
                "dropped": ", ".join(f"{k} {v}" for k, v in h.dropped.items()),
            }
            for h in s.homes
        ],
        schema={
            "home": pl.String,
            "side": pl.String,
            "residents": pl.Int64,
            "sensors": pl.String,
            "days": pl.Int64,
            "kept": pl.Int64,
            "dropped": pl.String,
        },
    )
    citations = sorted({h.citation for h in s.homes if h.citation})
    facts = [
        ("sensor kinds compared", ", ".join(s.kinds)),
        ("room classes compared", ", ".join(s.rooms)),
        ("synthetic homes", f"with {s.residents} resident(s)" if s.residents else "all"),
        ("method", "docs/realism.md"),
    ]
    return key_values(facts) + table(homes) + "".join(note(f"real data: {c}") for c in citations)


def _c2st_body(report: RealismReport) -> str:
    s = report.summary
    tests = _tests_frame(report)
    importance = pl.DataFrame(
        s.c2st.importance, schema={"feature": pl.String, "importance": pl.Float64}, orient="row"
    )
    body = []
    if tests.drop_nulls("auc").height:
        body.append(
            figure(
                plots.c2st_figure(tests, importance),
                "ROC AUC of telling the samples' days apart (folds grouped; 0.5 = indistinguishable) with "
                "its 95 % bootstrap CI; right: which features give the synthetic days away",
            )
        )
    else:
        body.append(no_data(s.c2st.note or "no test could be computed"))
    body.append(table(tests))
    body.append(
        note(
            "p: one-sided exact Mann–Whitney U of the per-group mean out-of-fold scores; the floor rows "
            "are the same test between real samples (a real home's first vs second half of its days; real "
            "homes among themselves), the figures to read the main test against"
        )
    )
    return "\n".join(body)


def _features_body(report: RealismReport) -> str:
    s = report.summary
    rows = pl.DataFrame([f.model_dump() for f in s.features]).select(
        "feature",
        "median_real",
        "median_synthetic",
        "real_p05",
        "real_p95",
        "ks",
        "ks_p",
        "n_real",
        "n_synthetic",
        "synthetic_homes",
        "outside_share",
        "description",
    )
    return (
        note(
            f"{s.features_outside} of {s.features_compared} features have more than {OUTSIDE_LIMIT:.0%} of "
            "synthetic homes with their median outside the 5–95 % range of the real homes' days"
        )
        + table(rows)
        + figure(
            plots.realism_features_figure(report.days, FEATURE_NAMES),
            "each feature's day values: real homes (green) and synthetic homes (red); boxes 25–75 %, "
            "whiskers 1.5 IQR",
        )
    )


def _transfer_body(result: TransferResult | None) -> str:
    if result is None:
        return no_data("not run (homesim realism --transfer)")
    scores = pl.DataFrame([s.model_dump() for s in result.scores]) if result.scores else None
    facts = [
        ("synthetic → real macro-F1", result.synthetic_to_real),
        ("real → real macro-F1", result.real_to_real),
        ("ratio", result.ratio),
        ("window (activations)", result.window),
        ("activities", ", ".join(result.labels)),
    ]
    parts = [key_values(facts)]
    parts.append(table(scores) if scores is not None else no_data("no score"))
    if result.note:
        parts.append(note(result.note))
    return "\n".join(parts)


def realism_sections(
    report: RealismReport, transfer: TransferResult | None = None
) -> list[tuple[str, str, str]]:
    """(anchor, title, body) sections of the realism report."""
    bodies = (
        _footing_body(report),
        _c2st_body(report),
        _features_body(report),
        figure(
            plots.hour_profile_figure(report.hour_profile),
            "share of each home's activations per local hour (kept days): homes thin, side means thick",
        ),
        _transfer_body(transfer),
    )
    return [(slug(title), title, body) for title, body in zip(REALISM_SECTIONS, bodies, strict=True)]


def write_realism_report(report: RealismReport, path: Path, transfer: TransferResult | None = None) -> Path:
    """Write the realism sections as one self-contained HTML page at `path` (atomically)."""
    s = report.summary
    auc = "—" if s.c2st.auc is None else f"{s.c2st.auc:.3f}"
    subtitle = (
        f"{sum(h.real for h in s.homes)} real vs {sum(not h.real for h in s.homes)} synthetic homes; "
        f"C2ST AUC {auc}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, page("homesim realism", subtitle, realism_sections(report, transfer)))
    return path


def save_realism(workspace: Workspace, report: RealismReport, transfer: TransferResult | None) -> Path:
    """Keep `report` (and its transfer result, if any) as the workspace's latest realism report."""
    files = workspace.realism
    write_realism(report, files)
    if transfer is None:
        files.transfer.unlink(missing_ok=True)  # a stale result belongs to other homes
    else:
        write_text_atomic(files.transfer, transfer.model_dump_json(indent=2) + "\n")
    return files.path


def load_realism(workspace: Workspace) -> tuple[RealismReport, TransferResult | None] | None:
    """The workspace's latest realism report and transfer result, or None."""
    files = workspace.realism
    report = read_realism(files)
    if report is None:
        return None
    transfer = (
        TransferResult.model_validate_json(files.transfer.read_text("utf-8"))
        if files.transfer.is_file()
        else None
    )
    return report, transfer
