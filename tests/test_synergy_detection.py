"""SynergyDetector: the per-home graph, edge features, heuristic scoring, labels from ground truth."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from homesim.generation.home import GeneratedHome
from homesim.schema.ground_truth import Decoy
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelType, NoModels
from homesim.simulation.synergy_detection import SynergyDetector, build_graph, label_edges


@pytest.fixture(scope="module")
def views(month_homes: list[GeneratedHome]) -> list[HomeView]:
    return [HomeView.from_generated(g) for g in month_homes[:2]]


def test_graph_has_node_features_and_unique_candidate_edges(views: list[HomeView]) -> None:
    graph = build_graph(views[0])
    nodes, edges = graph.nodes, graph.edges
    assert nodes.get_column("entity_id").is_unique().all()
    assert set(edges.get_column("trigger_entity")) <= set(nodes.get_column("entity_id"))
    assert edges.select("trigger_entity", "action_entity").is_unique().all()
    assert (edges.get_column("trigger_entity") != edges.get_column("action_entity")).all()
    sums = edges.get_column("lag_hist").list.sum().to_numpy()
    assert np.all(np.isclose(sums, 1.0) | np.isclose(sums, 0.0))
    # Co-activation counts nest: within a minute ⊆ within 5 ⊆ within 30.
    assert (edges["co_1m"] <= edges["co_5m"]).all() and (edges["co_5m"] <= edges["co_30m"]).all()
    assert build_graph(views[0]).edges.equals(edges)


def test_ground_truth_synergies_become_candidates(views: list[HomeView]) -> None:
    covered = total = 0
    for view in views:
        edges = build_graph(view).edges
        pairs = set(edges.select("trigger_entity", "action_entity").iter_rows())
        truth = {(s.trigger_entity, s.action_entity) for s in view.truth.synergies}
        # Every frequently realised synergy is a candidate, whichever rooms its devices are in.
        frequent = {(s.trigger_entity, s.action_entity) for s in view.truth.synergies if s.occurrences >= 20}
        assert frequent <= pairs
        covered += len(truth & pairs)
        total += len(truth)
    assert covered / total >= 0.9


def test_heuristic_recovers_synergies_and_active_pairs_co_activate(views: list[HomeView]) -> None:
    records = [r for v in views for r in SynergyDetector().detect(v, NoModels(), 1)]
    positive = [r for r in records if r.label.kind in ("active", "potential")]
    predicted = [r for r in records if r.outputs.predicted]
    assert sum(r.outputs.predicted for r in positive) / len(positive) >= 0.8
    # Its structural prior ranks positives well above their share of the candidates, but no longer gives
    # the label: a rule's pair of one room the household does not use is no synergy (`none`).
    precision = sum(r.label.kind in ("active", "potential") for r in predicted) / len(predicted)
    assert precision >= 3 * len(positive) / len(records)
    assert any(r.label.kind == "none" and r.inputs.features.compatible_domains for r in predicted)
    active = [r.inputs.features.co_1m for r in records if r.label.kind == "active"]
    none = [r.inputs.features.co_1m for r in records if r.label.kind == "none"]
    assert np.median(active) > np.median(none)
    assert all(r.model_version == "baseline" and r.stage == "synergy" for r in records)


def test_level_sensors_activate_at_their_level(views: list[HomeView]) -> None:
    """An illuminance sensor's readings in the dark are its activations: the lights of its room switched
    on in the dark co-activate with it (what a potential synergy's evidence counts), and both labels of
    that shape occur (potential: used by hand in the dark; none: not)."""
    records = [r for v in views for r in SynergyDetector().detect(v, NoModels(), 1)]
    dark = [
        r
        for r in records
        if r.inputs.trigger.device_class == "illuminance" and r.inputs.action.domain == "light"
    ]
    assert dark and all(r.inputs.trigger_state == "numeric" for r in dark)
    assert all(r.inputs.features.trigger_activations > 0 for r in dark)
    # Readings reach no other room: a dark reading follows every room's use at once.
    assert all(r.inputs.features.same_area or r.inputs.features.same_floor for r in dark)
    kinds = {r.label.kind for r in dark}
    assert {"potential", "none"} <= kinds
    assert sum(r.inputs.features.co_30m > 0 for r in dark) > len(dark) / 2


def test_decoys_are_labelled_in_either_direction(views: list[HomeView]) -> None:
    view = views[0]
    edges = build_graph(view).edges
    plain = next(
        (t, a)
        for t, a in edges.select("trigger_entity", "action_entity").iter_rows()
        if label_edges(pl.DataFrame({"trigger_entity": [t], "action_entity": [a]}), view.truth)[0][0]
        == "none"
    )
    decoy = Decoy(
        entity_a=plain[1], entity_b=plain[0], behaviors=("b1", "b2"), shared_cause="wake:x", co_occurrences=3
    )
    truth = view.truth.model_copy(update={"decoys": (decoy,)})
    frame = pl.DataFrame({"trigger_entity": [plain[0]], "action_entity": [plain[1]]})
    assert label_edges(frame, truth) == [("decoy", None, None)]


class FakeGnn:
    version = "gnn-v2"

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        return (features.get_column("co_5m").to_numpy() > 10).astype(np.float64)


class Provider:
    def get(self, model_type: ModelType) -> Model | None:
        return FakeGnn() if model_type == "gnn_synergy" else None


def test_deployed_gnn_model_replaces_the_heuristic(views: list[HomeView]) -> None:
    records = SynergyDetector().detect(views[0], Provider(), 0)
    assert {r.model_version for r in records} == {"gnn-v2"}
    assert all(r.outputs.predicted == (r.inputs.features.co_5m > 10) for r in records)
