"""JAA-Net's DISFA recipe: a DISFA model from the BP4D run of parts 1+3 at
epoch 5 (AU1, 2, 4, 6, 12 from their own networks, AU25 from AU23's, AU26
from AU17's, AU9 and the final FCs fresh), the refusal without that run, and
``jaanet_scratch``, which starts from random weights and says so."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

import auzoo
from auzoo.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from auzoo.engine.records import RunSpec
from auzoo_jaanet.jaanet import BP4D_AUS, DISFA_AUS, JAANet
from auzoo_jaanet.transfer import DISFA_FROM_BP4D, JAANetAUTransfer

# A run small enough for a test: 32 px, one epoch of two batches of 4.
TINY_RUN = {"img_size": 32, "train_cfg.max_epochs": 1, "train_dataloader.batch_size": 4,
            "train_dataloader.sampler.iters_per_epoch": 2, "val_dataloader.batch_size": 64}


def _randomise_running_stats(model: torch.nn.Module, seed: int) -> None:
    """BatchNorm statistics other than 0 and 1, so that copying them shows."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


@pytest.fixture(scope="module")
def bp4d_and_disfa():
    torch.manual_seed(0)
    bp4d = JAANet(aus=BP4D_AUS).eval()
    _randomise_running_stats(bp4d, 1)
    disfa = JAANet(aus=DISFA_AUS).eval()
    _randomise_running_stats(disfa, 2)
    before = copy.deepcopy(disfa)
    record = JAANetAUTransfer(DISFA_FROM_BP4D)(disfa, bp4d.state_dict(),
                                              dict(aus=list(BP4D_AUS)), "bp4d.pth")
    return bp4d, disfa, before, record


def _per_au_outputs(model: JAANet):
    """Each AU's refinement net and local trunk on one input: (N, A, ...) outputs."""
    g = torch.Generator().manual_seed(5)
    maps = torch.rand(2, 1, 24, 24, generator=g)
    feat = torch.rand(2, 64, 16, 16, generator=g)
    n = len(model.aus)
    with torch.no_grad():
        refined = model.attention_refine(maps.expand(2, n, 24, 24))
        local = model.local_trunks(feat.repeat(1, n, 1, 1)).view(2, n, -1)
    return refined, local


def test_disfa_au_networks_come_from_the_mapped_bp4d_aus(bp4d_and_disfa):
    bp4d, disfa, before, record = bp4d_and_disfa
    src_refined, src_local = _per_au_outputs(bp4d)
    refined, local = _per_au_outputs(disfa)
    fresh_refined, fresh_local = _per_au_outputs(before)
    pairs = {1: 1, 2: 2, 4: 4, 6: 6, 12: 12, 25: 23, 26: 17}
    for t, au in enumerate(DISFA_AUS):
        if au in pairs:
            s = BP4D_AUS.index(pairs[au])
            assert torch.equal(refined[:, t], src_refined[:, s]), f"AU{au} refinement net"
            assert torch.equal(local[:, t], src_local[:, s]), f"AU{au} local trunk"
    # AU25 is not AU24's or AU26's neighbour in BP4D's order by accident: it is AU23's net
    assert not torch.equal(refined[:, DISFA_AUS.index(25)], src_refined[:, BP4D_AUS.index(24)])
    # AU9 is BP4D's no AU: its networks are the model's own, as built
    nine = DISFA_AUS.index(9)
    assert torch.equal(refined[:, nine], fresh_refined[:, nine])
    assert torch.equal(local[:, nine], fresh_local[:, nine])
    assert not any(torch.allclose(local[:, nine], src_local[:, s]) for s in range(len(BP4D_AUS)))
    assert record["per_au"] == {f"AU{t}": f"AU{s}" for t, s in pairs.items()}
    assert record["fresh"] == ["AU9", "classifier."]


def test_shared_branches_are_taken_and_the_final_fcs_are_not(bp4d_and_disfa):
    bp4d, disfa, before, _ = bp4d_and_disfa
    src, out, fresh = bp4d.state_dict(), disfa.state_dict(), before.state_dict()
    shared = [k for k in out if k.startswith(("region.", "align_trunk.", "align_head.",
                                              "global_trunk."))]
    assert len(shared) > 100 and all(torch.equal(out[k], src[k]) for k in shared)
    fcs = [k for k in out if k.startswith("classifier.")]
    assert len(fcs) == 4 and all(torch.equal(out[k], fresh[k]) for k in fcs)
    # the first FC has the same shape in both models, and still is not copied
    assert src["classifier.0.weight"].shape == out["classifier.0.weight"].shape
    assert not torch.equal(out["classifier.0.weight"], src["classifier.0.weight"])


