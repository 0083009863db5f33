"""prepare_disfa and open_cache: the cache's content, flags, checksum and resuming."""
from __future__ import annotations

import json

import numpy as np
import pytest

from auzoo.data import open_cache
from auzoo.data.align import transform_points
from auzoo.data.datasets.disfa import protocol as disfa_facts
from auzoo.data.datasets.disfa import DISFA, DISFA_SUBJECTS
from auzoo.data.datasets.disfa import prepare as prep
from auzoo.data.prepare.frames_out import truncate_npy
from auzoo.data.prepare.writer import is_done
from auzoo.data.datasets.disfa.synth import subject_truth
from auzoo.data.synth import read_frame_code

from .conftest import FRAMES, HEIGHT, SEED, SIZE, WIDTH


def test_cache_layout_and_index(cache):
    assert cache.size == SIZE and cache.subjects == list(DISFA_SUBJECTS)
    idx = cache.index
    assert list(idx.columns) == list(prep.INDEX_COLUMNS)
    counts = idx.groupby("subject").size()
    for s in DISFA_SUBJECTS:
        assert counts[s] == (FRAMES - 1 if s in ("SN010", "SN012") else FRAMES), s
        sub = idx[idx.subject == s]
        np.testing.assert_array_equal(sub.frame, np.arange(len(sub)))
        assert cache.frames(s).shape == (len(sub), SIZE, SIZE, 3)
        assert cache.frames(s).dtype == np.uint8
        assert cache.landmarks(s).shape == (len(sub), 66, 2)
    assert cache.meta["synthetic"] is True
    assert len(cache.checksum) == 16


def test_labels_and_landmarks_match_the_source(cache):
    s = "SN031"
    t = subject_truth(s, FRAMES, SEED, WIDTH, HEIGHT)
    sub = cache.index[cache.index.subject == s]
    np.testing.assert_array_equal(sub[["au1", "au2", "au4", "au5", "au6", "au9", "au12", "au15",
                                       "au17", "au20", "au25", "au26"]].to_numpy(),
                                  t["labels"][:len(sub)])
    src = cache.source_landmarks(s)
    ok = sub.aligned.to_numpy()
    np.testing.assert_allclose(src[ok], t["landmarks"][:len(sub)][ok], atol=1e-3)
    # aligned landmarks are the source ones under the stored matrices
    m = cache.matrices(s)
    k = int(np.flatnonzero(ok)[5])
    np.testing.assert_allclose(cache.landmarks(s)[k], transform_points(src[k], m[k]), atol=1e-3)
    mid = (cache.landmarks(s)[ok][:, 27] + cache.landmarks(s)[ok][:, 30]) / 2
    np.testing.assert_allclose(mid, (SIZE - 1) / 2, atol=1e-3)


