"""The authors' six JAA-Net module files load into auzoo's JAANet, every tensor in its
place (per-patch and per-AU modules in order), checked and described."""
import hashlib

import pytest
import torch

from auzoo.engine.weight_formats import load_weights, read_official
from auzoo_jaanet.jaanet import BP4D_AUS, DISFA_AUS, JAANet
from auzoo_jaanet.official import MODULES

from jaanet_official_files import official_states, write_official


@pytest.fixture(scope="module")
def source():
    torch.manual_seed(0)
    model = JAANet(aus=DISFA_AUS).eval()
    with torch.no_grad():  # BatchNorm statistics that are not 0 / 1, so misplaced ones show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
    return model


def test_the_six_files_load_into_the_same_network(source, tmp_path):
    folder = write_official(source, tmp_path / "JAAv1_DISFA_combine_1_2", epoch=5)
    model = JAANet(aus=DISFA_AUS)
    record = read_official([folder], model)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    model.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), source(x))
    assert record["format"] == "jaanet-official" and record["version"] == "v1"
    assert record["aus"] == list(DISFA_AUS) and record["dataset"] == "disfa" and record["epoch"] == 5
    assert (record["test_part"], record["fold"]) == ("part3", 1)  # combine_1_2 tests part 3
    names = [f"{m}_5.pth" for m in MODULES]
    assert [f["file"].split("/")[-1] for f in record["files"]] == names
    first = folder / names[0]
    assert record["files"][0]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    # 64 + 16 + 4 patches per region layer, 8 refinement nets and 8 trunks share one counter each
    assert record["dropped"] == 2 * (63 * 1 + 15 + 3) + 7 * 3 + 7 * 6


def test_patch_k_is_row_major_and_au_a_is_the_model_aus_a(source, tmp_path):
    """The authors' patch k is row k // 8, column k % 8 of the 8x8 grid, and their
    refinement net a works on AU a's map: check both on the loaded network."""
    states = official_states(source)
    region = states["region_learning"]
    for k in range(64):
        region[f"multiscale_feat.0.local_conv_branch1.convs.{k}.weight"].zero_()
        region[f"multiscale_feat.0.local_conv_branch1.convs.{k}.bias"].fill_(1.0 if k == 10 else 0.0)
    refine = states["local_attention_refine"]
    for a in range(8):
        refine[f"local_aus_attention.{a}.9.weight"].zero_()
        refine[f"local_aus_attention.{a}.9.bias"].fill_(float(a))
    folder = tmp_path / "run"
    folder.mkdir()
    for module, state in states.items():
        torch.save(state, folder / f"{module}_1.pth")
    model = JAANet(aus=DISFA_AUS)
    read_official([folder], model)
    scale = model.region.body[0].scales[0].eval()
    with torch.no_grad():
        out = scale(torch.rand(1, 32, 64, 64))  # 8 x 8 patches of 8 x 8 pixels
        logits = model.eval().forward_train(torch.rand(1, 3, 64, 64))["attention_logits"]
    lit = torch.nonzero(out[0].abs().sum(0))
    assert lit[:, 0].min() == 8 and lit[:, 0].max() == 15   # row 10 // 8 = 1
    assert lit[:, 1].min() == 16 and lit[:, 1].max() == 23  # column 10 % 8 = 2
    assert torch.equal(logits[0, :, 0, 0], torch.arange(8.0))


def test_released_v2_files_drop_their_local_heads(source, tmp_path):
    folder = write_official(source, tmp_path / "DISFA_combine_2_3", epoch=12, version="v2")
    model = JAANet(aus=DISFA_AUS)
    files = sorted(folder.iterdir())
    record = read_official(files, model)  # the six files instead of the folder
    assert record["version"] == "v2" and "local_aus_output" in record["note"]
    assert (record["test_part"], record["fold"]) == ("part1", 3)
    assert torch.equal(model.classifier[1].weight, source.classifier[1].weight)


