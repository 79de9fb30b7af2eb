"""A composite block and its opened inside report the same diagnostics: the block's are exactly
its inner blocks' (no warning is hidden while closed and shown when opened)."""
import pytest

from engine import Design, analyze
from engine.blocks import get as block

CASES = [("residual_basic", {"out_channels": 128, "stride": 2}, (64, 56, 56)),
         ("residual_basic", {"out_channels": 64, "stride": 2}, (64, 57, 57)),
         ("residual_bottleneck", {"width": 128, "stride": 2}, (256, 56, 56)),
         ("inception_v1", {"batch_norm": True}, (192, 28, 28)),
         ("separable_block", {"out_channels": 64, "stride": 2}, (32, 15, 15)),
         ("aux_head", {}, (512, 14, 14))]


def _closed(name, params, shape):
    d = Design()
    d.chain(("input", {"shape": list(shape)}), (name, params))
    return d


def _opened(name, params, shape):
    d = Design()
    first = d.add_node("input", {"shape": list(shape)}).id
    sub = block(name).expand(block(name).validate_params(params), [tuple(shape)])
    for local, key, p in sub.nodes:
        d.add_node(key, p, node_id=local)
    for src, dst, port in sub.edges:
        d.connect(first if src == "$in0" else src, dst, "out", port)
    return d


def _codes(design):
    return sorted((x.severity, x.code) for x in analyze(design).diagnostics if x.code != "unused")


@pytest.mark.parametrize("name, params, shape", CASES)
def test_closed_and_opened_blocks_report_alike(name, params, shape):
    assert _codes(_closed(name, params, shape)) == _codes(_opened(name, params, shape))


def test_a_pointwise_strided_conv_subsamples_without_a_warning():
    """torchvision's ResNet downsamples its shortcut with a 1×1 stride-2 conv: on an even size it
    skips the last row as it skips every other row, by design; wider windows still warn."""
    for kernel, warns in ((1, False), (3, True)):
        d = Design()
        ids = d.chain(("input", {"shape": [64, 56, 56]}),
                      ("conv2d", {"out_channels": 128, "kernel": kernel, "stride": 2}))
        codes = [x.code for x in analyze(d).nodes[ids[1]].diagnostics]
        assert ("uneven-stride" in codes) == warns, kernel
