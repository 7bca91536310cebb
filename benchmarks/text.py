"""Writer-studio benchmark: own-GPT generation with and without the KV cache, next to
transformers' ``generate()`` on a GPT-2 of the same size, plus training throughput.

Usage: python benchmarks/text.py [--threads 1] [--tokens 200] [--layers 4 --width 256 --context 256 --vocab 2048]
Prints a table; not run by pytest.
"""

from __future__ import annotations

import argparse
import time

import torch

from aigc_studio.core.modelfile import ModelCard
from aigc_studio.nn.sampling import SamplingSettings
from aigc_studio.nn.transformer import TransformerConfig, TransformerLM
from aigc_studio.text.generate import generate_ids
from aigc_studio.text.gpt import OwnGPT


class _IdTokenizer:
    """Stands in for a tokenizer: the benchmark feeds token ids directly."""

    def __init__(self, vocab: int) -> None:
        self.vocab_size = vocab

    def encode(self, text: str) -> list[int]:
        return [ord(c) % self.vocab_size for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(32 + i % 90) for i in ids)

    def to_card(self) -> dict:
        return {"type": "ids"}


def _time(fn, repeats: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_own(lm, prompt: list[int], tokens: int, use_cache: bool) -> float:
    settings = SamplingSettings(temperature=0.0, max_new_tokens=tokens)

    def run():
        gen = generate_ids(lm, prompt, settings, torch.Generator().manual_seed(0), use_cache)
        for _ in range(tokens):
            next(gen)

    return tokens / _time(run)


def bench_hf_generate(model, prompt: list[int], tokens: int, use_cache: bool) -> float:
    idx = torch.tensor([prompt])

    def run():
        with torch.no_grad():
            out = model.generate(
                idx, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, use_cache=use_cache, pad_token_id=0
            )
        assert out.shape[1] == len(prompt) + tokens

    return tokens / _time(run)


def bench_training(config: TransformerConfig, batch: int, steps: int = 10) -> float:
    model = TransformerLM(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(config.vocab_size, (batch, config.context))

    def run():
        for _ in range(steps):
            loss = model.loss(x, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return steps * batch * config.context / _time(run, repeats=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size=args.vocab, context=args.context, layers=args.layers, heads=args.heads, width=args.width
    )
    own = OwnGPT(TransformerLM(config), _IdTokenizer(args.vocab), ModelCard("text-gpt", {}))
    prompt = list(range(1, 17))
    tokens = min(args.tokens, args.context - len(prompt))
    rows = []
    params = own.model.num_parameters()
    rows.append(("own GPT, KV cache", bench_own(own, prompt, tokens, True)))
    rows.append(("own GPT, no cache (full recompute)", bench_own(own, prompt, tokens, False)))
    try:
        from transformers import GPT2Config, GPT2LMHeadModel

        from aigc_studio.text.hf import HFCausalLM

        hf = GPT2LMHeadModel(
            GPT2Config(
                vocab_size=args.vocab,
                n_positions=args.context,
                n_embd=args.width,
                n_layer=args.layers,
                n_head=args.heads,
                bos_token_id=None,
                eos_token_id=None,
            )
        ).eval()
        rows.append(("transformers GPT-2 generate(), cache", bench_hf_generate(hf, prompt, tokens, True)))
        rows.append(("transformers GPT-2 generate(), no cache", bench_hf_generate(hf, prompt, tokens, False)))

        class _Tok:
            eos_token_id = None
            bos_token_id = None

        wrapped = HFCausalLM(hf, _Tok(), __import__("pathlib").Path("gpt2-bench"), "cpu")
        rows.append(("same GPT-2 via our streaming loop, cache", bench_own(wrapped, prompt, tokens, True)))
    except ImportError:
        rows.append(("transformers not installed", float("nan")))
    train_rate = bench_training(config, args.batch)

    print(
        f"\nconfig: {args.layers} layers, {args.heads} heads, width {args.width}, context {args.context}, "
        f"vocab {args.vocab}; {params / 1e6:.2f} M parameters; torch {torch.__version__}, {args.threads} thread(s)"
    )
    print(f"generation: greedy, {len(prompt)}-token prompt, {tokens} new tokens, best of 3\n")
    base = rows[2][1] if len(rows) > 2 else rows[0][1]
    print(f"| {'generation':42} | {'tokens/s':>9} | {'vs transformers':>15} |")
    print(f"|{'-' * 44}|{'-' * 11}|{'-' * 17}|")
    for name, rate in rows:
        print(f"| {name:42} | {rate:9.1f} | {rate / base:14.2f}x |")
    print(f"\ntraining (own GPT, batch {args.batch} x {args.context}, AdamW): {train_rate:,.0f} tokens/s")


if __name__ == "__main__":
    main()
