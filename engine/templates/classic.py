"""LeNet-5, AlexNet (torchvision's and the original), ZFNet and VGG: plain chains of layers.

Node ids follow the papers (conv1, pool1, fc6, ...). For AlexNet and VGG the chain from the
input to ``avgpool`` is torchvision's ``features`` and the chain after ``flatten`` its
``classifier``, layer for layer, so torchvision weights map onto them by position.
"""
from __future__ import annotations

from .builder import NetBuilder, fit_padding

# LeNet-5 ---------------------------------------------------------------------------------

def lenet5(input_shape, num_classes, classic: bool = False):
    """6-16-120-84-classes. ``classic``: average pooling + tanh (1998); else max pool + ReLU."""
    name = "lenet5-classic" if classic else "lenet5"
    b = NetBuilder(name, input_shape, num_classes, min_size=4)
    act, pool = ("tanh", "avgpool2d") if classic else ("relu", "maxpool2d")
    pad1 = 0 if min(b.spatial) >= 32 else 2
    if pad1:
        b.note("conv1 pads by 2 so a map smaller than 32×32 (e.g. MNIST's 28×28) keeps its size")
    b.add("conv1", "conv2d", out_channels=6, kernel=5, padding=pad1)
    b.add("act1", act)
    b.pool("pool1", pool, 2, 2)
    pad2 = 0 if min(b.spatial) >= 14 else 2
    if pad2:
        b.note("conv2 pads by 2 because the map is smaller than 14×14")
    b.add("conv2", "conv2d", out_channels=16, kernel=5, padding=pad2)
    b.add("act2", act)
    b.pool("pool2", pool, 2, 2)
    if any(n > 5 for n in b.spatial):
        b.classifier_pool("resize", 5)
        b.note("an adaptive average pool brings the map to 5×5 before conv3 (C5), which then sees all of it")
    kernel = list(b.spatial)
    if kernel != [5, 5]:
        b.note(f"conv3 (C5) uses a {kernel[0]}×{kernel[1]} kernel: the map is smaller than 5×5")
    b.add("conv3", "conv2d", out_channels=120, kernel=kernel if kernel[0] != kernel[1] else kernel[0])
    b.add("act3", act)
    b.add("flatten", "flatten")
    b.add("fc1", "linear", out_features=84)
    b.add("act4", act)
    b.add("fc2", "linear", out_features=num_classes)
    what = "average pooling and tanh as in LeCun et al. 1998" if classic else "max pooling and ReLU as taught today"
    return b.finish(f"LeNet-5 (6-16-120-84-{num_classes}) with {what}. Default input 1×32×32; "
                    "28×28 pads conv1 by 2.")


# AlexNet family ----------------------------------------------------------------------------

def alexnet(input_shape, num_classes):
    """torchvision's AlexNet: 64-192-384-256-256 filters, no LRN, adaptive 6×6 pool."""
    b = NetBuilder("alexnet", input_shape, num_classes, min_size=8)
    small = min(b.spatial) < 63
    if small:
        b.note("conv1 uses stride 1 instead of 4: the input is smaller than 63×63")
    b.add("conv1", "conv2d", out_channels=64, kernel=11, stride=1 if small else 4, padding=2)
    b.add("relu1", "relu")
    b.pool("pool1", "maxpool2d", 3, 2)
    b.add("conv2", "conv2d", out_channels=192, kernel=5, padding=2)
    b.add("relu2", "relu")
    b.pool("pool2", "maxpool2d", 3, 2)
    for i, c in ((3, 384), (4, 256), (5, 256)):
        b.add(f"conv{i}", "conv2d", out_channels=c, kernel=3, padding=1)
        b.add(f"relu{i}", "relu")
    b.pool("pool5", "maxpool2d", 3, 2)
    b.classifier_pool("avgpool", 6)
    _fc_head(b, num_classes, dropout_first=True)
    return b.finish("AlexNet as in torchvision (one GPU's worth of filters: 64-192-384-256-256, no LRN, "
                    "adaptive 6×6 average pool before the classifier). Loads torchvision's weights.")


def _fc_head(b: NetBuilder, num_classes: int, dropout_first: bool = False) -> None:
    """The classifier of AlexNet, ZFNet and VGG: flatten, FC 4096-4096-classes with ReLU and
    dropout 0.5. torchvision's AlexNet puts each dropout before its linear layer (its weights
    load by that order); the papers and VGG put it after the ReLU."""
    b.add("flatten", "flatten")
    for i in (6, 7):
        if dropout_first:
            b.add(f"drop{i}", "dropout", p=0.5)
        b.add(f"fc{i}", "linear", out_features=4096)
        b.add(f"relu{i}", "relu")
        if not dropout_first:
            b.add(f"drop{i}", "dropout", p=0.5)
    b.add("fc8", "linear", out_features=num_classes)


def _lrn(b: NetBuilder, node_id: str) -> None:
    b.add(node_id, "lrn", size=5, alpha=1e-4, beta=0.75, k=2.0)


