"""soft_prompt trainer: fit/predict on a small export, save/load without pickle, refusal of tampered
weights or encoder, determinism, the model inside the Ask-AI stage, and the paraphrase style that the
keyword rules miss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from homesim.datasets.home_folder import write_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.retraining.models import get_trainer
from homesim.retraining.models import soft_prompt as sp
from homesim.retraining.models.minilm import ENCODER_WEIGHTS
from homesim.retraining.models.soft_prompt import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    SoftPromptModel,
    SoftPromptTrainer,
)
from homesim.schema.records import AnyRecord, AskAIRecord
from homesim.simulation.ask_ai import (
    INTENT_FAMILIES,
    AskAI,
    RequestGenerator,
    RequestParser,
    RequestReader,
    ask_ai_stage,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelType, NoModels
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import load_training_data
from homesim.workspace import Workspace

#: Small and quick: the tests check behaviour, not final quality.
TRAINER = SoftPromptTrainer(epochs=2, batch_size=16)


@pytest.fixture(scope="module")
def generated() -> list[GeneratedHome]:
    config = GenerationConfig(homes=4, days=7, seed=5)
    return [generate_home(config, i) for i in range(config.homes)]


@pytest.fixture(scope="module")
def views(generated: list[GeneratedHome]) -> list[HomeView]:
    return [HomeView.from_generated(g) for g in generated]


@pytest.fixture(scope="module")
def examples(
    generated: list[GeneratedHome], views: list[HomeView], tmp_path_factory: pytest.TempPathFactory
) -> pl.DataFrame:
    """Cycle 1 of four homes through the Ask-AI stage, exported like `homesim export` does."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    records: list[AnyRecord] = []
    for home, view in zip(generated, views, strict=True):
        write_home(home, workspace.home_dir(view.key))
        records.extend(ask_ai_stage(view, NoModels(), 1))
    Exporter(workspace, MemorySource(records)).export_cycle(1, ["soft_prompt"])
    return TRAINER.examples(load_training_data("soft_prompt", workspace, cycle=1))


