"""Parameter counts of a model (fvcore's ``parameter_count``), as results.json and the benchmark report them."""
from typing import Dict

from fvcore.nn import parameter_count
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["count_parameters", "parameter_counts"]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``module`` (only those with requires_grad if ``trainable_only``)."""
    if trainable_only:
        return sum(p.numel() for p in module.parameters() if p.requires_grad)
    return parameter_count(module)[""]


def parameter_counts(model: nn.Module) -> Dict[str, int]:
    """Total, trainable and SlowFast-module parameter counts of a (possibly DDP-wrapped) model."""
    if isinstance(model, DistributedDataParallel):
        model = model.module
    counts = parameter_count(model)
    return {"total": counts[""], "trainable": count_parameters(model, trainable_only=True),
            "slowfast": counts.get("slowfast", 0)}
