"""`auzoo train` / `auzoo eval` end to end on a tiny model and a tiny synthetic
DISFA: resume after SIGKILL, DDP on two CPU processes, checkpoints, eval's
refusal of a fold the checkpoint trained on."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from auzoo.engine.records import RunResult
from engine_support import HERE, PYTHON, TINY_CONFIG, cli_env

EPOCHS = 3


def _config(directory: Path, record: Path = None, hold: Path = None) -> Path:
    """The tiny config, EPOCHS epochs, optionally recording batches / holding
    the run before its second epoch (``hold``: the marker written then)."""
    hooks = ["dict(type='ResumableEarlyStopping', patience=10, begin=0)"]
    if record is not None:
        hooks.append(f"dict(type='RecordBatchesHook', out={str(record)!r})")
    if hold is not None:
        hooks.append(f"dict(type='HoldBetweenEpochsHook', marker={str(hold)!r})")
    text = TINY_CONFIG + f"\ntrain_cfg = dict(max_epochs={EPOCHS})\ncustom_hooks = [{', '.join(hooks)}]\n"
    text += "custom_imports = dict(imports=['engine_hooks'], allow_failed_imports=False)\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tiny.py"
    path.write_text(text)
    return path


def _env():
    return cli_env(PYTHONPATH=str(HERE))


def _train_cmd(config: Path, cache: Path, work_dir: Path, *extra: str):
    return [PYTHON, "-m", "auzoo.cli", "train", str(config), "--data", str(cache), "--fold", "1",
            "--work-dir", str(work_dir), "--device", "cpu", *extra]


def _sigint_as_from_a_terminal():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python then installs its KeyboardInterrupt


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _records(directory: Path, rank: int):
    lines = (directory / f"rank{rank}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _cli(capsys, *argv) -> tuple:
    """``auzoo ARGV`` in this process: (exit code, stdout, stderr)."""
    from auzoo.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Subprocesses run with one thread (cli_env); so does this process, so
    that runs in either are bit-for-bit comparable."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(tiny_cache, tmp_path_factory):
    """One uninterrupted single-process run (`auzoo train`, in this process)
    that records its batches."""
    from auzoo.cli import main

    base = tmp_path_factory.mktemp("reference")
    config = _config(base / "cfg", record=base / "batches")
    assert main([str(a) for a in _train_cmd(config, tiny_cache, base / "run")[3:]]) == 0
    return dict(work_dir=base / "run", batches=base / "batches",
                result=RunResult.read(base / "run" / "result.json"))


def test_result_and_checkpoint_say_what_they_are(reference, tiny_cache):
    from auzoo.data import open_cache
    from auzoo.engine.checkpoint import build_from_checkpoint, load_checkpoint

    result = reference["result"]
    prov, training = result.provenance, result.training
    train_subjects, test_subjects = open_cache(tiny_cache).fold_subjects(1)
    assert prov.train_subjects == list(train_subjects)
    assert prov.test_subjects == list(test_subjects)
    assert prov.dataset == "disfa"
    assert training.iters == EPOCHS * 3 and training.epochs == EPOCHS
    assert 1 <= training.best_epoch <= EPOCHS
    assert prov.select_on == "test" and prov.bad_frames == "drop"
    assert set(prov.versions) >= {"auzoo", "torch", "timm", "mmengine"}
    assert prov.precision["eval"] == "fp32" and prov.precision["train"] == "fp32"
    assert prov.backbone_init["weights"] == "random"
    assert prov.schedule["optim_wrapper"]["optimizer"]["lr"] == 0.05
    assert prov.schedule["early_stopping"]["begin"] == 0
    assert result.scores.f1_mean == pytest.approx(np.mean(list(result.scores.f1.values())))
    assert set(result.scores.per_subject_f1) == set(test_subjects)

    ckpt = reference["work_dir"] / "best.pth"
    plain = torch.load(ckpt, weights_only=True)  # no allow-list needed
    meta, state = load_checkpoint(ckpt)
    assert meta["model"] == "tiny" and meta["fold"] == 1 and meta["img_size"] == 48
    assert meta["train_subjects"] == list(train_subjects)
    assert meta["aus"] == [1, 2, 4, 6, 9, 12, 25, 26]
    assert meta["best"]["epoch"] == training.best_epoch
    assert set(plain["state_dict"]) == set(state)
    # resume state is removed once the run is finished
    assert not list(reference["work_dir"].glob("epoch_*.pth"))

    model = build_from_checkpoint(ckpt)
    x = torch.rand(2, 3, 48, 48)
    assert model(x).shape == (2, 8)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_checkpoint_mismatch_is_named(reference, tmp_path):
    from auzoo.engine.checkpoint import CheckpointError, build_from_checkpoint, load_checkpoint

    ckpt = reference["work_dir"] / "best.pth"
    other = TINY_CONFIG.replace("aus=(1, 2, 4, 6, 9, 12, 25, 26)", "aus=(1, 2, 4, 6, 9, 12, 25)")
    (tmp_path / "seven.py").write_text(other)
    with pytest.raises(CheckpointError, match=r"best\.pth.*AUs"):
        build_from_checkpoint(ckpt, model=str(tmp_path / "seven.py"))
    wider = TINY_CONFIG.replace("hidden=16", "hidden=32")
    (tmp_path / "wider.py").write_text(wider)
    with pytest.raises(CheckpointError, match=r"best\.pth.*does not fit"):
        build_from_checkpoint(ckpt, model=str(tmp_path / "wider.py"))
    junk = tmp_path / "junk.pth"
    torch.save({"state_dict": {}, "meta": {"format": "auzoo-checkpoint"}, "x": object()}, junk)
    with pytest.raises(CheckpointError, match="junk.pth"):
        load_checkpoint(junk)


def test_eval_scores_its_fold_and_refuses_another(reference, tiny_cache, tmp_path, capsys):
    ckpt = reference["work_dir"] / "best.pth"
    out = tmp_path / "scores.csv"
    code, stdout, _ = _cli(capsys, "eval", "--data", tiny_cache, "--fold", "1", "--weights", ckpt,
                           "--device", "cpu", "--out", out)
    assert code == 0 and "F1" in stdout
    import pandas as pd
    scores = pd.read_csv(out).set_index("AU")
    assert scores.loc["mean", "f1"] == pytest.approx(reference["result"].scores.f1_mean, abs=1e-6)

    code, _, stderr = _cli(capsys, "eval", "--data", tiny_cache, "--fold", "2", "--weights", ckpt,
                           "--device", "cpu")
    assert code == 2
    assert "best.pth" in stderr and "refusing to score fold 2" in stderr
    assert "SN006" in stderr  # a part2 subject that fold 1 trained on


def test_resume_after_kill_matches_uninterrupted_run(reference, tiny_cache, tmp_path, capsys):
    held = tmp_path / "held"
    config = _config(tmp_path / "cfg", hold=held)
    work_dir = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(config, tiny_cache, work_dir), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not held.exists():  # the run waits there, after epoch 1 is saved
        assert proc.poll() is None, proc.stdout.read()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (work_dir / "result.json").exists(), "the run finished before it could be killed"
    saved = Path((work_dir / "last_checkpoint").read_text().strip())
    assert saved.name.startswith("epoch_") and int(saved.stem.split("_")[1]) < EPOCHS

    # mmengine's checkpoint needs the allow-list, and nothing more
    from auzoo.engine.checkpoint import mmengine_safe_globals
    with pytest.raises(Exception, match="HistoryBuffer|Unsupported global|weights_only"):
        torch.load(saved, weights_only=True)
    with mmengine_safe_globals():
        mm = torch.load(saved, weights_only=True)
    assert mm["meta"]["epoch"] < EPOCHS and "early_stopping" in mm["meta"]

    resume = _train_cmd(config, tiny_cache, work_dir, "--resume")[3:]
    code, stdout, _ = _cli(capsys, *resume)
    assert code == 0 and "resumed after epoch" in stdout
    resumed = RunResult.read(work_dir / "result.json")
    ref = reference["result"]
    assert resumed.training.iters == ref.training.iters
    assert resumed.training.epochs == ref.training.epochs
    assert resumed.training.best_epoch == ref.training.best_epoch
    assert resumed.scores.f1 == pytest.approx(ref.scores.f1, abs=1e-9)
    assert resumed.scores.acc == pytest.approx(ref.scores.acc, abs=1e-9)

    # resuming a finished run changes nothing; other settings are refused
    before = (work_dir / "result.json").read_text()
    assert _cli(capsys, *resume)[0] == 0
    assert (work_dir / "result.json").read_text() == before
    code, _, stderr = _cli(capsys, *resume, "--batch-size", "4")
    assert code == 2 and "other settings" in stderr and "config_digest" in stderr


def test_allow_list_refuses_other_getattr():
    import io
    import pickle

    from mmengine.logging import HistoryBuffer

    from auzoo.engine.checkpoint import mmengine_safe_globals

    class Sneaky:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, "__init__"))

    buf = io.BytesIO()
    torch.save({"x": Sneaky()}, buf)
    buf.seek(0)
    with mmengine_safe_globals(), pytest.raises(pickle.UnpicklingError, match="refusing getattr"):
        torch.load(buf, weights_only=True)


def test_ddp_two_cpu_processes_split_every_batch(reference, tiny_cache, tmp_path):
    from auzoo.data.sampler import AUWeightedBatchSampler, labelled_frames

    record = tmp_path / "batches"
    config = _config(tmp_path / "cfg", record=record)
    cmd = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "auzoo.cli", "train", str(config), "--data", str(tiny_cache), "--fold", "1",
           "--work-dir", str(tmp_path / "run"), "--device", "cpu"]
    _run(cmd)
    result = RunResult.read(tmp_path / "run" / "result.json")
    assert result.provenance.world_size == 2
    assert result.training.iters == reference["result"].training.iters  # same steps as one process
    assert not (tmp_path / ".dist_test").exists() and not Path(".dist_test").exists()

    ranks = [_records(record, r) for r in (0, 1)]
    single = _records(reference["batches"], 0)
    assert len(ranks[0]) == len(ranks[1]) == len(single) == EPOCHS * 3
    for r0, r1, one in zip(*ranks, single):
        assert r0["epoch"] == r1["epoch"] == one["epoch"] and r0["iter"] == r1["iter"] == one["iter"]
        assert len(r0["index"]) == len(r1["index"]) == 4  # global batch 8 over two ranks
        # the ranks together load exactly the single-process global batch, each draw once
        assert r0["index"] + r1["index"] == one["index"]
    # and that batch is the sampler's draw for the epoch
    from auzoo.data import open_cache
    from auzoo.data.au_frames import AUFrames
    cache = open_cache(tiny_cache)
    frames = AUFrames(cache, cache.fold_subjects(1)[0], aus=cache.dataset.aus)
    sampler = AUWeightedBatchSampler(labelled_frames(frames.labels, frames.mask, seed=0),
                                     batch_size=8, iters_per_epoch=3, world_size=1, rank=0)
    for epoch in range(EPOCHS):
        drawn = [r0["index"] + r1["index"] for r0, r1 in zip(*ranks) if r0["epoch"] == epoch]
        assert drawn == sampler.global_batches(epoch).tolist()


def test_select_on_val_holds_out_training_subjects(tiny_cache, tmp_path, capsys):
    from auzoo.data import open_cache

    config = _config(tmp_path / "cfg")
    code, _, err = _cli(capsys, *_train_cmd(config, tiny_cache, tmp_path / "run")[3:],
                        "--select-on", "val", "--max-epochs", "2")
    assert code == 0, err
    result = RunResult.read(tmp_path / "run" / "result.json")
    prov = result.provenance
    train_all, test = open_cache(tiny_cache).fold_subjects(1)
    assert prov.select_on == "val" and len(prov.val_subjects) == 3
    assert sorted(prov.train_subjects + prov.val_subjects) == sorted(train_all)
    assert prov.test_subjects == list(test)
    assert set(result.scores.per_subject_f1) == set(test)  # scored on the test fold, not on val


def test_landmarks_reach_models_that_need_them_at_the_training_size(tiny_cache, tmp_path):
    """A model with requires_landmarks gets the aligned landmarks, scaled with
    the frames when --img-size differs from the cache's size (48 -> 32)."""
    from torch import nn

    from auzoo.engine.records import RunSpec
    from auzoo.engine.train import train
    from auzoo.registry import MODELS

    seen = []

    class LandmarkProbe(nn.Module):
        requires_landmarks = True

        def __init__(self, aus=(1, 2, 4, 6, 9, 12, 25, 26)):
            super().__init__()
            self.aus = tuple(aus)
            self.loss_groups = [tuple(range(len(aus)))]
            self.fc = nn.Linear(3 + 2, len(aus))

        def forward(self, images, landmarks=None):
            seen.append((tuple(images.shape), landmarks.detach().clone()))
            centre = torch.nan_to_num(landmarks, nan=16.0).mean(dim=1) / 32
            return self.fc(torch.cat([images.mean(dim=(2, 3)), centre], dim=1))

    MODELS.register_module("LandmarkProbe", module=LandmarkProbe, force=True)
    try:
        config = tmp_path / "probe.py"
        config.write_text(TINY_CONFIG + "model = dict(type='LandmarkProbe')\n"
                          "img_size = 32\ntrain_cfg = dict(max_epochs=1)\n"
                          "train_dataloader = dict(batch_size=8, sampler=dict(iters_per_epoch=2))\n")
        result = train(RunSpec(model=str(config), data=str(tiny_cache), fold=1,
                               work_dir=str(tmp_path / "run"), device="cpu"))
    finally:
        MODELS.unregister("LandmarkProbe")
    assert result.provenance.model == "probe" and result.provenance.img_size == 32
    shapes = {s for s, _ in seen}
    assert (8, 3, 32, 32) in shapes
    points = torch.cat([lm for _, lm in seen])
    assert points.shape[1:] == (66, 2)
    finite = points[torch.isfinite(points)]
    assert 0 <= finite.min() and finite.max() < 32  # in pixels of the 32-px input
    assert finite.max() > 20  # and not left at the cache's 48-px scale by accident either way


