"""Size and cost of a model: parameters, FLOPs; ``auzoo show``."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> Tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


@torch.no_grad()
def count_flops(model: nn.Module, img_size: int, batch_size: int = 1) -> int:
    """FLOPs of one inference forward pass on ``batch_size`` images of
    ``img_size`` px, counted by PyTorch's FlopCounterMode (a multiply-add is
    2 FLOPs; GMACs = FLOPs / 2)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        images = torch.rand(batch_size, 3, img_size, img_size, device=device)
        inputs = (images,)
        if getattr(model, "requires_landmarks", False):
            # Where the 66 points lie does not change the cost; inside the image is enough.
            inputs += (torch.rand(batch_size, 66, 2, device=device) * (img_size - 1),)
        with FlopCounterMode(display=False) as counter:
            model(*inputs)
    finally:
        model.train(was_training)
    return counter.get_total_flops()


def model_summary(model: nn.Module, img_size: int) -> Dict[str, Any]:
    trainable, total = count_params(model)
    flops = count_flops(model, img_size)
    return dict(params_m=total / 1e6, trainable_params_m=trainable / 1e6,
                gflops=flops / 1e9, gmacs=flops / 2e9, img_size=img_size)


def show_model(name_or_path: str, cfg_options: Optional[Mapping[str, Any]] = None,
               img_size: Optional[int] = None) -> Dict[str, Any]:
    """Print a model's resolved config, parameter counts and GFLOPs (``auzoo show``)."""
    from rich.syntax import Syntax
    from rich.table import Table

    import auzoo
    from auzoo.config import apply_overrides, load_config
    from auzoo.utils.console import make_console, rule

    from auzoo.config_check import check_config
    from auzoo.config_source import key_locator
    from auzoo.engine.input_size import propagate_img_size

    cfg = apply_overrides(load_config(name_or_path), dict(cfg_options or {}))
    propagate_img_size(cfg, [("--cfg-options", cfg_options or {})])  # --img-size reaches the model
    check_config(cfg, key_locator(cfg, cfg_options))
    model = auzoo.build_model(cfg)
    size = int(img_size or cfg.get("img_size", 224))
    summary = model_summary(model, size)

    console = make_console()
    rule(console, f"[bold]{model.name}[/]")
    console.print(Syntax(cfg.pretty_text, "python", theme="ansi_dark", word_wrap=True))
    table = Table(title=f"{model.name} at {size}x{size}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("parameters", f"{summary['params_m']:.2f} M")
    table.add_row("trainable parameters", f"{summary['trainable_params_m']:.2f} M")
    table.add_row("GFLOPs / image", f"{summary['gflops']:.2f}")
    table.add_row("GMACs / image", f"{summary['gmacs']:.2f}")
    aus = getattr(model, "aus", None)
    if aus is not None:
        table.add_row("AUs", ", ".join(map(str, aus)))
    branches = getattr(model, "branches", None)
    if branches is not None:
        path = getattr(model, "branch_path", None)
        table.add_row("branches", "; ".join(
            f"{getattr(b, 'region', i)}: AU {', '.join(map(str, b.aus))}"
            + (f", on the {path(b)}" if path else "") for i, b in enumerate(branches)))
    console.print(table)
    return summary


__all__ = ["count_params", "count_flops", "model_summary", "show_model"]
