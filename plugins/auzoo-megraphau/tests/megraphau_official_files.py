"""ME-GraphAU checkpoints as the official trainers save them (test helper): the
module names of the official model/ANFL.py, model/MEFL.py and model/basic_block.py,
DataParallel's ``module.`` prefix, random values of the official shapes."""
import timm
import torch

C, N = 64, 8  # node width; DISFA's 8 AUs (the files carry no AU list: the count says the dataset)


def _linear(state, name, out_f, in_f, bias=True):
    state[f"{name}.weight"] = torch.randn(out_f, in_f)
    if bias:
        state[f"{name}.bias"] = torch.randn(out_f)


def _bn(state, name, channels):
    for buf in ("weight", "bias", "running_mean", "running_var"):
        state[f"{name}.{buf}"] = torch.rand(channels) + 0.5
    state[f"{name}.num_batches_tracked"] = torch.tensor(7)


def official_state(stage, n=N, in_channels=512, backbone="resnet18"):
    """The names and shapes the official model/ANFL.py and model/MEFL.py save
    (DataParallel's ``module.`` prefix included)."""
    resnet = timm.create_model(backbone, pretrained=False).state_dict()
    state = {f"module.backbone.{k}": v for k, v in resnet.items() if not k.startswith("fc.")}
    head = {}
    _linear(head, "global_linear.fc", C, in_channels)
    _bn(head, "global_linear.bn", C)
    for i in range(n):
        _linear(head, f"head.class_linears.{i}.fc", C, C)
        _bn(head, f"head.class_linears.{i}.bn", C)
    head["head.sc"] = torch.randn(n, C)
    if stage == 1:
        _linear(head, "head.gnn.U", C, C)
        _linear(head, "head.gnn.V", C, C)
        _bn(head, "head.gnn.bnv", n)
    else:
        for block in ("FAM", "ARM"):
            _linear(head, f"head.edge_extractor.{block}.linear_q", C // 2, C)
            _linear(head, f"head.edge_extractor.{block}.linear_k", C // 2, C)
            _linear(head, f"head.edge_extractor.{block}.linear_v", C, C)
        _linear(head, "head.edge_extractor.edge_proj", C, C)
        _bn(head, "head.edge_extractor.bn", n * n)
        for layer in (1, 2):
            for name in "ABEUV":
                _linear(head, f"head.gnn.{name}{layer}", C, C, bias=False)
            _bn(head, f"head.gnn.bnv{layer}", n)
            _bn(head, f"head.gnn.bne{layer}", n * n)
        _linear(head, "head.edge_fc", 4, C)
    state.update({f"module.{k}": v for k, v in head.items()})
    return state
