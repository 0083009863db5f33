"""How ``auzoo COMMAND --help`` reads: what the command does, every option
with its default, and an example to start from."""
from __future__ import annotations

import argparse

EXAMPLES = {
    "list": ["auzoo list models", "auzoo list plugins"],
    "show": ["auzoo show tranet", "auzoo show my_tranet.py --cfg-options model.neck.steps=1"],
    "synth": ["auzoo synth disfa synthetic_disfa --subjects 6 --frames 100"],
    "prepare": ["auzoo prepare disfa /data/DISFA --out disfa_cache --workers 8",
                "auzoo prepare frames labels.csv --out lab_cache --folds 5"],
    "train": ["auzoo train tranet --data disfa_cache --fold 1 "
              "--cfg-options model.backbone.weights=senet50_ft.pth",
              "auzoo train tranet --data lab_cache --fold 1 --allow-random-init "
              "--cfg-options train_cfg.max_epochs=5"],
    "eval": ["auzoo eval --data disfa_cache --weights work_dirs/tranet/fold1/best.pth",
             "auzoo eval --data bp4d_cache --weights work_dirs/tranet/fold1/best.pth --out bp4d.csv"],
    "bench": ["auzoo bench tranet                       # the synthetic demo, on a CPU",
              "auzoo bench tranet senet50 --data disfa_cache --seeds 0,1,2 --out table2"],
    "predict": ["auzoo predict clip.mp4 photos/ --weights work_dirs/tranet/fold1/best.pth "
                "--out aus.csv",
                "auzoo predict clip.mp4 --weights best.pth --format openface --out clip_openface.csv"],
    "browse": ["auzoo browse tranet --data disfa_cache --split train --n 8 --out browse_tranet"],
    "export": ["auzoo export --weights work_dirs/tranet/fold1/best.pth --out tranet.onnx",
               "auzoo export megraphau_r50 --weights MEFARG_resnet50_DISFA_fold1.pth "
               "--out megraphau.onnx"],
    "convert-weights": ["auzoo convert-weights senet50_ft_weight.pkl senet50_ft.pth"],
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default where it has one (None and False mean "not
    given" and are left out; a help text that states its default keeps it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or "default" in text.lower() or default in (None, False) \
                or default == argparse.SUPPRESS or (isinstance(default, (list, dict)) and not default):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            text += " (default: %(default)s)"
        return text


def command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does, with defaults and an example."""
    examples = "\n".join(f"  {line}" for line in EXAMPLES.get(name, ()))
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                          epilog=f"example:\n{examples}" if examples else None,
                          formatter_class=HelpFormatter)


__all__ = ["EXAMPLES", "HelpFormatter", "command"]