def test_a_source_without_the_mapped_aus_is_an_error():
    torch.manual_seed(0)
    source = JAANet(aus=(1, 2, 4, 6, 12))
    with pytest.raises(CheckpointError, match=r"not AU 17, 23"):
        JAANetAUTransfer(DISFA_FROM_BP4D)(JAANet(aus=DISFA_AUS), source.state_dict(),
                                          dict(aus=[1, 2, 4, 6, 12]), "five.pth")


@pytest.fixture(scope="module")
def disfa_cache(tmp_path_factory) -> Path:
    from auzoo.data.datasets.disfa.prepare import prepare_disfa
    from auzoo.data.datasets.disfa.synth import synth_disfa

    base = tmp_path_factory.mktemp("disfa")
    synth_disfa(base / "raw", subjects=27, frames=48, width=160, height=120, seed=1)
    prepare_disfa(base / "raw", base / "cache", size=48)
    return base / "cache"


def _train(model: str, data: Path, work: Path, **options):
    from auzoo.engine.train import train

    return train(RunSpec(model=model, data=str(data), fold=1, work_dir=str(work), device="cpu",
                         cfg_options={**TINY_RUN, **options}))


def test_jaanet_on_disfa_without_the_bp4d_run_is_refused(disfa_cache, tmp_path):
    with pytest.raises(ValueError) as err:
        _train("jaanet", disfa_cache, tmp_path / "run")
    text = str(err.value)
    assert "'jaanet' trained on bp4d, fold 2 (trained on part1 + part3), epoch 5" in text
    assert ("auzoo train jaanet --data BP4D_CACHE --fold 2 --work-dir work_dirs/jaanet_bp4d/fold2 "
            '--cfg-options "model.aus=(1,2,4,6,7,10,12,14,15,17,23,24)"') in text
    assert "init_from.checkpoint=work_dirs/jaanet_bp4d/fold2 (its weights/epoch_5.pth)" in text
    assert "init_from.source_data=BP4D_CACHE" in text and "'jaanet_scratch'" in text
    assert not (tmp_path / "run").exists()  # refused before any work


def _bp4d_run(tmp_path: Path, fold: int = 2) -> Path:
    """A BP4D jaanet work dir as `auzoo train jaanet --data BP4D --fold 2` leaves it."""
    from auzoo.engine.settings import resolve_config

    torch.manual_seed(3)
    model = JAANet(aus=BP4D_AUS)
    cfg = resolve_config("jaanet", {"model.aus": BP4D_AUS})
    work = tmp_path / "jaanet_bp4d" / f"fold{fold}"
    save_checkpoint(work / "weights" / "epoch_5.pth", model.state_dict(),
                    dict(model="jaanet", config=cfg.pretty_text, dataset="bp4d", fold=fold,
                         epoch=5, aus=list(BP4D_AUS), data="bp4d_cache", seed=0))
    return work


def test_jaanet_on_disfa_starts_from_the_bp4d_run_and_says_so(disfa_cache, tmp_path):
    work = _bp4d_run(tmp_path)
    result = _train("jaanet", disfa_cache, tmp_path / "run", **{
        "init_from.checkpoint": str(work),
        "optim_wrapper.optimizer.lr": 0.0})
    init = result.provenance.extra["init"]
    assert "'jaanet' trained on bp4d, fold 2" in init and "epoch 5" in init
    assert "JAANetAUTransfer" in init and str(work / "weights" / "epoch_5.pth") in init
    record = result.provenance.extra["init_from"]
    assert record["per_au"]["AU25"] == "AU23" and record["per_au"]["AU26"] == "AU17"
    assert record["source"]["aus"] == list(BP4D_AUS)
    _, src = load_checkpoint(work / "weights" / "epoch_5.pth")
    _, out = load_checkpoint(result.training.checkpoint)
    key = "attention_refine.net.0.weight"  # (A * 64, 1, 3, 3); lr 0 leaves it as it started
    au25 = out[key].view(8, 64, 1, 3, 3)[DISFA_AUS.index(25)]
    assert torch.equal(au25, src[key].view(12, 64, 1, 3, 3)[BP4D_AUS.index(23)])
    # the BP4D run of another fold is not the recipe's
    other = _bp4d_run(tmp_path / "other", fold=1)
    with pytest.raises(ValueError, match=r"fold 1 \(wanted 2\)"):
        _train("jaanet", disfa_cache, tmp_path / "run2", **{"init_from.checkpoint": str(other)})


def test_jaanet_scratch_builds_and_records_its_random_start(disfa_cache, tmp_path):
    model = auzoo.build_model("jaanet_scratch")
    assert sum(p.numel() for p in model.parameters()) == 18_603_674
    result = _train("jaanet_scratch", disfa_cache, tmp_path / "run")
    assert result.provenance.model == "jaanet_scratch"
    assert result.provenance.extra["init_from"] is None
    assert result.provenance.extra["init"].startswith("no other run's weights (no init_from)")
