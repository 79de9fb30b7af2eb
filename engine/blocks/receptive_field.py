"""Receptive field bookkeeping: (size, jump) per spatial axis, composed layer by layer.

size_out = size_in + (k_eff − 1)·jump_in and jump_out = jump_in·stride (Araujo et al., 2019).
"""
from __future__ import annotations

from .base import GLOBAL_RF


def compose_rf(in_rfs, step, out_shape):
    """Receptive field (size, jump) per spatial axis of a node's output, from its inputs' fields.

    ``step`` is the block's ``Inference.rf``; a node without inputs (Input) starts the field.
    """
    if not in_rfs:
        return step if isinstance(step, tuple) else None
    if len(in_rfs) == 1:  # the common case, kept short: this runs for every node of a design
        return compose_one(in_rfs[0], step, len(out_shape))
    if len(in_rfs) == 2 and step is None and len(out_shape) == 3:
        # Add after a residual branch (images, element-wise): the widest field, the coarsest
        # grid, written out (the general case below makes lists and generators for it).
        first, second = in_rfs
        if first and second and len(first) == 2 and len(second) == 2:
            (s0, j0), (s1, j1) = first
            (t0, k0), (t1, k1) = second
            return ((s0 if s0 >= t0 else t0, j0 if j0 >= k0 else k0),
                    (s1 if s1 >= t1 else t1, j1 if j1 >= k1 else k1))
    known = [r for r in in_rfs if r]
    if not known or len(out_shape) < 2:
        return None
    base = known[0]
    if len(known) > 1:
        axes = len(base)
        if all(len(r) == axes for r in known):  # merge branches: the widest field, the coarsest grid
            base = tuple((max(r[a][0] for r in known), max(r[a][1] for r in known)) for a in range(axes))
    return compose_one(base, step, len(out_shape))


def compose_one(base, step, out_rank: int):
    """The field of an output of rank ``out_rank`` (channels first) after ``step``, from one
    input's field ``base``."""
    if not base or out_rank < 2:
        return None
    if step is None:  # element-wise: the field is unchanged
        return base if len(base) == out_rank - 1 else None
    if step == GLOBAL_RF or len(step) != len(base):
        return None
    if len(base) == 2:  # images: written out, this runs for every convolution and pooling
        (size0, jump0), (size1, jump1) = base
        (k0, s0), (k1, s1) = step
        return (size0 + (k0 - 1) * jump0, jump0 * s0), (size1 + (k1 - 1) * jump1, jump1 * s1)
    return tuple([(size + (k - 1) * jump, jump * s) for (size, jump), (k, s) in zip(base, step)])
