"""``auzoo predict`` end to end on real photos and videos made from them."""
from __future__ import annotations

import hashlib
import logging
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import auzoo
from auzoo import cli
from auzoo.engine.checkpoint import CheckpointError
from auzoo.engine.inference import Inference
from auzoo.inference import FRAME_COLUMNS, prediction_columns, default_workers, predict_cli

from .conftest import AUS, FPS, LandmarkProbe, tiny_config

EXPECTED_COLUMNS = (
    ["file", "frame", "timestamp", "face_id", "success", "face_x", "face_y", "face_w", "face_h",
     "confidence"]
    + [f"AU{au:02d}_prob" for au in AUS] + [f"AU{au:02d}_c" for au in AUS])


def _digest(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_column_names_are_the_documented_ones():
    assert list(FRAME_COLUMNS) + prediction_columns(AUS) == EXPECTED_COLUMNS
    assert prediction_columns((1, 26))[0] == "AU01_prob" and prediction_columns((1, 26))[-1] == "AU26_c"


def test_photos_one_face_each_aligned_like_disfa(photos, probe_ckpt):
    LandmarkProbe.seen.clear()
    df = auzoo.predict([photos["grace_hopper"], photos["astronaut"]], weights=probe_ckpt,
                       progress=False)
    assert list(df.columns) == EXPECTED_COLUMNS
    assert list(df["file"]) == [str(photos["grace_hopper"]), str(photos["astronaut"])]
    assert (df["success"] == 1).all() and (df["face_id"] == 0).all() and (df["frame"] == 0).all()
    assert df["timestamp"].isna().all()  # still images have no time
    # the faces are where they are in the photos (dlib's boxes)
    assert df.loc[0, "face_x"] == pytest.approx(161, abs=10) and df.loc[0, "face_w"] > 150
    assert df.loc[1, "face_x"] == pytest.approx(179, abs=10) and df.loc[1, "face_w"] > 60
    # the model got 112 px aligned faces and their 66 landmarks, nose midpoint at the centre
    images = np.concatenate([im for im, _ in LandmarkProbe.seen])
    points = np.concatenate([lm for _, lm in LandmarkProbe.seen]).astype(np.float64)
    assert images.shape == (2, 3, 112, 112) and 0 <= images.min() and images.max() <= 1
    nose_mid = (points[:, 27] + points[:, 30]) / 2
    assert np.abs(nose_mid - 111 / 2).max() <= 3.0
    # chin below, brows above: the face is upright, within the image
    assert (points[:, 8, 1] > nose_mid[:, 1] + 20).all() and (points[:, 19, 1] < nose_mid[:, 1]).all()
    assert ((points > -1) & (points < 112)).all()
    # the aligned image is the face: the face region is brighter-textured than the black border
    assert images[:, :, 40:70, 40:70].std() > 0.03
    # probabilities are the sigmoid of the model, presence is prob >= 0.5
    probs = df[[f"AU{au:02d}_prob" for au in AUS]].to_numpy()
    present = df[[f"AU{au:02d}_c" for au in AUS]].to_numpy(dtype=float)
    assert ((probs > 0) & (probs < 1)).all()
    np.testing.assert_array_equal(present, (probs >= 0.5).astype(float))


def test_video_frames_timestamps_and_stable_face_id(grace_video, tiny_ckpt):
    df = auzoo.predict(grace_video, weights=tiny_ckpt, batch_size=4, progress=False,
                       detect_every=3, workers=1)  # faces found in a worker process
    assert list(df["frame"]) == list(range(6))
    np.testing.assert_allclose(df["timestamp"], df["frame"].to_numpy(float) / FPS, atol=1e-6)
    assert (df["success"] == 1).all()
    assert df["face_id"].nunique() == 1
    # the box stays on the face (first box + the shift), detected or tracked; dlib's HOG
    # boxes move in steps of its cell size at the face's pyramid level (~20 px here)
    frame = df["frame"].to_numpy(float)
    assert np.abs(df["face_x"] - (df["face_x"][0] + 3 * frame)).max() <= 20
    assert np.abs(df["face_y"] - (df["face_y"][0] + 2 * frame)).max() <= 20
    # every other frame: frame numbers and times stay the video's
    sub = auzoo.predict(grace_video, weights=tiny_ckpt, every=2, progress=False)
    assert list(sub["frame"]) == [0, 2, 4]
    np.testing.assert_allclose(sub["timestamp"], [0.0, 0.2, 0.4], atol=1e-6)
    # everything in one process gives the same table
    inline = auzoo.predict(grace_video, weights=tiny_ckpt, batch_size=4, progress=False,
                           detect_every=3, workers=0)
    pd.testing.assert_frame_equal(inline, df)
    # same frames give the same probabilities whatever the batching
    full = df.set_index("frame").loc[[0, 2, 4]]
    np.testing.assert_allclose(sub[prediction_columns(AUS)[:len(AUS)]].to_numpy(),
                               full[prediction_columns(AUS)[:len(AUS)]].to_numpy(), atol=1e-3)


def test_faces_are_scored_in_the_requested_batch_size(grace_video, probe_ckpt):
    # the video's 6 faces arrive in one chunk; the model must still see batches of 4 then 2
    LandmarkProbe.seen.clear()
    df = auzoo.predict(grace_video, weights=probe_ckpt, batch_size=4, progress=False,
                       detect_every=3, workers=0)
    assert (df["success"] == 1).sum() == 6
    assert [len(images) for images, _ in LandmarkProbe.seen] == [4, 2]


def test_two_faces_keep_their_ids(two_face_video, tiny_ckpt):
    df = auzoo.predict(two_face_video, weights=tiny_ckpt, progress=False, detect_every=2,
                       detect_size=None)
    assert (df.groupby("frame").size() == 2).all()
    assert sorted(df["face_id"].unique()) == [0, 1]
    for face_id, rows in df.groupby("face_id"):
        # one face stays left (the astronaut, x < 512), the other right, in every frame
        left = (rows["face_x"] < 512).to_numpy()
        assert left.all() or not left.any()
    left_id = df.loc[df["face_x"] < 512, "face_id"].iloc[0]
    assert left_id == 0  # ids are given left to right


def run_cli(argv):
    """``auzoo predict ARGV``: auzoo's own parser, then the predict command."""
    args = cli.build_parser().parse_args(["predict", *map(str, argv)])
    try:
        return predict_cli(args)
    except ValueError as exc:  # what auzoo.cli.main turns into exit status 2
        print(f"auzoo predict: error: {exc}", file=__import__("sys").stderr)
        return 2


def test_cli_writes_csv_and_provenance(photos, grace_video, tiny_ckpt, tmp_path, capsys):
    out = tmp_path / "aus.csv"
    inputs = [photos["grace_hopper"], grace_video]
    before = _digest(inputs + [tiny_ckpt])
    assert run_cli([*inputs, "--weights", tiny_ckpt, "--out", out, "--batch-size", "3"]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == EXPECTED_COLUMNS
    assert len(table) == 7 and list(table["frame"]) == [0] + list(range(6))
    meta = __import__("json").loads((tmp_path / "aus.csv.json").read_text())
    assert meta["model"] == "tiny" and meta["aus"] == list(AUS) and meta["faces_scored"] == 7
    assert "torch" in meta["versions"] and meta["device"].startswith("cpu")
    assert not list(tmp_path.glob("*.partial*"))
    assert _digest(inputs + [tiny_ckpt]) == before  # nothing the user gave was touched
    # an existing output is not replaced without --force
    assert run_cli([photos["astronaut"], "--weights", tiny_ckpt, "--out", out]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"auzoo predict: error: {out} exists; pass --force to replace it")  # the CLI's words
    with pytest.raises(ValueError, match="exists; pass overwrite=True to replace it"):
        auzoo.predict(photos["astronaut"], weights=tiny_ckpt, out=out, progress=False)
    # without --out the table goes to stdout
    assert run_cli([photos["astronaut"], "--weights", tiny_ckpt]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split(",") == EXPECTED_COLUMNS and len(printed) == 2


def test_folder_with_junk_a_faceless_image_and_a_broken_one(photos, tiny_ckpt, tmp_path, caplog):
    folder = tmp_path / "shots"
    folder.mkdir()
    shutil.copy(photos["grace_hopper"], folder / "b_grace.jpg")
    shutil.copy(photos["astronaut"], folder / "a_astronaut.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "c_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    import cv2

    cv2.imwrite(str(folder / "d_wall.png"), np.full((96, 128, 3), 128, np.uint8))
    (folder / "sub").mkdir()
    before = _digest([p for p in folder.iterdir() if p.is_file()])
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        df = auzoo.predict(folder, weights=tiny_ckpt, progress=False)
    # the broken file is reported once, as a log record, not again as a UserWarning
    reports = [r for r in caplog.records if "c_broken.jpg" in r.getMessage()]
    assert len(reports) == 1 and reports[0].levelno == logging.WARNING
    assert "not a readable image" in reports[0].getMessage()
    assert not [w for w in caught if "c_broken" in str(w.message)]
    assert [p.split("/")[-1] for p in df["file"]] == [
        "a_astronaut.png", "b_grace.jpg", "c_broken.jpg", "d_wall.png"]
    assert list(df["success"]) == [1, 1, 0, 0]
    broken, wall = df.iloc[2], df.iloc[3]
    assert pd.isna(broken["frame"]) and wall["frame"] == 0  # unreadable file vs no face
    for row in (broken, wall):
        assert pd.isna(row["face_id"]) and np.isnan(row["face_x"]) and np.isnan(row["AU01_prob"])
        assert pd.isna(row["AU01_c"])
    assert sorted(p.split("/")[-1] for p in df.attrs["skipped"]) == ["notes.txt", "sub"]
    assert [p.split("/")[-1] for p in df.attrs["unreadable"]] == ["c_broken.jpg"]
    assert _digest([p for p in folder.iterdir() if p.is_file()]) == before


def test_bad_inputs_are_named(tmp_path, tiny_ckpt, photos):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("x")
    with pytest.raises(ValueError, match="empty: no images or videos"):
        auzoo.predict(empty, weights=tiny_ckpt, progress=False)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        auzoo.predict(broken, weights=tiny_ckpt, progress=False)
    video = tmp_path / "clip.mp4"
    video.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="clip.mp4: not a readable video"):
        auzoo.predict(video, weights=tiny_ckpt, progress=False)
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        auzoo.predict(tmp_path / "nowhere.jpg", weights=tiny_ckpt, progress=False)
    odd = tmp_path / "data.xyz"
    odd.write_text("1,2,3")
    with pytest.raises(ValueError, match="data.xyz: not an image or a video"):
        auzoo.predict(odd, weights=tiny_ckpt, progress=False)
    # a broken video among other inputs is reported and skipped, the rest goes on
    df = auzoo.predict([video, photos["astronaut"]], weights=tiny_ckpt, progress=False)
    assert list(df["success"]) == [0, 1]
    assert df.attrs["unreadable"] == [str(video)]


def test_checkpoint_for_another_model_is_refused(tmp_path, tiny_ckpt, photos):
    other = tiny_config(aus=(1, 2, 4, 6, 12, 15, 17, 25))
    with pytest.raises(CheckpointError, match="tiny.pth.*AUs"):
        auzoo.predict(photos["astronaut"], model=other, weights=tiny_ckpt, progress=False)
    wider = tiny_config()
    wider.model.head.hidden = 32
    with pytest.raises(CheckpointError, match="tiny.pth.*does not fit"):
        auzoo.predict(photos["astronaut"], model=wider, weights=tiny_ckpt, progress=False)
    plain = tmp_path / "plain.pth"
    __import__("torch").save({"w": __import__("torch").zeros(1)}, plain)
    with pytest.raises(CheckpointError, match="plain.pth"):
        auzoo.predict(photos["astronaut"], weights=plain, progress=False)


def test_interrupted_run_resumes_without_redoing_finished_files(photos, grace_video, tiny_ckpt,
                                                                 tmp_path, monkeypatch):
    out = tmp_path / "aus.csv"
    inputs = [photos["astronaut"], photos["grace_hopper"], grace_video]
    calls = []
    real_call = Inference.probabilities

    def interrupted(self, faces, landmarks=None):
        calls.append(len(faces))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_call(self, faces, landmarks)

    monkeypatch.setattr(Inference, "probabilities", interrupted)
    with pytest.raises(KeyboardInterrupt):
        auzoo.predict(inputs, weights=tiny_ckpt, batch_size=1, out=out, progress=False)
    assert not out.exists() and (tmp_path / "aus.csv.partial").exists()

    calls.clear()
    monkeypatch.setattr(Inference, "probabilities",
                        lambda self, f, l=None: (calls.append(len(f)), real_call(self, f, l))[1])
    df = auzoo.predict(inputs, weights=tiny_ckpt, batch_size=1, out=out, progress=False)
    assert sum(calls) == 6  # only the video's 6 frames were scored again
    assert list(df["file"]) == [str(p) for p in inputs[:2]] + [str(grace_video)] * 6
    assert (df["success"] == 1).all() and list(df.columns) == EXPECTED_COLUMNS
    fresh = auzoo.predict(inputs, weights=tiny_ckpt, progress=False)
    probs = prediction_columns(AUS)[:len(AUS)]
    np.testing.assert_allclose(df[probs].to_numpy(), fresh[probs].to_numpy(), atol=1e-5)
    assert pd.read_csv(out).shape == df.shape
    assert not (tmp_path / "aus.csv.partial").exists()


def test_workers_where_there_are_cores(monkeypatch):
    import torch

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)))
    assert default_workers(torch.device("cuda")) == 15  # a 16-core GPU machine: not capped at one
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert default_workers(torch.device("cuda")) == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert default_workers(torch.device("cpu")) == 0  # the model's threads fill the cores
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert default_workers(torch.device("cpu")) == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert default_workers(torch.device("cpu")) == 4


