"""Property: any sequence of edits through the document, then undo all, restores the original
design exactly (compared as the saved file would be); redo all restores the edited one."""
from hypothesis import HealthCheck, given, settings, strategies as st

from designer.document import Document
from engine import templates

from .helpers import snapshot

BLOCKS = ["conv2d", "relu", "maxpool2d", "batchnorm2d", "concat", "add", "linear", "flatten", "dropout",
          "residual_basic"]
EDITS = st.lists(st.tuples(st.sampled_from(["add", "append", "connect", "remove", "param", "move", "label",
                                            "duplicate", "remove_edge", "open", "group", "layout", "meta"]),
                           st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=14)


def _pick(seq, k):
    seq = list(seq)
    return seq[k % len(seq)] if seq else None


def _apply(doc: Document, edit, a: int, b: int) -> None:
    design = doc.design
    ids = list(design.nodes)
    if edit == "add":
        doc.add_node(BLOCKS[a % len(BLOCKS)], pos=(a % 500, b % 500))
    elif edit == "append":
        doc.append_block(BLOCKS[a % len(BLOCKS)], _pick(ids, b))
    elif edit == "connect" and ids:
        doc.connect(_pick(ids, a), _pick(ids, b))
    elif edit == "remove" and ids:
        doc.remove([_pick(ids, a)] + ([_pick(ids, b)] if b % 3 == 0 else []))
    elif edit == "remove_edge" and design.edges:
        doc.remove(edges=[_pick(design.edges, a)])
    elif edit == "param":
        convs = [n for n in ids if design.nodes[n].block == "conv2d"]
        if convs:
            doc.set_params(_pick(convs, a), {"out_channels": 1 + b % 64}, merge_token=("p", b % 2))
    elif edit == "move" and ids:
        n = _pick(ids, a)
        doc.move_nodes({n: (design.nodes[n].pos, (b % 900, a % 900))})
    elif edit == "label" and ids:
        doc.set_label(_pick(ids, a), f"layer {b}")
    elif edit == "duplicate" and ids:
        doc.duplicate([_pick(ids, a), _pick(ids, b)])
    elif edit == "open":
        composites = [n for n in ids if design.spec(design.nodes[n].block).is_composite]
        if composites:
            doc.open_composite(_pick(composites, a))
    elif edit == "group" and ids:
        middle = [n for n in ids if design.nodes[n].block not in ("input", "output")]
        if middle:
            doc.group([_pick(middle, a)], f"block {b}")
    elif edit == "layout":
        doc.auto_layout()
    elif edit == "meta":
        doc.set_meta(num_classes=1 + a % 20)
    doc.refresh()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_undo_all_restores_the_original(qapp, edits):
    design = templates.build("resnet18", input_shape=(3, 32, 32), num_classes=10)
    doc = Document(design)
    original = snapshot(design)
    for edit in edits:
        _apply(doc, *edit)
        design.lint()  # every edit and every undo/redo step keeps the model's invariants
    edited = snapshot(design)
    stack = doc.undo_stack
    while stack.canUndo():
        stack.undo()
        design.lint()
    assert snapshot(design) == original
    while stack.canRedo():
        stack.redo()
        design.lint()
    assert snapshot(design) == edited
    doc.close()
    doc.deleteLater()