def test_eval_warns_when_the_data_differs(reference, tiny_cache, tmp_path, capsys):
    from auzoo.engine.checkpoint import load_checkpoint, save_checkpoint

    meta, state = load_checkpoint(reference["work_dir"] / "best.pth")
    meta["data_checksum"] = "0000000000000000"
    other = save_checkpoint(tmp_path / "other.pth", state, meta)
    with pytest.warns(RuntimeWarning, match="checksum"):
        code, _, _ = _cli(capsys, "eval", "--data", tiny_cache, "--fold", "1", "--weights", other,
                          "--device", "cpu")
    assert code == 0


def test_ctrl_c_says_how_to_resume_and_a_rerun_resumes(tiny_cache, tmp_path, capsys):
    held = tmp_path / "held"
    config = _config(tmp_path / "cfg", hold=held)
    work_dir = tmp_path / "run"
    # A run started from a shell without job control (CI, `cmd &`) inherits
    # SIGINT ignored, and Python keeps it so: start it as a terminal would.
    proc = subprocess.Popen(_train_cmd(config, tiny_cache, work_dir), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_from_a_terminal)
    deadline = time.time() + 240
    while not held.exists():  # the run waits there, after epoch 1 is saved
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "auzoo train: interrupted; run the same command again to resume after the last "
        "finished epoch (--force starts over)")
    assert not (work_dir / "result.json").exists()
    # while training: the latest epoch (to resume) and the best one's weights (to select)
    epochs = list(work_dir.glob("epoch_*.pth"))
    best = list(work_dir.glob("best_*.pth"))
    assert len(epochs) == 1 and len(best) == 1 and len(list(work_dir.glob("*.pth"))) == 2
    from auzoo.engine.checkpoint import mmengine_safe_globals
    with mmengine_safe_globals():
        assert "optimizer" in torch.load(epochs[0], weights_only=True)
        assert "optimizer" not in torch.load(best[0], weights_only=True)

    # the same command again (no --resume) resumes, then shows the finished run
    again = _train_cmd(config, tiny_cache, work_dir)[3:]
    code, stdout, _ = _cli(capsys, *again)
    assert code == 0 and "resumed after epoch" in stdout
    first = RunResult.read(work_dir / "result.json")
    assert first.training.epochs == EPOCHS
    code, _, stderr = _cli(capsys, *again)
    assert code == 0 and "this run finished already" in stderr and "--force" in stderr
    # --force starts over: no "resumed", a new result file
    code, stdout, _ = _cli(capsys, *again, "--force")
    assert code == 0 and "resumed" not in stdout
    assert RunResult.read(work_dir / "result.json").training.epochs == EPOCHS


def test_a_finished_cell_keeps_only_the_chosen_checkpoint(reference):
    """Resume needs the latest epoch (with the optimizer) and selection the
    best one while training; once finished only best.pth stays."""
    kept = sorted(p.name for p in reference["work_dir"].iterdir())
    assert [p for p in kept if p.endswith(".pth")] == ["best.pth"]
    assert "last_checkpoint" not in kept
