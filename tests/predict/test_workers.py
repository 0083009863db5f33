"""Face finding in several worker processes: same table, same order, whatever their number."""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

import auzoo
from auzoo.inference import pipeline

from .conftest import AUS, shifted, write_video


@pytest.fixture
def short_chunks(monkeypatch):
    """Videos cut into chunks of 4 used frames, so a 6-frame video is two units."""
    monkeypatch.setattr(pipeline, "CHUNK_MIN_FRAMES", 4)


def test_two_workers_give_the_table_of_one_process(photos, grace_video, two_face_video, tiny_ckpt,
                                                   tmp_path, short_chunks):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff not a jpeg")
    # 1 image + 2 chunks + 1 unreadable + 2 chunks: units alternate between the workers
    inputs = [photos["grace_hopper"], grace_video, broken, two_face_video]
    options = dict(weights=tiny_ckpt, batch_size=3, detect_every=2, detect_size=None,
                   progress=False)
    alone = auzoo.predict(inputs, workers=0, **options)
    shared = auzoo.predict(inputs, workers=2, **options)
    pd.testing.assert_frame_equal(shared, alone)
    assert shared.attrs["unreadable"] == alone.attrs["unreadable"] == [str(broken)]
    assert shared.attrs["workers"] == 2
    files = list(shared["file"])
    assert files == [str(photos["grace_hopper"])] + [str(grace_video)] * 6 + [str(broken)] \
        + [str(two_face_video)] * 10
    assert list(shared["frame"].iloc[1:7]) == list(range(6))


def test_chunks_join_into_the_tracks_of_one_pass(grace_video, two_face_video, tiny_ckpt,
                                                 monkeypatch):
    """A chunk starts on a detection frame, so cutting a video changes nothing:
    boxes, landmarks (hence probabilities) and face ids are those of one pass."""
    options = dict(weights=tiny_ckpt, detect_every=2, detect_size=None, progress=False,
                   workers=0)
    one_pass = auzoo.predict([grace_video, two_face_video], **options)
    monkeypatch.setattr(pipeline, "CHUNK_MIN_FRAMES", 2)  # a chunk every other frame
    cut = auzoo.predict([grace_video, two_face_video], **options)
    pd.testing.assert_frame_equal(cut, one_pass)
    two = cut[cut["file"] == str(two_face_video)]
    assert two.groupby("frame")["face_id"].apply(list).tolist() == [[0, 1]] * 5
    assert (two.loc[two["face_id"] == 0, "face_x"] < 512).all()  # the left face keeps id 0
    probs = [f"AU{au:02d}_prob" for au in AUS]
    assert cut[probs].notna().all().all()


def test_chunk_length_is_a_whole_number_of_detections():
    assert pipeline.chunk_length(10) % 10 == 0 and pipeline.chunk_length(10) >= 64
    assert pipeline.chunk_length(7) % 7 == 0 and pipeline.chunk_length(7) >= 64
    assert pipeline.chunk_length(100) == 100


def test_a_face_that_comes_back_in_a_later_chunk_gets_a_new_id(photos, tiny_ckpt, tmp_path,
                                                               monkeypatch):
    """Ids run on across chunks: a chunk's own tracker starts at 0, the table does not."""
    grace = cv2.imread(str(photos["grace_hopper"]))
    blank = np.full_like(grace, 90)
    frames = [shifted(grace, 4 * i, 0) for i in range(3)] + [blank] * 3 + \
             [shifted(grace, 4 * i, 0) for i in range(3)]
    video = write_video(tmp_path / "back.avi", frames)
    monkeypatch.setattr(pipeline, "CHUNK_MIN_FRAMES", 3)  # chunks: frames 0-2, 3-5, 6-8
    df = auzoo.predict(video, weights=tiny_ckpt, detect_every=3, progress=False, workers=0)
    assert df["face_id"].fillna(-1).tolist() == [0, 0, 0, -1, -1, -1, 1, 1, 1]


def test_face_stream_workers_start_under_spawn(photos, tiny_ckpt, tmp_path):
    """Beside a GPU the workers start from a fork server (a forked worker would inherit
    CUDA's state): everything they get must pickle, as under spawn."""
    import torch

    from auzoo.inference import Predictor, collect_sources

    predictor = Predictor(tiny_ckpt, device="cpu", workers=0)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG nope")
    sources, _ = collect_sources([photos["astronaut"], broken, photos["grace_hopper"]])
    stream = pipeline.FaceStream(predictor.faces, sources, [0, 1, 2])
    loader = torch.utils.data.DataLoader(stream, batch_size=None, collate_fn=pipeline.as_is,
                                         num_workers=2, multiprocessing_context="spawn")
    spawned = list(loader)
    inline = list(stream)
    assert [(u.source, u.chunk, u.error is None) for u in spawned] == \
        [(u.source, u.chunk, u.error is None) for u in inline] == [(0, 0, True), (1, 0, False),
                                                                    (2, 0, True)]
    for a, b in zip(spawned, inline):
        for ra, rb in zip(sum(a.frames, []), sum(b.frames, [])):
            np.testing.assert_array_equal(ra.aligned, rb.aligned)
            assert ra.face.box == rb.face.box
