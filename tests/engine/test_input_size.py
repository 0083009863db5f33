"""One input size per run: ``img_size`` reaches every part built for a size,
a part set to another size is refused, and a model that cannot take the size
is refused, by name, before anything trains."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from auzoo.engine.input_size import check_input_size, propagate_img_size, sized_parts
from auzoo.engine.settings import resolve_config

TINY = """
_base_ = ['auzoo::_base_/default_runtime.py', 'auzoo::_base_/data/au_frames.py',
          'auzoo::_base_/schedules/paper.py']
model = dict(
    type='RegionAUNet',
    aus=(1, 2, 4, 6, 9, 12, 25, 26),
    backbone=dict(type='TimmBackbone', model_name='test_resnet'),
    splitter=dict(type='ThreeRegionSplitter'),
    head=dict(type='TwoFCHead', pool_size=1, hidden=16, dropout=0.0),
    branches=[dict(region='upper', aus=(1, 2, 4)), dict(region='middle', aus=(6, 9)),
              dict(region='lower', aus=(12, 25, 26))],
)
img_size = 48
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.py"
    path.write_text(TINY)
    return str(path)


@pytest.fixture
def sized(tmp_path):
    """A config whose neck says it is built for an input size (never built here)."""
    path = tmp_path / "sized.py"
    path.write_text(TINY + "model.update(neck=dict(type='SizedNeck', img_size=48))\n")
    return str(path)


def test_the_sized_parts_are_found_in_nested_sections_and_lists():
    cfg = Config(dict(img_size=96, model=dict(
        backbone=dict(type="A", img_size=224), neck=dict(type="N"),
        branches=[dict(head=dict(img_size=224)), dict(head=dict())])))
    keys = ["model.backbone.img_size", "model.branches.0.head.img_size"]
    assert sized_parts(cfg.model) == keys
    assert propagate_img_size(cfg) == keys
    assert cfg.model.backbone.img_size == cfg.model.branches[0].head.img_size == 96
    assert "img_size" not in cfg.model.neck and "img_size" not in cfg.model.branches[1].head


def test_img_size_reaches_every_sized_part(sized):
    assert resolve_config(sized).model.neck.img_size == 48
    assert resolve_config(sized, {"img_size": 96}).model.neck.img_size == 96
    assert resolve_config(sized, img_size=96).model.neck.img_size == 96  # the flag's way
    assert resolve_config(sized, preset="cpu_demo").model.neck.img_size == 64
    both = resolve_config(sized, {"img_size": 128}, preset="cpu_demo")  # the option wins
    assert both.img_size == both.model.neck.img_size == 128


def test_a_part_size_that_disagrees_is_refused_by_name(sized):
    with pytest.raises(ValueError, match=r"--cfg-options: model\.neck\.img_size=96 disagrees "
                                         r"with img_size=48.*--img-size 96"):
        resolve_config(sized, {"model.neck.img_size": 96})
    same = resolve_config(sized, {"model.neck.img_size": 96, "img_size": 96})
    assert same.model.neck.img_size == 96


def test_a_size_the_model_cannot_take_is_refused_naming_the_sizes_it_takes(tiny):
    with pytest.raises(ValueError) as info:
        check_input_size(resolve_config(tiny, {"img_size": 32}))
    message = str(info.value)
    assert message.startswith("tiny cannot take img_size=32 (ValueError: ThreeRegionSplitter")
    assert "it takes 64, 96, 112, 128, 160, 176, 192, 224, 256, 288, 320, 384 (of 32, " in message
    check_input_size(resolve_config(tiny))  # its own 48 px


def test_bench_refuses_before_any_cell_trains(tiny, tmp_path):
    """The engine's train function checks every model of the grid first: the
    model that fits is not trained when another cannot take the size."""
    from auzoo.bench.main import bench

    fits = tmp_path / "fits.py"  # a shallower map: 32 px faces are enough for it
    fits.write_text(TINY.replace("model_name='test_resnet'", "model_name='test_resnet', "
                                 "out_indices=(2,)"))
    check_input_size(resolve_config(str(fits), {"img_size": 32}))
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="^tiny cannot take img_size=32"):
        bench([str(fits), tiny], data=str(tmp_path), out=out, folds="1", device="cpu",
              img_size=32)
    assert not list(out.glob("cells/*"))


def test_train_refuses_before_writing_its_work_dir(tiny, tmp_path, capsys):
    from auzoo.cli import main

    work = tmp_path / "work"
    code = main(["train", tiny, "--data", str(tmp_path), "--fold", "1", "--img-size", "32",
                 "--work-dir", str(work), "--device", "cpu"])
    assert code == 2 and "tiny cannot take img_size=32" in capsys.readouterr().err
    assert not work.exists()