def test_what_does_not_fit_is_refused(source, tmp_path):
    folder = write_official(source, tmp_path / "DISFA_run")
    other = (2, 1, 4, 6, 9, 12, 25, 26)
    with pytest.raises(ValueError) as err:  # same size, other AU order
        read_official([folder], JAANet(aus=other))
    assert "au_net_5.pth" in str(err.value)
    assert str(list(DISFA_AUS)) in str(err.value) and str(list(other)) in str(err.value)
    with pytest.raises(ValueError, match=r"predicts AUs \[1, 2, 4, 6, 9, 12, 25, 26\]"):
        read_official([folder], JAANet(aus=BP4D_AUS))
    with pytest.raises(ValueError, match="local_reduce='mean', the model .* 'sum'"):
        read_official([folder], JAANet(aus=DISFA_AUS, local_reduce="sum"))
    write_official(source, folder, epoch=6)  # two epochs in one folder
    with pytest.raises(ValueError, match=r"several epochs \(5, 6\): give the six files of one"):
        read_official([folder], JAANet(aus=DISFA_AUS))
    (folder / "au_net_6.pth").unlink()
    with pytest.raises(ValueError, match="no au_net_EPOCH.pth"):
        read_official(sorted(folder.glob("*_6.pth")), JAANet(aus=DISFA_AUS))
    states = official_states(source)
    states["global_au_feat"]["feat_extract.22.weight"] = torch.ones(1)
    bad = tmp_path / "bad"
    bad.mkdir()
    for module, state in states.items():
        torch.save(state, bad / f"{module}_1.pth")
    with pytest.raises(ValueError, match=r"global_au_feat_1.pth: feat_extract\.22\.weight"):
        read_official([bad], JAANet(aus=DISFA_AUS))
    named = write_official(source, tmp_path / "JAAv1_BP4D_combine_1_3")
    with pytest.raises(ValueError, match="the names say BP4D, the files hold 8 AUs"):
        read_official([named], JAANet(aus=DISFA_AUS))


def test_the_config_builds_the_model_the_files_fit(source, tmp_path):
    folder = write_official(source, tmp_path / "JAAv1_DISFA_combine_1_3", epoch=3)
    net = load_weights(folder, model="jaanet")
    meta = net.checkpoint_meta
    assert meta["model"] == "jaanet" and meta["img_size"] == 176 and meta["fold"] == 2
    assert meta["loaded_from"]["epoch"] == 3 and not net.training
    with pytest.raises(ValueError, match="a folder or several files .* name the model"):
        load_weights(folder)


def test_eval_and_bench_from_the_command_line(source, tiny_disfa, tmp_path, capsys):
    from auzoo import cli
    from auzoo.engine.records import RunResult

    root = tmp_path / "snapshots"
    write_official(source, root / "JAAv1_DISFA_combine_1_2", epoch=5)
    write_official(source, root / "JAAv1_DISFA_combine_2_3", epoch=5)
    small = ["--cfg-options", "img_size=32"]  # JAA-Net's smallest input: a quick test
    code = cli.main(["eval", "jaanet", "--data", str(tiny_disfa), "--weights",
                     str(root / "JAAv1_DISFA_combine_1_2"), *small])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "jaanet fold 1 on disfa: test subjects SN003, SN004, SN005" in out.out
    assert "weights: jaanet-official: region_learning_5.pth (sha256" in out.out
    code = cli.main(["eval", "jaanet", "--data", str(tiny_disfa), "--fold", "3", "--weights",
                     str(root / "JAAv1_DISFA_combine_1_2"), *small])
    assert code == 2 and "refusing to score fold 3" in capsys.readouterr().err
    bench = tmp_path / "bench"
    code = cli.main(["bench", "jaanet", "--data", str(tiny_disfa), "--folds", "3", "--out",
                     str(bench), "--weights", str(root / "JAAv1_DISFA_combine_{train_parts}"),
                     *small])
    assert code == 0, capsys.readouterr().err
    result = RunResult.read(bench / "cells" / "jaanet@weights" / "fold3" / "seed0" / "result.json")
    weights = result.provenance.extra["weights"]
    assert weights["fold"] == 3 and "JAAv1_DISFA_combine_2_3" in weights["files"][0]["file"]
    assert result.training is None and result.provenance.test_subjects == ["SN001", "SN002"]