def test_cli_names_each_unreadable_input_once(photos, tiny_ckpt, tmp_path, capsys):
    broken = tmp_path / "broken_clip.mp4"
    broken.write_bytes(np.random.default_rng(1).bytes(4096))
    out = tmp_path / "aus.csv"
    assert run_cli([broken, photos["astronaut"], "--weights", tiny_ckpt, "--out", out]) == 0
    err = capsys.readouterr().err
    assert err.count("broken_clip.mp4") == 1, err
    assert "not a readable video" in err and "UserWarning" not in err
    assert "1 unreadable files" in err


def test_auzoo_predict_stays_a_plain_function():
    import importlib
    import inspect

    importlib.import_module("auzoo.inference")
    assert inspect.isfunction(auzoo.predict)
    assert auzoo.predict.__module__ == "auzoo"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("auzoo.predict")


def test_faces_are_scored_in_the_precision_eval_uses(tiny_ckpt, photos):
    import torch
    from mmengine.config import Config

    from auzoo.inference import Predictor
    from auzoo.inference.predictor import eval_precision

    class Net:
        cfg = Config(dict(precision=dict(train="bf16", eval="bf16")))

    assert eval_precision(Net(), torch.device("cuda")) == "bf16"   # the config's, on a GPU
    assert eval_precision(Net(), torch.device("cpu")) == "fp32"    # a CPU scores in fp32
    assert eval_precision(object(), torch.device("cuda")) == "fp32"
    assert Predictor(tiny_ckpt, device="cpu", workers=0).inference.precision == "fp32"
    chosen = Predictor(tiny_ckpt, device="cpu", workers=0, precision="bf16")
    assert chosen.inference.precision == "bf16" and chosen.settings["precision"] == "bf16"
    df = chosen(photos["astronaut"], progress=False)
    assert df.attrs["settings"]["precision"] == "bf16" and (df["success"] == 1).all()


