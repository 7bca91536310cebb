"""Sentence VAE: interpolation endpoints decode back to the two sentences; resume works."""

from __future__ import annotations

from aigc_studio.core.jobs import run_job
from aigc_studio.text.jobs import BlendSentencesJob, NeighboursJob, TrainVAEJob

SENTENCES = (
    "The cat sat on the mat. A dog ran in the park. She walked to the old house by the river.\n"
    "He opened the door slowly. The rain fell all night long. We ate bread and cheese at noon.\n"
)


def test_interpolation_endpoints_decode_to_their_sentences(tmp_path, one_torch_thread):
    (tmp_path / "s.txt").write_text(SENTENCES, encoding="utf-8")
    out = tmp_path / "vae.safetensors"
    losses = []
    run_job(
        TrainVAEJob(
            dict(
                data=[str(tmp_path)],
                out=str(out),
                steps=300,
                embed=32,
                hidden=64,
                latent=8,
                batch_size=6,
                sample_every=0,
                checkpoint_every=0,
            )
        ),
        on_partial=losses.append,
    )
    assert losses[-1]["loss"] < losses[0]["loss"] / 3
    path = run_job(
        BlendSentencesJob(
            model=str(out), first="The cat sat on the mat.", second="The rain fell all night long.", steps=5
        )
    )
    assert len(path) == 5
    assert path[0] == "The cat sat on the mat."
    assert path[-1] == "The rain fell all night long."
    from aigc_studio.text.vae import UNK, load_vae

    vae = load_vae(out)
    plain = vae.model.decode_logits

    def unknown_first(z, token, h):  # a model that would rather say "unknown word" than anything else
        logits, h = plain(z, token, h)
        logits[..., UNK] += 100.0
        return logits, h

    vae.model.decode_logits = unknown_first
    assert "…" not in vae.decode(vae.encode("The cat sat on the mat."))  # real words only
    near = run_job(NeighboursJob(model=str(out), sentence="A dog ran in the park.", count=3, radius=0.1, seed=1))
    assert "A dog ran in the park." in near
