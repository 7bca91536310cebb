"""Sanity figures for a music model: validation loss, 100 samples (valid MIDI, in key, range, density), WAVs.

Usage: python resources/recipes/music/evaluate.py MODEL.safetensors DATA_DIR OUT_DIR [--samples 100] [--bars 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def main() -> dict:
    """Print and return the figures (also written to OUT_DIR/figures.json)."""
    import numpy as np
    import pretty_midi
    import torch

    from aigc_studio.core.jobs import run_job
    from aigc_studio.core.modelfile import read_card
    from aigc_studio.music.analysis import figures
    from aigc_studio.music.dataset import load_corpus, split_validation
    from aigc_studio.music.jobs import GenerateMusicJob, SamplingOptions
    from aigc_studio.music.midi_io import write_midi
    from aigc_studio.music.synth import render, write_wav

    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--wavs", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    card = read_card(args.model)
    corpus = load_corpus([args.data])
    _, val = split_validation(corpus.songs, 0.1)
    result: dict = {"model": Path(args.model).name, "kind": card.kind, "val_loss": card.training.get("val_loss"),
                    "steps": card.training.get("steps")}
    if card.kind == "music-transformer":
        from aigc_studio.music.dataset import TokenWindows
        from aigc_studio.music.event_model import load_music_transformer

        mt = load_music_transformer(args.model)
        windows = TokenWindows([s for _, s in val], mt.tok, mt.context, 0, 0.0)
        gen = torch.Generator().manual_seed(0)
        total = count = 0.0
        with torch.no_grad():
            for _ in range(16):
                x, y = windows.batch(8, gen, infill=False)
                n = int((y >= 0).sum())
                total += float(mt.model.loss(x, y)) * n
                count += n
        result["val_loss_per_token"] = total / count
        result["val_tokens_scored"] = int(count)
    else:
        from aigc_studio.music.dataset import Phrases
        from aigc_studio.music.vae import load_music_vae

        vae = load_music_vae(args.model)
        phrases = Phrases([s for _, s in val], vae.config, 0).data
        with torch.no_grad():
            mu, _ = vae.encode(phrases)
            decoded = vae.decode(mu)
        result["val_phrases"] = len(phrases)
        result["val_reconstruction_step_accuracy"] = round(float((decoded == phrases).float().mean()), 4)
        result["val_reconstruction_exact_phrases"] = round(float((decoded == phrases).all(1).float().mean()), 4)
    reference = [figures(s) for _, s in val]
    stats, valid, started = [], 0, time.monotonic()
    options = SamplingOptions(temperature=args.temperature, top_p=0.95)
    for i in range(args.samples):
        fragment = run_job(GenerateMusicJob(args.model, args.bars, options=options), seed=i)["fragment"]
        path = out / f"sample{i:03d}.mid"
        write_midi(fragment, path)
        try:
            pm = pretty_midi.PrettyMIDI(str(path))
            valid += int(sum(len(inst.notes) for inst in pm.instruments) == fragment.note_count)
        except Exception:  # counted as invalid
            pass
        stats.append(figures(fragment))
        if i < args.wavs:
            pcm = render(fragment)
            write_wav(out / f"sample{i:03d}.wav", pcm)
            spectrum = np.abs(np.fft.rfft(pcm.astype(np.float32)))
            freqs = np.fft.rfftfreq(len(pcm), 1 / 22050)
            peak = float(freqs[int(np.argmax(spectrum[1:])) + 1])
            result.setdefault("wav_peak_hz", []).append(round(peak, 1))
            result.setdefault("wav_seconds", []).append(round(len(pcm) / 22050, 1))
            _spectrogram_png(pcm, out / f"sample{i:03d}_spectrogram.png")
    result["samples"] = args.samples
    result["sample_seconds"] = round(time.monotonic() - started, 1)
    result["valid_midi_share"] = valid / args.samples

    def summary(rows):
        return {k: round(statistics.mean(r[k] for r in rows), 3) for k in ("in_key", "pitch_range", "notes_per_bar", "notes")}

    result["generated"] = summary(stats)
    result["empty_samples"] = sum(1 for r in stats if r["notes"] == 0)
    result["validation_data"] = summary(reference)
    (out / "figures.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


def _spectrogram_png(pcm, path: Path) -> None:
    """A log-magnitude spectrogram (0-2 kHz, time left to right) to eyeball pitches and rhythm."""
    import numpy as np
    from PIL import Image

    frame, hop = 2048, 256
    x = pcm.astype(np.float32) / 32768
    frames = [x[i:i + frame] * np.hanning(frame) for i in range(0, max(1, len(x) - frame), hop)]
    spec = np.abs(np.fft.rfft(np.array(frames), axis=1))[:, : int(2000 / (22050 / frame))]
    img = np.log1p(spec * 20).T[::-1]
    img = (255 * img / max(1e-6, img.max())).astype(np.uint8)
    Image.fromarray(img).resize((min(1600, img.shape[1] * 2), img.shape[0] * 2)).save(path)


if __name__ == "__main__":
    main()