def test_openface_format_writes_openface_columns_order_and_conventions(grace_video, photos,
                                                                       tiny_ckpt, tmp_path):
    from auzoo.inference.table import openface_confidence

    out = tmp_path / "clip_openface.csv"
    assert run_cli([grace_video, "--weights", tiny_ckpt, "--out", out, "--format", "openface"]) == 0
    header = out.read_text().splitlines()[0]
    assert header == ", ".join(["frame", "face_id", "timestamp", "confidence", "success"]
                               + [f"AU{au:02d}_c" for au in sorted(AUS)])  # no _r: no intensities
    openface = pd.read_csv(out, skipinitialspace=True)
    native = auzoo.predict(grace_video, weights=tiny_ckpt, progress=False)
    assert list(openface["frame"]) == [f + 1 for f in native["frame"]] == [1, 2, 3, 4, 5, 6]
    assert list(openface["face_id"]) == [0] * 6 and list(openface["success"]) == [1] * 6
    assert np.allclose(openface["timestamp"], native["timestamp"], atol=1e-3)
    assert openface["confidence"].between(0, 1).all()
    assert np.allclose(openface["confidence"], openface_confidence(native["confidence"]), atol=0.01)
    for au in AUS:
        assert list(openface[f"AU{au:02d}_c"]) == list(native[f"AU{au:02d}_c"])
    # several inputs: the file each row came from is the last column; a still image is frame 1
    both = tmp_path / "both.csv"
    assert run_cli([photos["grace_hopper"], grace_video, "--weights", tiny_ckpt, "--out", both,
                    "--format", "openface"]) == 0
    table = pd.read_csv(both, skipinitialspace=True)
    assert list(table.columns)[-1] == "file" and list(table["frame"])[:2] == [1, 1]
    assert table["timestamp"].iloc[0] == 0.0