def alexnet_original(input_shape, num_classes, two_groups: bool = False):
    """Krizhevsky et al. 2012: 96-256-384-384-256 filters, LRN, 227×227 input."""
    b = NetBuilder("alexnet-original", input_shape, num_classes, min_size=8)
    g = 2 if two_groups else 1
    n = min(b.spatial)
    small = n < 63
    stride = 1 if small else 4
    pad = 2 if small else fit_padding(n, 11, 4)
    if small:
        b.note("conv1 uses stride 1 (and padding 2) instead of 4: the input is smaller than 63×63")
    elif pad:
        b.note(f"conv1 pads by {pad} so the {n}×{n} input fits the 11×11 stride-4 window exactly "
               "(the original needs 227×227)")
    b.add("conv1", "conv2d", out_channels=96, kernel=11, stride=stride, padding=pad)
    b.add("relu1", "relu")
    _lrn(b, "norm1")
    b.pool("pool1", "maxpool2d", 3, 2)
    b.add("conv2", "conv2d", out_channels=256, kernel=5, padding=2, groups=g)
    b.add("relu2", "relu")
    _lrn(b, "norm2")
    b.pool("pool2", "maxpool2d", 3, 2)
    for i, c, groups in ((3, 384, 1), (4, 384, g), (5, 256, g)):
        b.add(f"conv{i}", "conv2d", out_channels=c, kernel=3, padding=1, groups=groups)
        b.add(f"relu{i}", "relu")
    b.pool("pool3", "maxpool2d", 3, 2)
    b.classifier_pool("avgpool", 6, always=False)
    _fc_head(b, num_classes)
    split = ("conv2, conv4 and conv5 in two groups, as the two GPUs of the original" if two_groups
             else "one ungrouped network")
    return b.finish(f"AlexNet as published (Krizhevsky et al. 2012): 227×227 input, LRN after conv1 and "
                    f"conv2, overlapping 3×3 max pools, dropout 0.5 on fc6 and fc7; {split}.")


def zfnet(input_shape, num_classes):
    """Zeiler & Fergus 2013: AlexNet with a 7×7 stride-2 conv1 and wider conv3-5 (512/1024/512)."""
    b = NetBuilder("zfnet", input_shape, num_classes, min_size=8)
    small = min(b.spatial) < 64
    if small:
        b.note("conv1 and conv2 use stride 1 (conv2 pads by 2): the input is smaller than 64×64")
    pad1 = 1 if small else fit_padding(min(b.spatial), 7, 2, (1, 0, 2, 3))
    if pad1 != 1:
        b.note(f"conv1 pads by {pad1} (the paper: 1) so the stride-2 window sees every row")
    b.add("conv1", "conv2d", out_channels=96, kernel=7, stride=1 if small else 2, padding=pad1)
    b.add("relu1", "relu")
    b.pool("pool1", "maxpool2d", 3, 2, padding=1)
    _lrn(b, "norm1")
    pad2 = 2 if small else fit_padding(min(b.spatial), 5, 2, (0, 1, 2))
    if pad2 and not small:
        b.note(f"conv2 pads by {pad2} (the paper: 0) so the stride-2 window sees every row")
    b.add("conv2", "conv2d", out_channels=256, kernel=5, stride=1 if small else 2, padding=pad2)
    b.add("relu2", "relu")
    b.pool("pool2", "maxpool2d", 3, 2, padding=1)
    _lrn(b, "norm2")
    for i, c in ((3, 512), (4, 1024), (5, 512)):
        b.add(f"conv{i}", "conv2d", out_channels=c, kernel=3, padding=1)
        b.add(f"relu{i}", "relu")
    b.pool("pool5", "maxpool2d", 3, 2)
    b.classifier_pool("avgpool", 6, always=False)
    _fc_head(b, num_classes)
    return b.finish("ZFNet (Zeiler & Fergus 2013): AlexNet with conv1 7×7 stride 2 and conv3-5 widths "
                    "512/1024/512; 224×224 input gives 110→55→26→13→6 as in the paper.")


# VGG ---------------------------------------------------------------------------------------

# torchvision's configurations: channels of each 3×3 conv, "M" a 2×2 max pool.
VGG_CFGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def vgg(depth: int, input_shape, num_classes, batch_norm: bool = False):
    name = f"vgg{depth}" + ("-bn" if batch_norm else "")
    b = NetBuilder(name, input_shape, num_classes, min_size=1)
    stage, index = 1, 1
    for item in VGG_CFGS[depth]:
        if item == "M":
            b.pool(f"pool{stage}", "maxpool2d", 2, 2)
            stage, index = stage + 1, 1
            continue
        b.add(f"conv{stage}_{index}", "conv2d", out_channels=item, kernel=3, padding=1)
        if batch_norm:
            b.add(f"bn{stage}_{index}", "batchnorm2d")
        b.add(f"relu{stage}_{index}", "relu")
        index += 1
    b.classifier_pool("avgpool", 7)
    _fc_head(b, num_classes)
    convs = sum(1 for c in VGG_CFGS[depth] if c != "M")
    bn = " with batch norm after every conv" if batch_norm else ""
    return b.finish(f"VGG-{depth}{bn} (Simonyan & Zisserman 2014; torchvision's layout): {convs} 3×3 convs "
                    "in five stages separated by 2×2 max pools, adaptive 7×7 pool, FC 4096-4096-classes.")