@pytest.fixture(scope="module")
def split(examples: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(three training homes' examples, one held-out home's examples)."""
    last = sorted(examples.get_column("home_key").unique())[-1]
    return examples.filter(pl.col("home_key") != last), examples.filter(pl.col("home_key") == last)


@pytest.fixture(scope="module")
def model(split: tuple[pl.DataFrame, pl.DataFrame]) -> Model:
    return TRAINER.fit(split[0], seed=3)


def test_examples_carry_labels_and_the_parser_text(examples: pl.DataFrame) -> None:
    assert examples.get_column("home_key").n_unique() == 4
    assert set(examples.get_column("intent_family")) <= set(INTENT_FAMILIES)
    assert {"sun", "arrive", "leave", "none"} & set(examples.get_column("event")) >= {"none"}
    assert all(t.startswith(" ") and t.endswith(" ") for t in examples.get_column("text"))
    created = examples.filter(pl.col("expected_outcome") == "create")
    assert created.get_column("intended_automation").null_count() == 0
    assert isinstance(get_trainer("soft_prompt"), SoftPromptTrainer)


def test_fit_predicts_family_probabilities_and_scores(
    model: Model, split: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    held_out = split[1]
    scores = model.predict(pl.DataFrame({"request": held_out.get_column("text")}))
    assert scores.shape == (held_out.height, len(INTENT_FAMILIES))
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert isinstance(model, RequestReader)
    predictions = TRAINER.predict_examples(model, held_out)
    assert predictions.height == held_out.height
    metrics = TRAINER.score(predictions)
    assert set(metrics) == {"behaviour_accuracy", "intent_accuracy", "outcome_accuracy"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    baseline = TRAINER.score(TRAINER.predict_examples(None, held_out))
    assert 0.0 < baseline[TRAINER.primary_metric] < 1.0  # the rules miss paraphrases
    assert TRAINER.score(predictions.head(0)) == dict.fromkeys(metrics, 0.0)


def test_caches_start_afresh_when_full_and_bad_frames_are_refused(
    model: Model, split: tuple[pl.DataFrame, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(model, SoftPromptModel)
    texts = split[1].get_column("text").head(5).to_list()
    expected = model.predict(pl.DataFrame({"request": texts}))
    monkeypatch.setattr(sp, "CACHE_SIZE", 3)
    assert np.allclose(model.predict(pl.DataFrame({"request": texts})), expected)
    assert len(model.similarity(texts[0], ["kitchen ceiling light", "hallway fan", "office lamp"])) == 3
    assert model.read(texts[1]).family == INTENT_FAMILIES[int(np.argmax(expected[1]))]
    with pytest.raises(ValueError, match="request"):
        model.predict(pl.DataFrame({"text": texts}))


def test_save_load_gives_identical_predictions(
    model: Model, split: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    files = TRAINER.save(model, tmp_path)
    assert {f.name for f in files} == {WEIGHTS_FILE, CONFIG_FILE}
    loaded = TRAINER.load(tmp_path, "v3")
    assert loaded.version == "v3"
    assert isinstance(model, SoftPromptModel) and isinstance(loaded, SoftPromptModel)
    assert torch.equal(model.prompt, loaded.prompt)
    saved, back = model.heads.state_dict(), loaded.heads.state_dict()
    assert saved.keys() == back.keys() and all(torch.equal(saved[k], back[k]) for k in saved)
    # Same weights; requests padded in other batches may differ in the last float bits.
    frame = pl.DataFrame({"request": split[1].get_column("text")})
    assert np.allclose(model.predict(frame), loaded.predict(frame), rtol=0, atol=1e-6)


def test_tampered_soft_prompt_is_refused(model: Model, tmp_path: Path) -> None:
    TRAINER.save(model, tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        TRAINER.load(tmp_path, "v1")


def test_another_encoder_is_refused(model: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    TRAINER.save(model, tmp_path / "model")
    fake = tmp_path / "minilm"
    fake.mkdir()
    (fake / ENCODER_WEIGHTS).write_bytes(b"not the packaged MiniLM")
    monkeypatch.setattr(sp, "encoder_directory", lambda: fake)
    with pytest.raises(ValueError, match="encoder"):
        TRAINER.load(tmp_path / "model", "v1")


def test_fit_is_deterministic_for_a_seed(split: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    train = split[0].head(24)
    quick = SoftPromptTrainer(epochs=1, batch_size=8)
    first, again = (quick.fit(train, seed=1) for _ in range(2))
    assert isinstance(first, SoftPromptModel) and isinstance(again, SoftPromptModel)
    assert np.array_equal(first.prompt.numpy(), again.prompt.numpy())
    frame = pl.DataFrame({"request": split[1].get_column("text").head(8)})
    assert np.array_equal(first.predict(frame), again.predict(frame))


class _Provider:
    def __init__(self, model: Model) -> None:
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == "soft_prompt" else None


def test_the_model_runs_inside_the_ask_ai_stage(model: Model, views: list[HomeView]) -> None:
    view = views[-1]  # the held-out home
    assert RequestParser(view.home, model).reader is model
    model.version = "v9"
    records = ask_ai_stage(view, _Provider(model), 2)
    assert records and all(isinstance(r, AskAIRecord) for r in records)
    assert {r.model_version for r in records} == {"v9"}
    assert any(r.label.approved for r in records if isinstance(r, AskAIRecord))


def test_paraphrase_style_is_emitted_and_the_rules_miss_some(views: list[HomeView]) -> None:
    view = views[0]
    ask = AskAI(view, None)
    requests = RequestGenerator(view.home, 1).generate(view.truth.patterns)
    paraphrased = [r for r in requests if r.style == "paraphrase"]
    assert paraphrased
    verdicts = [ask.verdict(r, ask.parser.parse(r.text))[0] for r in paraphrased]
    assert not all(verdicts)
