import numpy as np
import pytest
import torch

from brats_mlops.config.schema import parse_params
from brats_mlops.inference.latents import case_input, latent_means
from brats_mlops.models.checkpoint import load_autoencoder
from brats_mlops.data.preprocessing import load_autoencoder_input
from brats_mlops.training.autoencoder import AutoencoderTrainer, autoencoder_split
from tests.training.helpers import FakeTracker, Killed

TINY_AE = {"channels": [8, 8], "disc_channels": 8, "disc_layers": 1, "epochs": 3, "batch_size": 2, "grad_accum": 2,
           "val_every": 1, "lr_generator": 0.003, "lr_discriminator": 0.001}


def ae_cfg(**kw):
    return parse_params({"autoencoder": {**TINY_AE, **kw}, "preprocess": {"autoencoder": {"shape": [8, 8, 8]}}}).autoencoder


def _trainer(tiny_preprocessed, ckdir, **kw):
    out, plans, _ = tiny_preprocessed
    return AutoencoderTrainer(ae_cfg(**kw), out, autoencoder_split(plans, 0.2, 0), plans, ckdir, seed=1)


def test_split_follows_the_paper_labelled_train_unlabelled_validate(tiny_preprocessed):
    _, plans, _ = tiny_preprocessed
    s = autoencoder_split(plans, 0.2, 0)
    assert set(s["train"]) == set(plans.labelled_ids()) and s["val"] and not set(s["train"]) & set(s["val"])
    assert set(s["train"]) | set(s["val"]) == set(plans.cases)


def test_a_training_step_lowers_the_loss_on_a_tiny_volume(tiny_preprocessed, tmp_path):
    t = _trainer(tiny_preprocessed, tmp_path, adversarial_start_epoch=0)
    x = t.x_train[:2]
    before, terms, _ = t.generator_terms(x, adversarial=False)
    for _ in range(15):
        t.opt_g.zero_grad()
        loss, terms, _ = t.generator_terms(x, adversarial=True)
        loss.backward()
        t.opt_g.step()
    after, _, _ = t.generator_terms(x, adversarial=False)
    assert float(after) < 0.8 * float(before)
    assert set(terms) == {"l1", "kl", "adv_g", "generator"}


def test_generator_step_leaves_discriminator_gradients_alone(tiny_preprocessed, tmp_path):
    t = _trainer(tiny_preprocessed, tmp_path)
    loss, _, _ = t.generator_terms(t.x_train[:2], adversarial=True)
    loss.backward()
    assert all(p.grad is None for p in t.disc.parameters())
    assert all(p.requires_grad for p in t.disc.parameters())


def test_fit_logs_terms_validates_and_resumes_after_a_kill(tiny_preprocessed, tmp_path):
    ref = _trainer(tiny_preprocessed, tmp_path / "ref")
    res = ref.fit(FakeTracker())
    assert [h["epoch"] for h in res.history] == [0, 1, 2]
    assert all(k in res.history[0] for k in ("train_l1", "train_kl", "train_adv_g", "train_discriminator", "val_l1"))
    assert res.best_score == min(h["val_l1"] for h in res.history)

    tracker = FakeTracker()
    t = _trainer(tiny_preprocessed, tmp_path / "killed")

    def kill(epoch):
        if epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        t.fit(tracker, on_checkpoint=kill)
    assert tracker.logged == [0]
    t2 = _trainer(tiny_preprocessed, tmp_path / "killed")
    ck = t2.resumable()
    assert ck is not None and ck["epoch"] == 2
    t2.load(ck)
    res2 = t2.fit(tracker)
    assert sorted(tracker.logged) == [0, 1, 2] and len(tracker.logged) == 3
    assert res2.history[-1]["val_l1"] == pytest.approx(res.history[-1]["val_l1"], rel=1e-5)
    # a finished run does not resume
    assert _trainer(tiny_preprocessed, tmp_path / "killed").resumable() is None


def test_latents_of_a_case_folder_match_the_preprocessed_input(tiny_preprocessed, tiny_synth, tmp_path):
    out, plans, _ = tiny_preprocessed
    t = _trainer(tiny_preprocessed, tmp_path, epochs=1)
    t.fit()
    model, ck = load_autoencoder(tmp_path / "best.pt")
    cid = plans.labelled_ids()[0]
    folder = next(tiny_synth.rglob(cid))
    x = case_input(folder, ck["model_config"])
    assert np.allclose(x, load_autoencoder_input(out, cid), atol=1e-5)
    lat = latent_means(model, x)
    assert lat.shape == (1, 3, 4, 4, 4)
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(x[None]))
    assert np.allclose(lat[0], mu[0].numpy(), atol=1e-6)
