"""Small torch modules for blocks PyTorch has no single module for.

They are ordinary ``nn.Module`` subclasses with readable ``extra_repr`` so a compiled design
prints like hand-written code.
"""
from __future__ import annotations

import torch
from torch import nn


class SeparableConv(nn.Module):
    """Depthwise k×k convolution (groups = in channels) followed by a pointwise 1×1."""

    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, multiplier=1, bias=True):
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in * multiplier, kernel, stride, padding, dilation,
                                   groups=c_in, bias=bias)
        self.pointwise = nn.Conv2d(c_in * multiplier, c_out, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class GlobalPool(nn.Module):
    """Average or max over every spatial axis, giving one value per channel (C,)."""

    def __init__(self, mode: str = "avg"):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        flat = x.flatten(2)
        return flat.mean(-1) if self.mode == "avg" else flat.amax(-1)

    def extra_repr(self):
        return f"mode={self.mode!r}"


class Maxout(nn.Module):
    """Max over k consecutive channels: the preceding layer provides the k affine pieces."""

    def __init__(self, pieces: int = 2):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        n, c = x.shape[:2]
        return x.reshape(n, c // self.pieces, self.pieces, *x.shape[2:]).amax(2)

    def extra_repr(self):
        return f"pieces={self.pieces}"


class Step(nn.Module):
    """The perceptron's threshold unit: 1 where x ≥ threshold, else 0 (no useful gradient)."""

    def __init__(self, threshold: float = 0.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, x):
        return (x >= self.threshold).to(x.dtype)

    def extra_repr(self):
        return f"threshold={self.threshold}"


class Concat(nn.Module):
    """Depth concatenation along the channel axis."""

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Add(nn.Module):
    """Element-wise sum of all inputs (residual connections). ``inplace`` (set by the
    compiler only where the first input is used nowhere else) sums into the first input,
    as torchvision's ``out += identity`` does, saving one activation-sized allocation."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, *xs):
        first, rest = xs[0], xs[1:]
        if not rest:
            return first
        out = first.add_(rest[0]) if self.inplace else first + rest[0]
        for x in rest[1:]:
            out = out.add_(x)  # ``out`` is a tensor of our own by now
        return out

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ClassifierOutput(nn.Module):
    """The design's output. Optionally softmax, applied at inference only: training losses
    such as cross-entropy expect logits and are more stable that way."""

    def __init__(self, softmax: bool = False):
        super().__init__()
        self.softmax = softmax

    def forward(self, x):
        if self.softmax and not self.training:
            return torch.softmax(x, dim=1)
        return x

    def extra_repr(self):
        return f"softmax={self.softmax}"


class Multiply(nn.Module):
    """Element-wise product of all inputs; a C×1×1 gate scales each channel (squeeze-excitation)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle: C = g·n channels read as g×n, transposed to n×g."""

    def __init__(self, groups: int = 2):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c = x.shape[:2]
        rest = x.shape[2:]
        x = x.view(n, self.groups, c // self.groups, *rest).transpose(1, 2)
        return x.reshape(n, c, *rest)

    def extra_repr(self):
        return f"groups={self.groups}"


class ChannelChunk(nn.Module):
    """One of ``chunks`` pieces of the channels, as ``x.chunk(chunks, dim=1)[index]``."""

    def __init__(self, chunks: int = 2, index: int = 0):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        return x.chunk(self.chunks, 1)[self.index]

    def extra_repr(self):
        return f"chunks={self.chunks}, index={self.index}"


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels at each position (ConvNeXt's LayerNorm2d): the channel axis
    is moved last, normalised, and moved back."""

    def __init__(self, channels: int, eps: float = 1e-6, affine: bool = True):
        super().__init__()
        self.channels, self.eps, self.affine = channels, eps, affine
        self.weight = nn.Parameter(torch.ones(channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(channels)) if affine else None

    def forward(self, x):
        x = torch.movedim(x, 1, -1)
        x = nn.functional.layer_norm(x, (self.channels,), self.weight, self.bias, self.eps)
        return torch.movedim(x, -1, 1)

    def extra_repr(self):
        return f"{self.channels}, eps={self.eps}, affine={self.affine}"


class LayerScale(nn.Module):
    """A learned scale per channel (ConvNeXt, CaiT): y = γ·x, γ starting at ``init_value``."""

    def __init__(self, channels: int, spatial_dims: int = 2, init_value: float = 1e-6):
        super().__init__()
        self.channels, self.spatial_dims, self.init_value = channels, spatial_dims, init_value
        self.scale = nn.Parameter(torch.full((channels,) + (1,) * spatial_dims, float(init_value)))

    def forward(self, x):
        return self.scale * x

    def extra_repr(self):
        return f"{self.channels}, spatial_dims={self.spatial_dims}, init_value={self.init_value}"


class StochasticDepth(nn.Module):
    """Drops the whole residual branch with probability ``p`` in training (per sample: "row", or
    for the batch: "batch") and scales the rest by 1/(1 − p); the identity at inference."""

    def __init__(self, p: float = 0.1, mode: str = "row"):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise = noise / survival
        return x * noise

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode!r}"