def test_openface_confidence_and_intensity_columns():
    from auzoo.inference.table import openface_confidence, openface_table

    assert openface_confidence(0.0) == 0.5
    assert openface_confidence(0.7) == pytest.approx(0.80, abs=0.01)
    assert openface_confidence(1.3) > 0.9 and openface_confidence(-1) < 0.2
    native = pd.DataFrame({
        "file": ["a.mp4", "a.mp4"], "frame": pd.array([0, 1], dtype="Int64"),
        "timestamp": [0.0, 0.1], "face_id": pd.array([0, None], dtype="Int64"),
        "success": [1, 0], "confidence": [1.5, np.nan],
        "AU12_prob": [0.9, np.nan], "AU02_prob": [0.1, np.nan],
        "AU12_r": [2.5, np.nan], "AU02_r": [0.3, np.nan],   # a model with intensities
        "AU12_c": pd.array([1, None], dtype="Int8"), "AU02_c": pd.array([0, None], dtype="Int8")})
    table = openface_table(native)
    assert list(table.columns) == ["frame", "face_id", "timestamp", "confidence", "success",
                                   "AU02_r", "AU12_r", "AU02_c", "AU12_c"]
    assert table.iloc[1].tolist() == [2, 0, 0.1, 0.0, 0, 0.0, 0.0, 0, 0]  # no face: zeros
    assert table["AU12_r"].iloc[0] == 2.5 and table["AU12_c"].iloc[0] == 1
