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
        base = in_rfs[0]
        if not base or len(out_shape) < 2:
            return None
        if step is None:
            return base if len(base) == len(out_shape) - 1 else None
        if step == GLOBAL_RF or len(step) != len(base):
            return None
        return tuple([(size + (k - 1) * jump, jump * s) for (size, jump), (k, s) in zip(base, step)])
    known = [r for r in in_rfs if r]
    if not known or len(out_shape) < 2:
        return None
    if len(known) == 1 or len({len(r) for r in known}) > 1:
        base = known[0]
    else:  # merge branches: the widest field, the coarsest grid
        base = tuple((max(r[a][0] for r in known), max(r[a][1] for r in known)) for a in range(len(known[0])))
    if step is None:
        return base if len(base) == len(out_shape) - 1 else None
    if step == GLOBAL_RF:
        return None
    if len(step) != len(base):
        return None
    return tuple((size + (k - 1) * jump, jump * s) for (size, jump), (k, s) in zip(base, step))
