"""GoogLeNet, ResNet and MobileNet v1: stems of primitives, bodies of composite blocks.

Node ids follow torchvision's module names with dots as underscores (``layer3_5``,
``inception4a``, ``conv1_bn``), so torchvision weights map onto them by name.
"""
from __future__ import annotations

from typing import Any

from .builder import NetBuilder

# GoogLeNet -------------------------------------------------------------------------------

# (name, c1, c3_reduce, c3, c5_reduce, c5, pool_proj); "M3"/"M4" are the max pools between.
INCEPTION_V1: list[Any] = [
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    "maxpool3",
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    "maxpool4",
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
]
AUX_AFTER = {"inception4a": "aux1", "inception4d": "aux2"}


def _conv_unit(b: NetBuilder, name: str, channels: int, kernel: int, stride: int = 1, padding: int = 0,
               batch_norm: bool = True) -> None:
    """torchvision's BasicConv2d (conv without bias → BN, eps 0.001 → ReLU) as three nodes."""
    b.add(f"{name}_conv", "conv2d", out_channels=channels, kernel=kernel, stride=stride, padding=padding,
          bias=not batch_norm)
    if batch_norm:
        b.add(f"{name}_bn", "batchnorm2d", eps=1e-3)
    b.add(f"{name}_relu", "relu")


def googlenet(input_shape, num_classes, aux_heads: bool = False, batch_norm: bool = True):
    b = NetBuilder("googlenet", input_shape, num_classes, min_size=4)
    small = min(b.spatial) < 64
    if small:
        b.note("conv1 uses stride 1 and maxpool1 is left out: the input is smaller than 64×64")
    _conv_unit(b, "conv1", 64, 7, stride=1 if small else 2, padding=3, batch_norm=batch_norm)
    if not small:
        b.pool("maxpool1", "maxpool2d", 3, 2, ceil_mode=True)
    _conv_unit(b, "conv2", 64, 1, batch_norm=batch_norm)
    _conv_unit(b, "conv3", 192, 3, padding=1, batch_norm=batch_norm)
    b.pool("maxpool2", "maxpool2d", 3, 2, ceil_mode=True)
    aux_sources = {}
    for item in INCEPTION_V1:
        if item == "maxpool3":
            b.pool(item, "maxpool2d", 3, 2, ceil_mode=True)
            continue
        if item == "maxpool4":
            b.pool(item, "maxpool2d", 2, 2, ceil_mode=True)
            continue
        name, c1, c3r, c3, c5r, c5, pp = item
        b.add(name, "inception_v1", c1=c1, c3_reduce=c3r, c3=c3, c5_reduce=c5r, c5=c5, pool_proj=pp,
              batch_norm=batch_norm, branch3_kernel=3 if batch_norm else 5)
        if name in AUX_AFTER:
            aux_sources[AUX_AFTER[name]] = name
    b.add("avgpool", "adaptive_avgpool2d", output_size=1)
    b.add("flatten", "flatten")
    b.add("dropout", "dropout", p=0.2 if batch_norm else 0.4)
    b.add("fc", "linear", out_features=num_classes)
    if aux_heads:  # after the main chain, so the main Output comes first among the outputs
        b.add("output", "output")
        for aux, src in aux_sources.items():
            b.branch_from(src, [(aux, "aux_head", {"num_classes": num_classes, "batch_norm": batch_norm}),
                                (f"{aux}_output", "output", {})])
        b.note("auxiliary heads: the model returns (logits, aux1, aux2) — train on a weighted sum "
               "of the three losses (0.3 each for the auxiliaries), ignore aux1/aux2 at inference")
    variant = ("torchvision's variant (batch norm in every conv unit, 3×3 in the '5×5' branch)" if batch_norm
               else "as published (no batch norm, 5×5 branches)")
    return b.finish(f"GoogLeNet / Inception v1 (Szegedy et al. 2014), {variant}: nine inception modules, "
                    "global average pooling, one FC layer" + (", two auxiliary heads." if aux_heads else "."),
                    add_output=not aux_heads)


# ResNet ------------------------------------------------------------------------------------

RESNET_STAGES = {
    18: ("residual_basic", (2, 2, 2, 2)),
    34: ("residual_basic", (3, 4, 6, 3)),
    50: ("residual_bottleneck", (3, 4, 6, 3)),
    101: ("residual_bottleneck", (3, 4, 23, 3)),
    152: ("residual_bottleneck", (3, 8, 36, 3)),
}


def resnet(depth: int, input_shape, num_classes):
    block, counts = RESNET_STAGES[depth]
    b = NetBuilder(f"resnet{depth}", input_shape, num_classes, min_size=1)
    if min(b.spatial) < 64:
        b.note("the stem is a 3×3 stride-1 conv without max pool (the CIFAR variant): the input is "
               "smaller than 64×64, and the 7×7 stride-2 stem plus pool would shrink it 4× at once")
        b.add("conv1", "conv2d", out_channels=64, kernel=3, stride=1, padding=1, bias=False)
        b.add("bn1", "batchnorm2d")
        b.add("relu", "relu")
    else:
        b.add("conv1", "conv2d", out_channels=64, kernel=7, stride=2, padding=3, bias=False)
        b.add("bn1", "batchnorm2d")
        b.add("relu", "relu")
        b.add("maxpool", "maxpool2d", kernel=3, stride=2, padding=1)
    for stage, (count, width) in enumerate(zip(counts, (64, 128, 256, 512)), start=1):
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            if block == "residual_basic":
                b.add(f"layer{stage}_{i}", block, out_channels=width, stride=stride)
            else:
                b.add(f"layer{stage}_{i}", block, width=width, stride=stride)
    b.add("avgpool", "adaptive_avgpool2d", output_size=1)
    b.add("flatten", "flatten")
    b.add("fc", "linear", out_features=num_classes)
    kind = "basic 3×3-3×3" if block == "residual_basic" else "bottleneck 1×1-3×3-1×1"
    return b.finish(f"ResNet-{depth} (He et al. 2015; torchvision's layout, stride in the 3×3): "
                    f"{sum(counts)} {kind} residual blocks in four stages of {'-'.join(map(str, counts))}, "
                    "global average pool, one FC layer.")


# MobileNet v1 ------------------------------------------------------------------------------

# (out_channels, stride) of the 13 depthwise-separable blocks.
MOBILENET_V1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def mobilenet_v1(input_shape, num_classes):
    b = NetBuilder("mobilenet-v1", input_shape, num_classes, min_size=1)
    small = min(b.spatial) < 64
    if small:
        b.note("conv1 uses stride 1: the input is smaller than 64×64")
    b.add("conv1", "conv2d", out_channels=32, kernel=3, stride=1 if small else 2, padding=1, bias=False)
    b.add("bn1", "batchnorm2d")
    b.add("relu1", "relu")
    for i, (channels, stride) in enumerate(MOBILENET_V1, start=1):
        b.add(f"block{i}", "separable_block", out_channels=channels, stride=stride)
    b.add("avgpool", "adaptive_avgpool2d", output_size=1)
    b.add("flatten", "flatten")
    b.add("fc", "linear", out_features=num_classes)
    return b.finish("MobileNet v1 (Howard et al. 2017, width 1.0): a 3×3 stride-2 conv, then 13 depthwise-"
                    "separable blocks (depthwise 3×3 → BN → ReLU → pointwise 1×1 → BN → ReLU), global "
                    "average pool, one FC layer.")
