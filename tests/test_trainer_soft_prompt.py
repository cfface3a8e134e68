"""soft_prompt trainer beyond the shared contract (`test_trainer_contract.py`): its examples and scores,
the encoder caches, the prompt and heads kept by save/load, refusal of tampered weights or encoder, the
model reading the held-out home's requests, and the paraphrase style that the keyword rules miss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from homesim.retraining.models import soft_prompt as sp
from homesim.retraining.models.minilm import ENCODER_WEIGHTS
from homesim.retraining.models.soft_prompt import WEIGHTS_FILE, SoftPromptModel
from homesim.schema.records import AskAIRecord
from homesim.simulation.ask_ai import (
    INTENT_FAMILIES,
    AskAI,
    RequestGenerator,
    RequestParser,
    RequestReader,
    ask_ai_stage,
)
from trainer_cases import OneModel, TrainerCase


def test_examples_carry_labels_and_the_parser_text(soft_prompt_case: TrainerCase) -> None:
    examples = soft_prompt_case.examples
    assert set(examples.get_column("intent_family")) <= set(INTENT_FAMILIES)
    assert {"sun", "arrive", "leave", "none"} & set(examples.get_column("event")) >= {"none"}
    assert all(t.startswith(" ") and t.endswith(" ") for t in examples.get_column("text"))
    created = examples.filter(pl.col("expected_outcome") == "create")
    assert created.get_column("intended_automation").null_count() == 0


def test_fit_predicts_family_probabilities_and_scores(soft_prompt_case: TrainerCase) -> None:
    model, held_out, trainer = soft_prompt_case.model, soft_prompt_case.held, soft_prompt_case.trainer
    scores = model.predict(pl.DataFrame({"request": held_out.get_column("text")}))
    assert scores.shape == (held_out.height, len(INTENT_FAMILIES))
    assert np.allclose(scores.sum(axis=1), 1.0)
    assert isinstance(model, RequestReader)
    predictions = trainer.predict_examples(model, held_out)
    assert predictions.height == held_out.height
    metrics = trainer.score(predictions)
    assert set(metrics) == {"behaviour_accuracy", "intent_accuracy", "outcome_accuracy"}
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    baseline = trainer.score(trainer.predict_examples(None, held_out))
    assert 0.0 < baseline[trainer.primary_metric] < 1.0  # the rules miss paraphrases


def test_caches_start_afresh_when_full_and_bad_frames_are_refused(
    soft_prompt_case: TrainerCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = soft_prompt_case.model
    assert isinstance(model, SoftPromptModel)
    texts = soft_prompt_case.held.get_column("text").head(5).to_list()
    expected = model.predict(pl.DataFrame({"request": texts}))
    monkeypatch.setattr(sp, "CACHE_SIZE", 3)
    assert np.allclose(model.predict(pl.DataFrame({"request": texts})), expected)
    assert len(model.similarity(texts[0], ["kitchen ceiling light", "hallway fan", "office lamp"])) == 3
    assert model.read(texts[1]).family == INTENT_FAMILIES[int(np.argmax(expected[1]))]
    with pytest.raises(ValueError, match="request"):
        model.predict(pl.DataFrame({"text": texts}))


def test_save_load_keeps_the_prompt_and_heads(soft_prompt_case: TrainerCase, tmp_path: Path) -> None:
    model = soft_prompt_case.model
    soft_prompt_case.trainer.save(model, tmp_path)
    loaded = soft_prompt_case.trainer.load(tmp_path, "v3")
    assert isinstance(model, SoftPromptModel) and isinstance(loaded, SoftPromptModel)
    assert torch.equal(model.prompt, loaded.prompt)
    saved, back = model.heads.state_dict(), loaded.heads.state_dict()
    assert saved.keys() == back.keys() and all(torch.equal(saved[k], back[k]) for k in saved)


def test_tampered_soft_prompt_is_refused(soft_prompt_case: TrainerCase, tmp_path: Path) -> None:
    soft_prompt_case.trainer.save(soft_prompt_case.model, tmp_path)
    weights = tmp_path / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        soft_prompt_case.trainer.load(tmp_path, "v1")


def test_another_encoder_is_refused(
    soft_prompt_case: TrainerCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    soft_prompt_case.trainer.save(soft_prompt_case.model, tmp_path / "model")
    fake = tmp_path / "minilm"
    fake.mkdir()
    (fake / ENCODER_WEIGHTS).write_bytes(b"not the packaged MiniLM")
    monkeypatch.setattr(sp, "encoder_directory", lambda: fake)
    with pytest.raises(ValueError, match="encoder"):
        soft_prompt_case.trainer.load(tmp_path / "model", "v1")


def test_the_model_reads_the_held_out_homes_requests(soft_prompt_case: TrainerCase) -> None:
    model, view = soft_prompt_case.model, soft_prompt_case.views[-1]  # the held-out home
    assert RequestParser(view.home, model).reader is model
    records = ask_ai_stage(view, OneModel("soft_prompt", model), 2)
    assert records and all(isinstance(r, AskAIRecord) for r in records)
    assert any(r.label.approved for r in records if isinstance(r, AskAIRecord))


def test_paraphrase_style_is_emitted_and_the_rules_miss_some(soft_prompt_case: TrainerCase) -> None:
    view = soft_prompt_case.views[0]
    ask = AskAI(view, None)
    requests = RequestGenerator(view.home, 1).generate(view.truth.patterns)
    paraphrased = [r for r in requests if r.style == "paraphrase"]
    assert paraphrased
    verdicts = [ask.verdict(r, ask.parser.parse(r.text))[0] for r in paraphrased]
    assert not all(verdicts)


def test_the_encoder_keeps_each_texts_lower_states(
    soft_prompt_case: TrainerCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text's states are computed once per process and equal (up to float rounding) what encoding it
    in another chunk gives; a full memory starts afresh and still answers every text."""
    from homesim.retraining.models import minilm

    encoder = minilm.shared_encoder()
    texts = soft_prompt_case.held.get_column("text").head(6).to_list()
    encoder._memo.clear()
    hidden, mask, sentences = encoder.lower(texts, 5, 32)
    assert len(encoder._memo) == len(set(texts))
    calls = 0
    forward = encoder.model.forward

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return forward(*args, **kwargs)

    monkeypatch.setattr(encoder.model, "forward", counted)
    again = encoder.lower(list(reversed(texts)), 5, 32)
    assert calls == 0  # every text from memory
    assert torch.equal(again[0], hidden.flip(0)) and torch.equal(again[1], mask.flip(0))
    monkeypatch.setattr(encoder.model, "forward", forward)
    encoder._memo.clear()
    for n, text in enumerate(texts):  # one at a time: no padding at all
        alone, alone_mask, alone_sentence = encoder.lower([text], 5, 32)
        length = int(alone_mask.sum())
        assert int(mask[n].sum()) == length
        assert torch.allclose(alone[0, :length], hidden[n, :length], atol=1e-5)
        assert torch.allclose(alone_sentence[0], sentences[n], atol=1e-6)
    monkeypatch.setattr(minilm, "MEMO_SIZE", 3)
    full = encoder.lower(texts, 5, 32)
    assert len(encoder._memo) == len(set(texts)) and full[0].shape == hidden.shape
