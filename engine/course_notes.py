"""Slips in the course notes, explained where a student meets them (issue 15 item 7).

Each :class:`Slip` says what the notes print, what is right, and where the right figure comes
from; it is attached to the blocks whose help shows it (:func:`block_help`, the inspector) and
the templates whose notes carry it (:func:`template_notes`, appended to ``design.notes`` by
:func:`engine.templates.build`). The figures are data (``figures``) formatted into the text, and
tests hold every figure to the engine's analysis or to PyTorch, so the explanation cannot drift
from what the designer computes. Slips explained elsewhere follow the same idea in place: output
channels = K (the conv formula), L2 pooling is not RMS (the LPPool block), dropout's p is the
probability of dropping (its parameter help), 224 vs 227 and ceil mode (the AlexNet template's
and the builder's notes), overlapping pools (a playground preset).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .blocks.base import BlockSpec


@dataclass(frozen=True)
class Slip:
    key: str
    title: str
    text: str  # the explanation, with {figure} fields filled from ``figures``
    source: str  # where the right figures come from
    figures: dict = field(default_factory=dict)
    blocks: tuple[str, ...] = ()  # block keys whose help shows it
    templates: tuple[str, ...] = ()  # template names whose notes carry it

    def explanation(self) -> str:
        """The text with its figures, thousands separated: '2,383,360'."""
        return self.text.format(**{k: f"{v:,}" if isinstance(v, int) else v for k, v in self.figures.items()})

    def as_note(self) -> str:
        return f"Course-notes slip — {self.title}: {self.explanation()} (Source: {self.source}.)"


_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")

SLIPS: tuple[Slip, ...] = (
    Slip("inception_reduction", "the 1×1 reduction counts multiplications, not parameters",
         "A 28×28×190 input to 48 filters of 5×5 (same padding) costs {direct} multiplications directly. "
         "Through 16 filters of 1×1 first it costs {reduce_1x1} (the 1×1 layer) + {reduce_5x5} (the 5×5 layer) "
         "= {reduced}, about a tenth. These are multiply counts, which the notes call 'parameters', and their "
         "totals are wrong: they print 118,750 for the 1×1 layer and 15,171,550 in all.",
         "multiply-accumulates = out_h·out_w·K·(kh·kw·D_in); the designer's analysis gives these counts",
         {"direct": 178_752_000, "reduce_1x1": 2_383_360, "reduce_5x5": 15_052_800, "reduced": 17_436_160},
         blocks=("inception_v1", "inception_naive"), templates=("googlenet",)),
    Slip("dilation_field", "a dilated 3×3 alone does not see 7×7 or 15×15",
         "One 3×3 convolution with dilation 2 sees {d2}×{d2} input pixels, with dilation 4 {d4}×{d4} "
         "(d·(k − 1) + 1). The {d12}×{d12} and {d124}×{d124} the notes give are the fields of a stack of 3×3 "
         "layers with dilations 1→2 and 1→2→4.",
         "receptive field size_out = size_in + (k_eff − 1)·jump_in; the inspector's 'receptive field' row",
         {"d2": 5, "d4": 9, "d12": 7, "d124": 15},
         blocks=("conv2d", "conv1d", "conv3d")),
    Slip("alexnet_conv1", "AlexNet's conv1 has 290,400 neurons and conv2 has stride 1",
         "conv1 (96 filters of 11×11, stride 4, on 227×227×3) gives 55×55×96 = {neurons} neurons, not the "
         "253,440 the notes (and the paper) state; conv2 (256 filters of 5×5) has stride 1 with padding 2, "
         "keeping 27×27.",
         "output size ⌊(227 − 11) / 4⌋ + 1 = 55; Krizhevsky et al. 2012, Fig. 2",
         {"neurons": 290_400}, templates=("alexnet-original",)),
    Slip("googlenet_params", "GoogLeNet has about 7.0 M parameters, not 4–5 M",
         "As published (no batch norm, 5×5 branches) GoogLeNet has {published} parameters, about 7.0 M; "
         "torchvision's variant (batch norm, 3×3 in the '5×5' branch) has {torchvision}. The notes' "
         "'4–5 million' is too low.",
         "the designer's count of this template, equal to torchvision's googlenet for the variant",
         {"published": 6_998_552, "torchvision": 6_624_904}, templates=("googlenet",)),
    Slip("resnet_pools", "ResNet does pool",
         "ResNet has a 3×3 max pool with stride 2 right after its 7×7 stem and a global average pool before "
         "the classifier; inside the stages it downsamples with stride-2 convolutions instead. Notes that say "
         "'ResNet uses no pooling' mean only the stages.",
         "He et al. 2015, Table 1; torchvision's resnet", templates=_RESNETS),
    Slip("lenet_connections", "LeNet-5's 341 k connections count the original sparse C3",
         "The 1998 paper's C3 connects each of its 16 maps to only some of S2's 6 maps (its Table I: six maps "
         "see 3, nine see 4, one sees all 6), which gives its {paper} connections (weights and biases, the "
         "'341 k'). Built with a fully connected C3, as here and in every modern framework, the network does "
         "{macs} multiply-accumulates per image.",
         "LeCun et al. 1998, Section II.B and Table I; the designer's analysis of this template",
         {"paper": 340_908, "macs": 416_520}, templates=("lenet5", "lenet5-classic")),
    Slip("relu_positive", "a ReLU passes positive values unchanged",
         "ReLU(x) = max(0, x): 0.77 stays {relu_077}, −0.11 becomes 0. A worked example that changes a "
         "positive value going through a ReLU has slipped.",
         "the definition; torch.relu", {"relu_077": "0.77"}, blocks=("relu",)),
)

_BY_KEY = {s.key: s for s in SLIPS}


def slip(key: str) -> Slip:
    return _BY_KEY[key]


def for_block(key: str) -> list[Slip]:
    return [s for s in SLIPS if key in s.blocks]


def for_template(name: str) -> list[Slip]:
    return [s for s in SLIPS if name in s.templates]


def block_help(spec: BlockSpec) -> str:
    """What the inspector shows under a block's formula: its doc and the course-notes slips about it."""
    parts = [spec.doc] if spec.doc and spec.doc != spec.formula else []
    parts += [s.as_note() for s in for_block(spec.key)]
    return "\n\n".join(parts)


def template_notes(name: str) -> str:
    """The slips about template ``name``, one paragraph each ('' for none)."""
    return "\n\n".join(s.as_note() for s in for_template(name))


__all__ = ["SLIPS", "Slip", "block_help", "for_block", "for_template", "slip", "template_notes"]
