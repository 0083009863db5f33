"""docs/data.md, "Adding a dataset", followed step by step for a toy dataset.

The toy dataset is a package written into a temporary folder, as a plugin
would ship it: ``protocol.py`` (registered in PROTOCOLS, naming its writers),
``reader.py`` (its layout: one folder of PNGs per subject, a labels CSV and
a landmarks array), ``prepare.py`` (a Source for the shared cache writer)
and ``synth.py`` (drawn faces in that layout). Then, as the guide says:
``auzoo synth``, ``auzoo prepare``, ``open_cache``, one tiny training run,
``auzoo eval`` — with nothing of auzoo changed.
"""
from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from auzoo.engine.records import RunSpec

TOY = {
    "__init__.py": '''
        """A toy AU dataset: importing it registers its protocol."""
        from toyau.protocol import AUS, SUBJECTS, ToyDataset  # noqa: F401
        ''',
    "protocol.py": '''
        from auzoo.data.datasets.base import AUDataset
        from auzoo.registry import PROTOCOLS

        SUBJECTS = ("T01", "T02", "T03", "T04")
        AUS = (1, 2, 6, 12, 25)


        @PROTOCOLS.register_module(name="toyau")
        class ToyDataset(AUDataset):
            name = "toyau"
            aus = AUS
            coded_aus = AUS
            threshold = 2
            max_value = 5
            value_name = "intensity"
            parts = {"a": ("T01", "T02"), "b": ("T03", "T04")}
            fold_parts = {1: (("a",), ("b",)), 2: (("b",), ("a",))}
            reference = "two folds of two subjects"
            prepare_with = ".prepare:prepare_toy"
            synth_with = ".synth:synth_toy"
        ''',
    "reader.py": '''
        from pathlib import Path

        import cv2
        import numpy as np

        from toyau.protocol import AUS

        HEADER = ["frame", *(f"au{a}" for a in AUS)]


        class ToyRoot:
            """ROOT/<subject>/{0000.png ..., labels.csv, landmarks.npy}."""

            def __init__(self, root):
                self.root = Path(root)
                if not self.root.is_dir():
                    raise FileNotFoundError(f"toy root {self.root} is not a folder")
                self.subjects = sorted(p.name for p in self.root.iterdir() if p.is_dir())

            def labels(self, subject):
                path = self.root / subject / "labels.csv"
                lines = path.read_text().splitlines()
                if lines[0].split(",") != HEADER:
                    raise ValueError(f"{path}, line 1: expected {','.join(HEADER)}")
                return np.array([[int(v) for v in line.split(",")[1:]] for line in lines[1:]],
                                dtype=np.uint8)

            def landmarks(self, subject):
                return np.load(self.root / subject / "landmarks.npy", allow_pickle=False)

            def image(self, subject, frame):
                return cv2.imread(str(self.root / subject / f"{frame:04d}.png"), cv2.IMREAD_COLOR)
        ''',
    "prepare.py": '''
        from dataclasses import dataclass
        from pathlib import Path

        import numpy as np
        import pandas as pd

        from auzoo.data.align import LOOSE_SIZE
        from auzoo.data.cache_format import label_column
        from auzoo.data.prepare.frames_out import SubjectArrays, subject_digest
        from auzoo.data.prepare.writer import Source, run_prepare
        from auzoo.data.synth import SYNTH_MARKER
        from toyau.protocol import AUS
        from toyau.reader import ToyRoot


        @dataclass(frozen=True)
        class ToyJob:
            root: str
            subject: str

            def __call__(self, folder, size, progress):
                data = ToyRoot(self.root)
                labels, points = data.labels(self.subject), data.landmarks(self.subject)
                out = SubjectArrays(folder, len(labels), size)
                for k in range(len(labels)):
                    out.add(k, data.image(self.subject, k), points[k])
                progress(len(labels))
                out.close()
                index = pd.DataFrame({"subject": self.subject, "frame": np.arange(len(labels))})
                for c, au in enumerate(AUS):
                    index[label_column(au)] = labels[:, c]
                index["landmarks_missing"] = out.missing
                index["aligned"] = out.aligned
                index["bad_landmarks"] = ~out.aligned
                record = {"frames": len(labels), "aligned_frames": int(out.aligned.sum()),
                          "digest": subject_digest(self.subject, labels, out.source)}
                return index, record


        class ToySource(Source):
            dataset = "toyau"
            total_keys = ("frames", "aligned_frames")

            def __init__(self, root):
                self.data, self.root = ToyRoot(root), Path(root)
                self.units, self.settings = self.data.subjects, {}

            def unit_frames(self, unit):
                return len(self.data.labels(unit))

            def job(self, unit):
                return ToyJob(str(self.root), unit)

            def meta(self, records):
                return {"synthetic": (self.root / SYNTH_MARKER).is_file()}

            def report(self, meta, skipped, console):
                console.print(f"toy cache {meta['checksum']}: {meta['totals']['frames']} frames")


        def prepare_toy(root, out, workers=1, size=LOOSE_SIZE, console=None):
            return run_prepare(ToySource(root), out, workers=workers, size=size, console=console)
        ''',
    "synth.py": '''
        import json
        from pathlib import Path

        import cv2
        import numpy as np

        from auzoo.data.datasets.disfa import DISFA_LABELLED_AUS
        from auzoo.data.synth import SYNTH_MARKER, au_timeline, make_identity, render_frame
        from toyau.protocol import AUS, SUBJECTS
        from toyau.reader import HEADER

        SIDE = 128


        def synth_toy(out, subjects=4, frames=24, seed=0):
            out = Path(out)
            columns = [DISFA_LABELLED_AUS.index(a) for a in AUS]
            for i, subject in enumerate(SUBJECTS[:subjects]):
                rng = np.random.default_rng([seed, i])
                identity = make_identity(rng, SIDE, SIDE)
                drawn = au_timeline(rng, max(frames, 48))[:frames]
                folder = out / subject
                folder.mkdir(parents=True, exist_ok=True)
                points = []
                for t in range(frames):
                    image, pts = render_frame(identity, drawn[t], t, SIDE, SIDE)
                    cv2.imwrite(str(folder / f"{t:04d}.png"), image)
                    points.append(pts)
                np.save(folder / "landmarks.npy", np.asarray(points, dtype=np.float32))
                rows = [",".join(HEADER)] + [",".join(map(str, [t, *drawn[t, columns]]))
                                             for t in range(frames)]
                (folder / "labels.csv").write_text("\\n".join(rows) + "\\n")
            (out / SYNTH_MARKER).write_text(json.dumps({"generator": "synth_toy", "seed": seed}))
            return out
        ''',
}

