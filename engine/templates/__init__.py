"""The classic networks as templates: data (layer tables) plus small builders.

    from engine import templates
    templates.names()                        # ['lenet5', 'lenet5-classic', 'alexnet', ...]
    info = templates.info("resnet18")        # title, family, description, default input/classes,
                                             # reference parameter count, options, torchvision name
    d = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=10)   # -> Design
    d = templates.build("alexnet-original", two_groups=True)                   # options by keyword
    d = templates.build("googlenet", aux_heads=True)

``build`` returns a fresh :class:`~engine.graph.Design` whose analysis has no errors, with
nodes laid out left to right (side branches such as GoogLeNet's auxiliary heads below the
main chain). Templates adapt to the requested input shape and class count: a smaller input
gets a gentler stem, pools that would collapse the map are left out, the classifier's
adaptive pool shrinks to the map it receives. Every adaptation is listed in ``design.notes``,
followed by the course notes' slips about the network, explained (:mod:`engine.course_notes`).
At each template's default input and 1000 classes the torchvision-family templates have
exactly torchvision's parameter count and load its weights (``engine.pretrained``).

Templates take image inputs (channels, height, width); anything else raises
:class:`TemplateError` (a ``ValueError``), as does an input below ``info(name).min_size``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from ..course_notes import template_notes
from ..graph import Design
from . import classic, modern
from .builder import NetBuilder, TemplateError


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    title: str
    family: str  # LeNet | AlexNet | VGG | GoogLeNet | ResNet | MobileNet
    description: str
    default_input: tuple[int, int, int]
    default_classes: int
    # Parameter count at the default input and class count from the literature or torchvision
    # (None when there is no outside reference; the gallery then shows the computed count).
    reference_params: int | None
    builder: Callable = field(repr=False, compare=False)
    options: dict = field(default_factory=dict)  # name -> (default, help)
    torchvision: str | None = None  # torchvision.models function whose weights load onto it
    min_size: int = 1  # smallest height/width the template adapts to
    year: int | None = None


def _t(name, title, family, description, builder, reference=None, default_input=(3, 224, 224), classes=1000,
       options=None, torchvision=None, min_size=1, year=None):
    return TemplateInfo(name, title, family, description, tuple(default_input), classes, reference, builder,
                        options or {}, torchvision, min_size, year)


_VGG_REF = {(11, False): 132863336, (13, False): 133047848, (16, False): 138357544, (19, False): 143667240,
            (11, True): 132868840, (13, True): 133053736, (16, True): 138365992, (19, True): 143678248}

_TEMPLATES: list[TemplateInfo] = [
    _t("lenet5", "LeNet-5", "LeNet", "6-16-120-84 with max pooling and ReLU (as taught today)",
       classic.lenet5, 61706, (1, 32, 32), 10, min_size=4, year=1998),
    _t("lenet5-classic", "LeNet-5 (original)", "LeNet", "6-16-120-84 with average pooling and tanh",
       partial(classic.lenet5, classic=True), 61706, (1, 32, 32), 10, min_size=4, year=1998),
    _t("alexnet", "AlexNet (torchvision)", "AlexNet", "five convs, three FC layers; torchvision's single-GPU "
       "variant without LRN", classic.alexnet, 61100840, torchvision="alexnet", min_size=8, year=2012),
    _t("alexnet-original", "AlexNet (original)", "AlexNet", "96-256-384-384-256 filters, LRN, 227×227 input; "
       "optional two-group conv2/4/5", classic.alexnet_original, 62378344, (3, 227, 227),
       options={"two_groups": (False, "split conv2, conv4, conv5 into two groups as on the two GPUs "
                               "(60,965,224 parameters)")}, min_size=8, year=2012),
    _t("zfnet", "ZFNet", "AlexNet", "AlexNet with a 7×7 stride-2 conv1 and conv3-5 of 512/1024/512",
       classic.zfnet, None, min_size=8, year=2013),
]
for _depth in (11, 13, 16, 19):
    for _bn in (False, True):
        _TEMPLATES.append(_t(
            f"vgg{_depth}" + ("-bn" if _bn else ""), f"VGG-{_depth}" + (" with batch norm" if _bn else ""), "VGG",
            f"{sum(1 for c in classic.VGG_CFGS[_depth] if c != 'M')} 3×3 convs in five stages, FC 4096-4096"
            + (", batch norm after every conv" if _bn else ""),
            partial(classic.vgg, _depth, batch_norm=_bn), _VGG_REF[(_depth, _bn)],
            torchvision=f"vgg{_depth}" + ("_bn" if _bn else ""), year=2014))
_TEMPLATES.append(_t(
    "googlenet", "GoogLeNet / Inception v1", "GoogLeNet", "nine inception modules, global average pool, "
    "optional auxiliary heads", modern.googlenet, 6624904,
    options={"aux_heads": (False, "add the two auxiliary classifier heads (training-time helpers)"),
             "batch_norm": (True, "torchvision's variant (BN in every conv unit, 3×3 instead of 5×5); "
                            "false = as published")},
    torchvision="googlenet", min_size=4, year=2014))
_RESNET_REF = {18: 11689512, 34: 21797672, 50: 25557032, 101: 44549160, 152: 60192808}
for _depth, _ref in _RESNET_REF.items():
    _kind = "basic" if _depth < 50 else "bottleneck"
    _TEMPLATES.append(_t(
        f"resnet{_depth}", f"ResNet-{_depth}", "ResNet",
        f"{sum(modern.RESNET_STAGES[_depth][1])} {_kind} residual blocks in four stages, global average pool",
        partial(modern.resnet, _depth), _ref, torchvision=f"resnet{_depth}", year=2015))
_TEMPLATES.append(_t(
    "mobilenet-v1", "MobileNet v1", "MobileNet", "13 depthwise-separable blocks (width 1.0), global average pool",
    modern.mobilenet_v1, 4231976, year=2017))

_BY_NAME = {t.name: t for t in _TEMPLATES}


def names() -> list[str]:
    return [t.name for t in _TEMPLATES]


def catalog() -> list[TemplateInfo]:
    return list(_TEMPLATES)


def info(name: str) -> TemplateInfo:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise TemplateError(f"unknown template {name!r}; known: {', '.join(names())}") from None


def build(name: str, input_shape=None, num_classes: int | None = None, **options) -> Design:
    """A new design of template ``name`` for ``input_shape`` (C, H, W) and ``num_classes``
    (defaults: the template's own); ``options`` as listed in ``info(name).options``."""
    t = info(name)
    unknown = set(options) - set(t.options)
    if unknown:
        allowed = ", ".join(t.options) or "none"
        raise TemplateError(f"{name} has no option {', '.join(sorted(unknown))}; its options: {allowed}")
    shape = tuple(input_shape) if input_shape is not None else t.default_input
    classes = int(num_classes) if num_classes is not None else t.default_classes
    design = t.builder(shape, classes, **options)
    slips = template_notes(name)  # what the course notes get wrong about this network, explained
    if slips:
        design.notes = f"{design.notes}\n\n{slips}" if design.notes else slips
    return design


__all__ = ["TemplateInfo", "TemplateError", "NetBuilder", "names", "catalog", "info", "build"]
