"""Writer-studio benchmark: own-GPT generation with and without the KV cache, next to
transformers' ``generate()`` on a GPT-2 of the same size, plus training throughput.

Usage: python benchmarks/text.py [--threads 1] [--tokens 200] [--layers 4 --width 256 --context 256 --vocab 2048]
       python benchmarks/text.py --gpt2-small [--repeats 7] [--tokens 128] [--device cpu|cuda]
The second form builds a random GPT-2-small (124 M parameters, no download) and times our streaming
loop (TextStream: sampling, decoding, loop check) against transformers' generate() at the same
sampling settings, interleaved, and prints median and spread. Prints tables; not run by pytest.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


class _CharTokenizer:
    """Maps ids to printable characters so our loop decodes real text (a random model has no tokenizer)."""

    eos_token_id = None
    bos_token_id = None

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) - 32 for c in text]

    def decode(self, ids: list[int], **_kwargs) -> str:
        return "".join(chr(33 + i % 94) if i % 7 else " " for i in ids)  # words, so the loop check has work


def bench_gpt2_small(args: argparse.Namespace) -> None:
    """Our streaming loop vs transformers generate() on a random 124 M GPT-2, interleaved, median and spread."""
    from pathlib import Path

    from transformers import GPT2Config, GPT2LMHeadModel

    from aigc_studio.text.generate import TextStream
    from aigc_studio.text.hf import HFCausalLM
    from aigc_studio.text.loops import LoopDetector

    device = torch.device(args.device)
    torch.manual_seed(0)
    config = GPT2Config(bos_token_id=None, eos_token_id=None)  # GPT-2 small: 12 layers, 768 wide, 50257 tokens
    model = GPT2LMHeadModel(config).eval().to(device)
    params = sum(p.numel() for p in model.parameters())
    lm = HFCausalLM(model, _CharTokenizer(), Path("gpt2-small-random"), device)
    prompt = list(range(100, 116))
    tokens = args.tokens
    knobs = {"temperature": 0.8, "top_k": args.top_k, "top_p": 0.95}
    settings = SamplingSettings(max_new_tokens=tokens, **knobs)

    def ours() -> None:
        stream = TextStream(lm, "", settings, torch.Generator().manual_seed(1), loops=LoopDetector(), prompt_ids=prompt)
        for _ in stream:
            pass
        assert stream.tokens == tokens and stream.reason == "length", (stream.tokens, stream.reason)

    idx = torch.tensor([prompt], device=device)

    def reference() -> None:
        torch.manual_seed(1)
        with torch.no_grad():
            out = model.generate(
                idx, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True, pad_token_id=0, **knobs
            )
        assert out.shape[1] == len(prompt) + tokens

    def clock(fn) -> tuple[float, float]:
        """Tokens per second of wall time and of this thread's CPU time (steadier on a shared machine)."""
        if device.type == "cuda":
            torch.cuda.synchronize()
        start, cpu = time.perf_counter(), time.thread_time()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return tokens / (time.perf_counter() - start), tokens / max(1e-9, time.thread_time() - cpu)

    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "reference": []}
    ours(), reference()  # warm-up
    load_before = os.getloadavg()
    for r in range(args.repeats):
        order = [("ours", ours), ("reference", reference)]
        for name, fn in order if r % 2 == 0 else order[::-1]:  # interleaved, alternating who goes first
            runs[name].append(clock(fn))
    load_after = os.getloadavg()
    print(
        f"\nGPT-2 small, random weights: {params / 1e6:.1f} M parameters; {device}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); {len(prompt)}-token prompt, {tokens} new tokens; "
        f"sampling temperature 0.8, top-k {args.top_k} (0 = off), top-p 0.95, KV cache; {args.repeats} interleaved repeats"
    )
    print(f"load average before/after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs\n")
    names = {"ours": "our streaming loop (TextStream, loop check)", "reference": "transformers generate()"}
    for column, clock_name in ((0, "wall-clock"), (1, "CPU time of the generating thread")):
        print(f"tokens per second of {clock_name}:")
        print(f"| {'generation':44} | {'median':>8} | {'min..max':>15} |")
        print(f"|{'-' * 46}|{'-' * 10}|{'-' * 17}|")
        for key, label in names.items():
            rates = [run[column] for run in runs[key]]
            print(f"| {label:44} | {statistics.median(rates):8.1f} | {min(rates):6.1f}..{max(rates):<7.1f} |")
        ours_rates = [run[column] for run in runs["ours"]]
        ref_rates = [run[column] for run in runs["reference"]]
        ratios = [a / b for a, b in zip(ours_rates, ref_rates)]
        print(
            f"ours / generate(): {statistics.median(ours_rates) / statistics.median(ref_rates):.2f}x (ratio of "
            f"medians); per-repeat ratios {min(ratios):.2f}..{max(ratios):.2f}, median {statistics.median(ratios):.2f}x\n"
        )


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
    parser.add_argument("--gpt2-small", action="store_true", help="ours vs generate() on a random 124 M GPT-2")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--top-k", type=int, default=50, help="top-k for --gpt2-small (0 = off: top-p over all)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.gpt2_small:
        bench_gpt2_small(args)
        return
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