def test_missing_landmark_frames_are_flagged_and_left_black(cache):
    idx = cache.index
    flagged = idx[idx.landmarks_missing]
    assert sorted(zip(flagged.subject, flagged.frame)) == [("SN002", FRAMES // 3), ("SN031", FRAMES // 2)]
    assert (~flagged.aligned).all() and flagged.bad_landmarks.all()
    for s, k in zip(flagged.subject, flagged.frame):
        assert not cache.frames(s)[k].any()            # not aligned with another frame's points
        assert np.isnan(cache.landmarks(s)[k]).all()
        assert cache.frames(s)[k - 1].any()
    assert cache.meta["totals"]["landmarks_missing"] == 2
    assert cache.meta["subjects"]["SN031"]["landmark_numbering_starts_at"] == 1
    # Error_LOG ranges lie beyond the synthetic videos' length: nothing flagged.
    assert not idx.error_log.any()


def test_frames_are_rgb_and_in_frame_order(synth_root, cache):
    """Row k of the cache is decoded frame k: warp the frame-code strip back."""
    import cv2

    from auzoo.data.datasets.disfa.reader import DisfaRoot

    files = DisfaRoot(synth_root)["SN001"]
    for k, frame in enumerate(files.frames(limit=6)):   # RGB
        m = cache.matrices("SN001")[k].astype(np.float64)
        back = cv2.warpAffine(cache.frames("SN001")[k], m, (WIDTH, HEIGHT),
                              flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)
        # compare the face region: same image, same channel order
        face = cache.source_landmarks("SN001")[k]
        x0, y0 = face.min(0).astype(int) + 4
        x1, y1 = face.max(0).astype(int) - 4
        diff = np.abs(back[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1].astype(int)).mean()
        swapped = np.abs(back[y0:y1, x0:x1, ::-1].astype(int) - frame[y0:y1, x0:x1].astype(int)).mean()
        assert diff < 8 and diff < swapped / 2, (k, diff, swapped)
        assert read_frame_code(frame) == k


def test_checksum_is_reproducible_and_reported(cache, synth_root, tmp_path):
    meta = prep.prepare_disfa(synth_root, tmp_path / "again", subjects=None, size=48)
    assert meta["checksum"] == cache.checksum      # digest of labels + landmarks, not of images
    assert any("DIFFER" in line and "synthetic" in line for line in meta["label_checks"])


def test_label_checks_against_the_published_counts():
    records = {}
    for s in DISFA_SUBJECTS:
        records[s] = {"label_lines": disfa_facts.FULL_LABEL_LINES[s],
                      "positives_all_lines": {au: 0 for au in disfa_facts.PUBLISHED_POSITIVES}}
    for au, v in disfa_facts.PUBLISHED_POSITIVES.items():
        records["SN003"]["positives_all_lines"][au] = v
    records["SN001"]["positives_all_lines"].update(au1=0, au12=408, au25=249, au26=186)
    records["SN003"]["positives_all_lines"].update(
        {au: v - records["SN001"]["positives_all_lines"][au] for au, v in disfa_facts.PUBLISHED_POSITIVES.items()})
    records["SN029"]["positives_all_lines"]["au2"] = 1949
    records["SN003"]["positives_all_lines"]["au2"] -= 1949
    lines = DISFA.label_checks(records, synthetic=False)
    assert lines[0].startswith("label totals (frames >= 2) match")
    assert "SN001 spot check matches" in lines[1] and "SN029 spot check matches" in lines[2]
    records["SN029"]["positives_all_lines"]["au2"] = 1948
    lines = DISFA.label_checks(records, synthetic=False)
    assert "DIFFER" in lines[0] and "au2 5,643 vs 5,644" in lines[0]
    assert "SN029 spot check DIFFERS" in lines[2] and "synthetic" not in lines[2]
    partial = {s: records[s] for s in DISFA_SUBJECTS[:5]}
    assert "5 of DISFA's 27" in DISFA.label_checks(partial, synthetic=True)[0]


def test_resume_after_an_interruption(synth_root, tmp_path, monkeypatch):
    out = tmp_path / "cache"
    subjects = ["SN001", "SN002", "SN003"]
    real = prep.prepare_subject
    calls = []

    def failing(files, *a, **k):
        calls.append(files.subject)
        if files.subject == "SN002":
            raise RuntimeError("worker died")
        return real(files, *a, **k)

    monkeypatch.setattr(prep, "prepare_subject", failing)
    with pytest.raises(ValueError, match="SN002: worker died.*rerun"):
        prep.prepare_disfa(synth_root, out, subjects=subjects, size=48)
    assert calls == subjects                                   # the others went on
    assert is_done(out, "SN001") and is_done(out, "SN003")
    assert not is_done(out, "SN002")
    stamp = (out / "subjects" / "SN001" / "done.json").stat().st_mtime_ns
    # What a process killed mid-subject leaves: a temp folder, or a folder without done.json.
    (out / "subjects" / ".SN002.tmp-99999").mkdir()
    (out / "subjects" / ".SN002.tmp-99999" / "frames.npy").write_bytes(b"partial")
    (out / "subjects" / "SN003" / "done.json").unlink()
    with pytest.raises(FileNotFoundError, match="not a finished auzoo cache"):
        open_cache(out)

    calls.clear()
    monkeypatch.setattr(prep, "prepare_subject", lambda files, *a, **k: calls.append(files.subject)
                        or real(files, *a, **k))
    assert prep.prepare_disfa(synth_root, out, subjects=subjects, size=48) == {}   # not all subjects
    assert calls == ["SN002", "SN003"]                         # SN001 not redone
    assert (out / "subjects" / "SN001" / "done.json").stat().st_mtime_ns == stamp
    assert not list((out / "subjects").glob(".*tmp*"))
    for s in subjects:
        record = json.loads((out / "subjects" / s / "done.json").read_text())
        assert record["frames"] == FRAMES and np.load(out / "subjects" / s / "frames.npy",
                                                      mmap_mode="r").shape[0] == FRAMES


def test_workers_in_parallel_match_one_worker(synth_root, tmp_path):
    subjects = ["SN010", "SN012"]
    a = prep.prepare_disfa(synth_root, tmp_path / "a", subjects=subjects, size=40, workers=1)
    b = prep.prepare_disfa(synth_root, tmp_path / "b", subjects=subjects, size=40, workers=2)
    assert a == b == {}
    for s in subjects:
        fa = np.load(tmp_path / "a" / "subjects" / s / "frames.npy")
        fb = np.load(tmp_path / "b" / "subjects" / s / "frames.npy")
        assert fa.shape == (FRAMES - 1, 40, 40, 3)      # SN010: short labels; SN012: short video
        np.testing.assert_array_equal(fa, fb)


def test_settings_of_an_existing_cache_are_kept(synth_root, cache_dir):
    with pytest.raises(ValueError, match="size=112, not 64"):
        prep.prepare_disfa(synth_root, cache_dir, size=64)
    with pytest.raises(ValueError, match="camera='left', not 'right'"):
        prep.prepare_disfa(synth_root, cache_dir, camera="right")


def test_open_cache_refuses_what_is_not_a_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a finished auzoo cache.*auzoo prepare disfa"):
        open_cache(tmp_path)


def test_truncate_npy_keeps_the_first_rows(tmp_path):
    path = tmp_path / "a.npy"
    data = np.arange(10 * 4 * 3, dtype=np.uint8).reshape(10, 4, 3)
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(10, 4, 3))
    mm[:] = data
    del mm
    truncate_npy(path, 7)
    np.testing.assert_array_equal(np.load(path), data[:7])
    assert path.stat().st_size == 128 + 7 * 12


def test_an_older_cache_is_refused_with_the_command_that_rebuilds_it(cache_dir, synth_root,
                                                                     tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(cache_dir, old)
    meta = json.loads((old / "meta.json").read_text())
    for fmt, version in (("auzoo-disfa-cache", 1), ("auzoo-cache", 2)):
        meta.update(format=fmt, version=version)
        (old / "meta.json").write_text(json.dumps(meta))
        with pytest.raises(ValueError) as err:
            open_cache(old)
        msg = str(err.value)
        assert f"{fmt} v{version} cache, this auzoo reads v3" in msg and "loose crops" in msg
        assert msg.endswith(f"Rebuild it with: auzoo prepare disfa {synth_root.resolve()} "
                            f"--out {old}-v3")
    meta["version"] = 7
    (old / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="written by a newer auzoo"):
        open_cache(old)
    meta["format"] = "something-else"
    (old / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="not an auzoo cache"):
        open_cache(old)


def test_the_reader_does_not_import_the_writer():
    import subprocess
    import sys

    code = ("import sys, auzoo.data.cache, auzoo.data.au_frames; "
            "print(sorted(m for m in sys.modules if m.startswith('auzoo.data.prepare')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
