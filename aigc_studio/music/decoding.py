"""Token-by-token inference for a :class:`TransformerLM`: a preallocated KV cache and no module overhead.

``TransformerLM.forward`` with a cache concatenates the keys and values of every
layer at every step and walks ~70 ``nn.Module`` calls; for a 2 M parameter model
that bookkeeping costs more than the arithmetic. :class:`IncrementalDecoder`
runs the same operations, in the same order and on the same shapes (so the
logits are the same bits), writing keys and values into fixed buffers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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

    @property
    def room(self) -> int:
        """How many more tokens fit before the context is full."""
        return self.context - self.length

    def reset(self) -> None:
        """Forget every cached token (the next feed starts at position 0)."""
        self.length = 0

    @torch.inference_mode()
    def feed(self, tokens: list[int]) -> torch.Tensor:
        """Append ``tokens`` and return the logits ([vocab]) that follow the last of them."""
        n = len(tokens)
        start = self.length
        if n == 0 or start + n > self.context:
            raise ValueError(f"cannot feed {n} tokens after {start} (context {self.context})")
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
        self.length = end
        # The head runs on every fed position, as in ``forward``, so prefill logits match it bit for bit.
        return F.linear(F.layer_norm(x, (width,), m.norm.weight, m.norm.bias, self.eps), m.head.weight, m.head.bias)[0, -1]


def _causal_mask(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    offset = keys - queries
    rows = torch.arange(queries, device=device).unsqueeze(1) + offset
    cols = torch.arange(keys, device=device).unsqueeze(0)
    return cols <= rows


