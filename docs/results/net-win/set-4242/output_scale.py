"""Mean |scale| of the SlowFast module's last BatchNorm (slow and fast pathway) in each fine-tuned checkpoint of set A:
how far training moved the residual branch from its initial scale (0 for 3-7+residual, 1 for the others).

    python docs/results/net-win/set-4242/output_scale.py output/net-win-4242 > output_scale.md
"""
import sys

import torch

run = sys.argv[1]
print("| row | seed | slow last BN mean abs(scale) | fast last BN mean abs(scale) |\n|---|---:|---:|---:|")
for row in ("3-7", "3-7+residual", "3-7+residual-init1"):
    for seed in (1, 2, 3):
        model = torch.load(f"{run}/seed{seed}/{row}/model_final.pth", map_location="cpu", weights_only=True)["model"]
        slow, fast = (model[f"slowfast.{p}.2.1.weight"].abs().mean().item() for p in ("slow", "fast"))
        print(f"| {row} | {seed} | {slow:.4f} | {fast:.4f} |")
