"""The automatic layout (engine.layout): stages in columns, branches side by side, every node
placed once and no two overlapping, whatever the graph."""
import random
import time

import pytest

from engine import Design, analyze, templates
from engine.blocks import get as block
from engine.layout import Sizes, auto_layout, edge_route, layout_opened

SIZES = Sizes()


def _boxes_overlap(pos, sizes=SIZES):
    boxes = sorted((x, y, n) for n, (x, y) in pos.items())
    for i, (x, y, a) in enumerate(boxes):
        for x2, y2, b in boxes[i + 1:]:
            if x2 >= x + sizes.node_width:
                break
            if abs(y2 - y) < sizes.node_height:
                return a, b
    return None


def _fit_zoom(pos, sizes=SIZES):
    width = max(x for x, _ in pos.values()) + sizes.node_width - min(x for x, _ in pos.values())
    height = max(y for _, y in pos.values()) + sizes.node_height - min(y for _, y in pos.values())
    return min(1.0, sizes.view[0] / (width + 2 * sizes.margin), sizes.view[1] / (height + 2 * sizes.margin))


@pytest.mark.parametrize("name", templates.names())
def test_every_template_is_laid_out_without_overlaps(name):
    design = templates.build(name)
    pos = auto_layout(design)
    assert set(pos) == set(design.nodes)
    assert _boxes_overlap(pos) is None
    assert min(x for x, _ in pos.values()) == 0 and min(y for _, y in pos.values()) == 0


@pytest.mark.parametrize("name, least", [("lenet5", 0.75), ("resnet50", 0.5), ("googlenet", 0.5), ("resnet18", 0.75)])
def test_whole_networks_fit_a_landscape_canvas_readably(name, least):
    pos = auto_layout(templates.build(name))
    assert _fit_zoom(pos) >= least
    assert len({x for x, _ in pos.values()}) > 1  # wrapped into columns


def test_columns_break_between_stages_and_follow_the_flow():
    design = templates.build("resnet50")
    pos = auto_layout(design)
    order = design.topological_order()
    columns = sorted({pos[n][0] for n in order})
    # Reading down each column, then the next column, is the network's order.
    reading = sorted(order, key=lambda n: (columns.index(pos[n][0]), pos[n][1]))
    assert reading == order
    # Each stage of bottleneck blocks stays within one column.
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert len({pos[n][0] for n in order if n.startswith(stage)}) == 1, stage


def test_a_short_chain_stays_one_column():
    d = Design()
    d.chain(("input", {"shape": [3, 32, 32]}), ("conv2d", {"out_channels": 8, "padding": 1}), "relu",
            ("residual_basic", {"out_channels": 8}), "global_avgpool", ("linear", {"out_features": 10}), "output")
    pos = auto_layout(d)
    assert len({x for x, _ in pos.values()}) == 1
    assert len({y for _, y in pos.values()}) == len(pos)


def test_side_branches_hang_beside_the_main_column():
    design = templates.build("googlenet", aux_heads=True)
    pos = auto_layout(design)
    assert _boxes_overlap(pos) is None
    for aux, src in (("aux1", "inception4a"), ("aux2", "inception4d")):
        assert pos[aux][0] > pos[src][0] and pos[aux][1] == pos[src][1] + SIZES.row
        assert pos[f"{aux}_output"] == (pos[aux][0], pos[aux][1] + SIZES.row)


def _opened(name: str, params: dict, shape=(64, 56, 56)):
    """The inside of a composite as a design: a fork node feeding it, then its nodes."""
    d = Design()
    first = d.add_node("input", {"shape": list(shape)}, node_id="x").id
    sub = block(name).expand(block(name).validate_params(params), [tuple(shape)])
    for local, key, p in sub.nodes:
        d.add_node(key, p, node_id=local)
    for src, dst, port in sub.edges:
        d.connect(first if src == "$in0" else src, dst, "out", port)
    return d, [local for local, _, _ in sub.nodes], sub


def test_opened_residual_block_puts_the_shortcut_beside_the_main_branch():
    for params, shortcut in (({"out_channels": 64}, []), ({"out_channels": 128, "stride": 2},
                                                          ["downsample_0", "downsample_1"])):
        d, inner, _ = _opened("residual_basic", params)
        pos = layout_opened(d, inner, (0.0, 0.0))
        assert set(pos) == set(inner) and _boxes_overlap(pos) is None
        main = ["conv1", "bn1", "relu1", "conv2", "bn2"]
        centre = SIZES.node_width / 2  # the block's column: where the fork and the add stand
        assert pos["add"][0] == pos["relu"][0] == 0.0
        assert {pos[n][0] for n in main} == {pos["conv1"][0]} and pos["conv1"][0] + SIZES.node_width < centre
        if shortcut:  # its own column on the other side, first and last rows like the main branch
            assert all(pos[n][0] > centre for n in shortcut)
            assert pos["downsample_0"][1] == pos["conv1"][1] and pos["downsample_1"][1] == pos["bn2"][1]
        else:  # the identity edge runs straight down a free lane: nothing on the centre line
            assert all(not (x <= centre <= x + SIZES.node_width) for n, (x, _) in pos.items() if n in main)


