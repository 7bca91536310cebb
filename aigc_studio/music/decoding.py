"""Token-by-token inference for a :class:`TransformerLM`: a preallocated KV cache and no module overhead.

``TransformerLM.forward`` with a cache concatenates the keys and values of every
layer at every step and walks ~70 ``nn.Module`` calls; for a 2 M parameter model
that bookkeeping costs more than the arithmetic. :class:`IncrementalDecoder`
writes keys and values into fixed buffers. Prompts (several tokens at once) run
the same torch operations as ``forward``. On the CPU, single-token steps run in
NumPy on the same buffers: a NumPy call costs ~1 µs against ~5-10 µs for torch,
and a step is ~100 calls on tiny matrices. The step folds the layer-norm affine,
the biases and the attention scale into its weight copies, so its logits match
``forward`` to float32 rounding (~1e-6), not bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.nn.transformer import TransformerLM


class IncrementalDecoder:
    """Feeds tokens to a TransformerLM in inference mode and returns the last position's logits."""

    def __init__(self, model: TransformerLM) -> None:
        c = model.config
        self.model = model
        self.context, self.heads, self.width = c.context, c.heads, c.width
        self.eps = model.norm.eps
        device = model.tokens.weight.device
        dtype = model.tokens.weight.dtype
        shape = (c.layers, 1, c.heads, c.context, c.width // c.heads)
        self.keys = torch.zeros(shape, device=device, dtype=dtype)
        self.values = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # tokens held in the cache
        self.layers = [
            (b.norm1.weight, b.norm1.bias, b.attn.qkv.weight, b.attn.qkv.bias, b.attn.proj.weight, b.attn.proj.bias,
             b.norm2.weight, b.norm2.bias, b.mlp.up.weight, b.mlp.up.bias, b.mlp.down.weight, b.mlp.down.bias)
            for b in model.blocks
        ]
        self._step = _NumpyStep(self) if device.type == "cpu" and dtype == torch.float32 else None

    @property
    def room(self) -> int:
        """How many more tokens fit before the context is full."""
        return self.context - self.length

    def reset(self) -> None:
        """Forget every cached token (the next feed starts at position 0)."""
        self.length = 0

    def feed(self, tokens: list[int]) -> np.ndarray:
        """Append ``tokens`` and return the float32 logits ([vocab]) that follow the last of them."""
        n = len(tokens)
        start = self.length
        if n == 0 or start + n > self.context:
            raise ValueError(f"cannot feed {n} tokens after {start} (context {self.context})")
        if n == 1 and self._step is not None:
            logits = self._step(tokens[0], start)
        else:
            logits = self._feed_torch(tokens, start).float().cpu().numpy()
        self.length = start + n
        return logits

    @torch.inference_mode()
    def _feed_torch(self, tokens: list[int], start: int) -> torch.Tensor:
        n = len(tokens)
        m = self.model
        device = self.keys.device
        idx = torch.tensor([tokens], device=device)
        x = m.tokens(idx) + m.positions(torch.arange(start, start + n, device=device))
        width, heads = self.width, self.heads
        head_dim = width // heads
        end = start + n
        mask = None if n == 1 else _causal_mask(n, end, device)
        for layer, (n1w, n1b, qkv_w, qkv_b, proj_w, proj_b, n2w, n2b, up_w, up_b, down_w, down_b) in enumerate(self.layers):
            h = F.layer_norm(x, (width,), n1w, n1b, self.eps)
            q, k, v = F.linear(h, qkv_w, qkv_b).split(width, dim=2)
            q = q.view(1, n, heads, head_dim).transpose(1, 2)
            self.keys[layer, :, :, start:end] = k.view(1, n, heads, head_dim).transpose(1, 2)
            self.values[layer, :, :, start:end] = v.view(1, n, heads, head_dim).transpose(1, 2)
            k_all, v_all = self.keys[layer, :, :, :end], self.values[layer, :, :, :end]
            y = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
            x = x + F.linear(y.transpose(1, 2).contiguous().view(1, n, width), proj_w, proj_b)
            h = F.layer_norm(x, (width,), n2w, n2b, self.eps)
            x = x + F.linear(F.gelu(F.linear(h, up_w, up_b)), down_w, down_b)
        # The head runs on every fed position, as in ``forward``, so prefill logits match it bit for bit.
        return F.linear(F.layer_norm(x, (width,), m.norm.weight, m.norm.bias, self.eps), m.head.weight, m.head.bias)[0, -1]


class _NumpyStep:
    """One-token decode step in NumPy float32, reading and writing the decoder's (shared) KV cache."""

    def __init__(self, decoder: IncrementalDecoder) -> None:
        m = decoder.model
        width, heads = decoder.width, decoder.heads
        head_dim = width // heads
        self.width, self.heads, self.eps = width, heads, decoder.eps
        self.keys = decoder.keys.numpy()[:, 0]  # [layer, head, position, head_dim], same memory as the torch cache
        self.values = decoder.values.numpy()[:, 0]
        with torch.no_grad():
            self.token_table = m.tokens.weight.detach().float().numpy().copy()
            self.position_table = m.positions.weight.detach().float().numpy().copy()
            scale = torch.ones(3 * width, dtype=torch.float64)
            scale[:width] = 1.0 / math.sqrt(head_dim)  # the attention scale, folded into the queries
            self.layers = []
            for n1w, n1b, qkv_w, qkv_b, proj_w, proj_b, n2w, n2b, up_w, up_b, down_w, down_b in decoder.layers:
                qkv = _fold(n1w, n1b, qkv_w, qkv_b) * scale.numpy()
                self.layers.append((qkv.astype(np.float32), _augment(proj_w, proj_b),
                                    _fold(n2w, n2b, up_w, up_b).astype(np.float32), _augment(down_w, down_b)))
            bias = m.head.bias if m.head.bias is not None else torch.zeros(m.head.weight.shape[0])
            self.head = _fold(m.norm.weight, m.norm.bias, m.head.weight, bias).astype(np.float32)
        # Work buffers; each input vector carries a trailing 1 that multiplies the bias row.
        self.x = np.empty(width, np.float32)
        self.centred = np.empty(width, np.float32)
        self.normed = np.ones(width + 1, np.float32)
        self.qkv = np.empty(3 * width, np.float32)
        self.attended = np.ones(width + 1, np.float32)
        self.hidden = np.ones(4 * width + 1, np.float32)
        self.hidden_t = torch.from_numpy(self.hidden[:-1])
        self.out = np.empty(width, np.float32)
        self.scores = np.empty((heads, 1, decoder.context), np.float32)
        self.sums = np.empty((heads, 1, 1), np.float32)

    def _norm(self) -> np.ndarray:
        """Layer norm of the residual stream, without its affine (folded into the next weights)."""
        x, centred = self.x, self.centred
        np.subtract(x, x.sum() / self.width, out=centred)
        np.multiply(centred, 1.0 / math.sqrt(np.dot(centred, centred) / self.width + self.eps), out=self.normed[:-1])
        return self.normed

    def __call__(self, token: int, position: int) -> np.ndarray:
        width, heads = self.width, self.heads
        end = position + 1
        x, qkv, out = self.x, self.qkv, self.out
        scores, sums = self.scores[:, :, :end], self.sums
        query = qkv[:width].reshape(heads, 1, -1)
        attended = self.attended[:-1].reshape(heads, 1, -1)
        np.add(self.token_table[token], self.position_table[position], out=x)
        for (qkv_w, proj_w, up_w, down_w), keys, values in zip(self.layers, self.keys, self.values):
            np.matmul(self._norm(), qkv_w, out=qkv)
            keys[:, position] = qkv[width:2 * width].reshape(heads, -1)
            values[:, position] = qkv[2 * width:].reshape(heads, -1)
            np.matmul(query, keys[:, :end].transpose(0, 2, 1), out=scores)
            np.subtract(scores, scores.max(axis=2, keepdims=True), out=scores)
            np.exp(scores, out=scores)
            np.sum(scores, axis=2, keepdims=True, out=sums)
            np.matmul(scores, values[:, :end], out=attended)
            np.divide(attended, sums, out=attended)
            np.matmul(self.attended, proj_w, out=out)
            x += out
            np.matmul(self._norm(), up_w, out=self.hidden[:-1])
            self.hidden_t.copy_(F.gelu(self.hidden_t))  # the exact (erf) GELU, which NumPy lacks
            np.matmul(self.hidden, down_w, out=out)
            x += out
        return self._norm() @ self.head


def pick_token(logits: np.ndarray, allowed: np.ndarray, settings: SamplingSettings, noise: float | None) -> int:
    """Sample among the ``allowed`` ids with temperature, top-k and top-p; ``noise`` is a uniform draw in [0, 1).

    Greedy (temperature 0, ``noise`` None) takes the most likely allowed id. Only the allowed
    ids (a few dozen to a few hundred) are sorted and normalised, not the whole vocabulary.
    """
    chosen = logits[allowed].astype(np.float64)
    if settings.temperature <= 0 or noise is None:
        return int(allowed[int(np.argmax(chosen))])
    order = np.argsort(-chosen, kind="stable")
    chosen = chosen[order] / settings.temperature
    if settings.top_k:
        chosen = chosen[: np.searchsorted(-chosen, -chosen[min(settings.top_k, len(chosen)) - 1], side="right")]
    probs = np.exp(chosen - chosen[0])
    cumulative = np.cumsum(probs)
    if settings.top_p < 1.0:
        # Keep the smallest prefix whose mass reaches top_p (the token that crosses it stays).
        kept = int(np.searchsorted(cumulative - probs, settings.top_p * cumulative[-1], side="right"))
        cumulative = cumulative[:kept]
    index = int(np.searchsorted(cumulative, noise * cumulative[-1], side="right"))
    return int(allowed[order[min(index, len(cumulative) - 1)]])


def _fold(norm_w: torch.Tensor, norm_b: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
    """[in + 1, out] float64 matrix for ``linear(layer_norm_affine(h))``: the norm's scale and shift folded in."""
    w = weight.detach().double().t()
    return torch.cat([norm_w.detach().double().unsqueeze(1) * w, (bias.detach().double() + norm_b.detach().double() @ w)[None]]).numpy()


def _augment(weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
    """[in + 1, out] float32 matrix: the transposed weight with the bias as its last row."""
    return torch.cat([weight.detach().t(), bias.detach()[None]]).float().numpy().copy()


def _causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    offset = keys - queries
    rows = torch.arange(queries, device=device).unsqueeze(1) + offset
    cols = torch.arange(keys, device=device).unsqueeze(0)
    return cols <= rows
