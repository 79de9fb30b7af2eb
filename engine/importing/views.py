"""Rearrangements of a tensor (permute, transpose, view, reshape, contiguous) followed until
they mean something: the image itself, a channels-last view of it, or a channel shuffle."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import fx


def permutation(node: fx.Node, rank: int) -> list[int] | None:
    """The permutation (batch axis included) of a permute or transpose node, else None."""
    args: tuple[Any, ...] = tuple(node.args[1:])
    kwargs: dict[str, Any] = dict(node.kwargs)
    if node.target in ("permute", torch.permute):
        dims = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else \
            kwargs.get("dims", args)
        if len(dims) != rank or not all(isinstance(d, int) for d in dims):
            return None
        return [d % rank for d in dims]
    a = kwargs.get("dim0", args[0] if args else None)
    b = kwargs.get("dim1", args[1] if len(args) > 1 else None)
    if not isinstance(a, int) or not isinstance(b, int):
        return None
    perm = list(range(rank))
    perm[a % rank], perm[b % rank] = perm[b % rank], perm[a % rank]
    return perm


def channels_last(rank: int) -> list[int]:
    """(N, C, *spatial) → (N, *spatial, C) for a tensor of ``rank`` axes."""
    return [0, *range(2, rank), 1]


@dataclass
class View:
    """A tensor that is a rearrangement of a design node's output, not yet a block: ``ops`` are
    ``(kind, traced shape without batch, permutation or None)`` from that output on."""

    base: str
    ops: tuple


def resolve_view(base_shape: tuple, ops: tuple):
    """What a chain of rearrangements of an image of ``base_shape`` amounts to: ``"same"`` (it
    comes back unchanged), ``"channels_last"``, ``(block, params)``, or None (nothing known)."""
    ops = tuple(o for o in ops if o[0] != "contiguous")
    rank = len(base_shape) + 1
    if all(kind == "permute" for kind, _, _ in ops):
        perm = list(range(rank))
        for _, _, p in ops:
            perm = [perm[i] for i in p]
        if perm == list(range(rank)):
            return "same"
        if rank >= 3 and perm == channels_last(rank):
            return "channels_last"
        return None
    if len(ops) == 3 and ops[0][0] == "view" and ops[1][0] == "permute" and ops[2][0] == "view":
        split, swapped, back = ops[0][1], ops[1][2], ops[2][1]
        swap = list(range(rank + 1))
        swap[1], swap[2] = 2, 1
        if len(split) == len(base_shape) + 1 and split[0] * split[1] == base_shape[0] and \
                tuple(split[2:]) == tuple(base_shape[1:]) and swapped == swap and tuple(back) == tuple(base_shape):
            return ("channel_shuffle", {"groups": split[0]})
    return None