TINY_TOY_CONFIG = '''
_base_ = ['auzoo::_base_/default_runtime.py', 'auzoo::_base_/data/au_frames.py',
          'auzoo::_base_/schedules/paper.py']
model = dict(
    type='RegionAUNet',
    aus=None,  # the dataset's
    backbone=dict(type='TimmBackbone', model_name='test_resnet', frozen_stages=1),
    splitter=dict(type='ThreeRegionSplitter'),
    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),
    branches=[dict(region='upper'), dict(region='middle'), dict(region='lower')],
)
allow_random_init = True
img_size = 48
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_dataloader = dict(batch_size=8, sampler=dict(iters_per_epoch=2))
val_dataloader = dict(batch_size=64)
train_cfg = dict(max_epochs=1)
'''


@pytest.fixture
def toyau(tmp_path, monkeypatch):
    """The toy dataset's folder, importable; importing it registers it (a plugin's entry point
    would import it the same way). Unregistered afterwards."""
    from auzoo.registry import PROTOCOLS

    package = tmp_path / "src" / "toyau"
    package.mkdir(parents=True)
    for name, text in TOY.items():
        (package / name).write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    import toyau

    yield toyau
    PROTOCOLS.unregister("toyau")
    for name in [m for m in sys.modules if m == "toyau" or m.startswith("toyau.")]:
        del sys.modules[name]


def test_a_toy_dataset_added_as_the_guide_says_synths_prepares_trains_and_evals(
        toyau, tmp_path, capsys):
    from auzoo.cli import main
    from auzoo.data import open_cache
    from auzoo.engine.train import train

    raw, cache_dir = tmp_path / "raw", tmp_path / "cache"
    # auzoo synth finds synth_toy through the protocol; --tasks is BP4D's, not the toy's
    assert main(["synth", "toyau", str(raw), "--subjects", "4", "--frames", "24",
                 "--tasks", "3"]) == 0
    assert sorted(p.name for p in raw.iterdir() if p.is_dir()) == list(toyau.SUBJECTS)
    assert (raw / "auzoo_synth.json").is_file()

    assert main(["prepare", "toyau", str(raw), "--out", str(cache_dir), "--size", "48"]) == 0
    assert "toy cache" in capsys.readouterr().out

    cache = open_cache(cache_dir)
    assert isinstance(cache.dataset, toyau.ToyDataset) and cache.meta["synthetic"] is True
    assert cache.folds == {1: (("T01", "T02"), ("T03", "T04")), 2: (("T03", "T04"), ("T01", "T02"))}
    assert cache.meta["totals"] == {"frames": 96, "aligned_frames": 96}
    for subject in toyau.SUBJECTS:   # the labels written are the labels cached
        rows = cache.index[cache.index.subject == subject]
        written = np.loadtxt(raw / subject / "labels.csv", delimiter=",", skiprows=1, dtype=int)
        np.testing.assert_array_equal(rows[[f"au{a}" for a in toyau.AUS]].to_numpy(),
                                      written[:, 1:])
        faces = cache.frames(subject)
        assert faces.shape == (24, 48, 48, 3) and (faces.reshape(24, -1).max(1) > 0).all()
    labels, known = cache.dataset.labels(cache.index)
    assert known.all() and labels.any(0).all()  # every AU has positives (intensity >= 2)

    config = tmp_path / "tiny_toy.py"
    config.write_text(TINY_TOY_CONFIG)
    result = train(RunSpec(model=str(config), data=str(cache_dir), fold=1,
                           work_dir=str(tmp_path / "run"), device="cpu"))
    assert result.provenance.dataset == "toyau"
    assert result.scores.aus == toyau.AUS            # the model took the dataset's AUs
    assert sorted(result.scores.per_subject_f1) == ["T03", "T04"]   # fold 1's test part
    assert np.isfinite(result.scores.f1_mean)

    capsys.readouterr()
    assert main(["eval", "--data", str(cache_dir), "--fold", "1",
                 "--weights", result.training.checkpoint, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "toyau" in out and f"{result.scores.f1_mean:.1f}" in out


def test_the_commands_name_the_registered_datasets_when_one_is_not(toyau, tmp_path, capsys):
    from auzoo.cli import main

    assert main(["synth", "frames", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "'frames' has nothing for auzoo synth" in err and "bp4d, disfa, toyau" in err
    assert main(["prepare", "nosuch", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "'nosuch' is not a registered auzoo dataset" in err
    assert "bp4d, disfa, frames, toyau" in err
    assert not (tmp_path / "c").exists() and not (tmp_path / "x").exists()