def test_opened_inception_branches_stand_side_by_side_in_concat_order():
    d, inner, sub = _opened("inception_v1", {"batch_norm": True}, (192, 28, 28))
    pos = layout_opened(d, inner, (0.0, 0.0))
    assert set(pos) == set(inner) and _boxes_overlap(pos) is None
    concat = next(n for n, key, _ in sub.nodes if key == "concat")
    feeding = [src for src, dst, _ in sub.edges if dst == concat]
    xs = [pos[n][0] for n in feeding]
    assert xs == sorted(xs) and len(set(xs)) == 4
    last_row = pos[concat][1] - SIZES.row
    first_row = min(y for _, y in pos.values())
    assert all(pos[n][1] == last_row for n in feeding)  # every branch ends right above the concat
    firsts = [dst for src, dst, _ in sub.edges if src == "$in0"]
    assert all(pos[n][1] == first_row for n in firsts)  # and starts in the first row


def test_nested_branches_of_inception_v2c():
    d, inner, _ = _opened("inception_v2c", {}, (1280, 8, 8))
    pos = layout_opened(d, inner, (100.0, 50.0))
    assert set(pos) == set(inner) and _boxes_overlap(pos) is None
    assert min(y for _, y in pos.values()) == 50.0


def test_a_subset_is_laid_out_where_it_stands():
    design = templates.build("lenet5")
    ids = ["conv1", "act1", "pool1"]
    for i, n in enumerate(ids):
        design.move(n, (500 + 37 * i, 300 - 11 * i))
    pos = auto_layout(design, ids)
    assert set(pos) == set(ids)
    assert min(y for _, y in pos.values()) == 278
    assert {x for x, _ in pos.values()} == {537.0}
    assert [pos[n][1] for n in ids] == sorted(pos[n][1] for n in ids)


def _random_design(seed: int, size: int) -> Design:
    rng = random.Random(seed)
    d = Design()
    ids = [d.add_node("input", {"shape": [8, 16, 16]}).id]
    for _ in range(size):
        kind = rng.random()
        if kind < 0.15 and len(ids) > 2:
            node = d.add_node(rng.choice(["add", "concat"])).id
            for src in rng.sample(ids[-8:], min(3, len(ids[-8:]))):
                d.connect(src, node)
        elif kind < 0.2:
            node = d.add_node("input", {"shape": [8, 16, 16]}).id
        else:
            node = d.add_node("relu").id
            d.connect(rng.choice(ids[-5:]) if rng.random() < 0.8 else rng.choice(ids), node)
        ids.append(node)
    return d


@pytest.mark.parametrize("seed", range(12))
def test_any_graph_gets_every_node_placed_once_without_overlaps(seed):
    design = _random_design(seed, 60)
    pos = auto_layout(design)
    assert set(pos) == set(design.nodes)
    assert _boxes_overlap(pos) is None
    subset = list(design.nodes)[5:30]
    assert set(auto_layout(design, subset)) == set(subset)


def test_long_chains_are_laid_out_quickly_and_no_wider_than_readable():
    d = Design()
    d.chain(("input", {"shape": [3, 32, 32]}), *(["relu"] * 3000), "output")
    t = time.perf_counter()
    pos = auto_layout(d)
    assert time.perf_counter() - t < 2.0
    width = max(x for x, _ in pos.values()) + SIZES.node_width
    assert width <= SIZES.view[0] / SIZES.min_zoom
    assert _boxes_overlap(pos) is None


def test_edges_going_up_take_the_lane_between_columns():
    assert edge_route((100, 200), (100, 300)) is None  # going down: a curve
    route = edge_route((120, 800), (450, 0))
    assert route[0] == (120, 800) and route[-1] == (450, 0)
    lane = (120 + 450) / 2
    assert route[2][0] == route[3][0] == lane and route[3][1] < 0 < 800 < route[2][1]
    beside = edge_route((120, 500), (130, 100))  # one above the other: around the side
    assert beside[2][0] > 130 + SIZES.node_width / 2


def test_analysis_unchanged_by_layout():
    design = templates.build("resnet18")
    before = analyze(design).total_params
    for node_id, pos in auto_layout(design).items():
        design.move(node_id, pos)
    assert analyze(design).total_params == before


def test_designs_written_by_the_cli_are_laid_out_as_the_app_lays_them_out(tmp_path):
    from engine import templates
    from engine.cli import main
    from engine.layout import auto_layout, sizes_for
    from engine.persistence import load
    out = tmp_path / "r50.json"
    assert main(["template", "resnet50", "--out", str(out)]) == 0
    design = load(out)
    expected = auto_layout(templates.build("resnet50"), None, sizes_for(design))
    assert {n: tuple(node.pos) for n, node in design.nodes.items()} == \
        {n: (round(x, 1), round(y, 1)) for n, (x, y) in expected.items()}


def test_a_short_drop_straight_down_is_a_plain_edge_not_a_detour():
    """A node with an error is drawn taller than its slot: the gap to the next node shrinks,
    and the edge must still go straight down rather than loop out to a lane."""
    from engine.layout import edge_route
    assert edge_route((100.0, 0.0), (100.0, 35.0)) is None
    assert edge_route((100.0, 0.0), (110.0, 12.0)) is None
    assert edge_route((100.0, 500.0), (400.0, 0.0)) is not None  # up to the next column: a lane


def test_imported_modules_are_laid_out_as_the_app_lays_them_out():
    """Whoever imports (the command line, the Import dialog, a script) gets the app's layout,
    not the trace's one row of nodes 160 apart (DenseNet's 433 nodes crossed 175 long edges)."""
    from torch import nn

    from engine.export import import_module
    from engine.layout import sizes_for
    module = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                           nn.Flatten(), nn.Linear(8 * 8 * 8, 10))
    design, _report = import_module(module, (3, 8, 8))
    positions = {n: design.nodes[n].pos for n in design.nodes}
    assert positions == auto_layout(design, None, sizes_for(design))
    assert len({y for _x, y in positions.values()}) > 1  # not the trace's one row
