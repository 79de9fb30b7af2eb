"""TensorBoard event files for a run, beside its other files (``RUN_DIR/events.out.tfevents.*``).

An event sink: the trainer hands it every event it emits (:meth:`TensorBoardLog.__call__`), in the
training thread, between batches. Written only when the optional extra is installed
(``pip install '.[tensorboard]'``) and the run has a folder; :func:`open_log` returns None
otherwise, and nothing is said (a run without TensorBoard is a normal run). ``ND_TENSORBOARD=0``
turns it off with the package installed.

What is written (``tensorboard --logdir runs/`` shows every run folder under ``runs/``):

    batch/loss, batch/accuracy, batch/lr      each BatchProgress (the trainer's rate, ≤ 30 a second),
                                              step = optimizer steps since the start of training;
                                              loss and accuracy are the window's since the previous one
    epoch/<key>                               each EpochEnd, the values of its metrics.jsonl row
                                              (train_loss, train_accuracy, val_loss, val_accuracy,
                                              val_top5 with 6+ classes, lr, seconds), step = epoch (1-based)
    filters/<node>                            the first convolution's weights at the start (step 0) and
                                              at each epoch end, one tile per filter
    feature_maps/<node>                       its output for the first validation sample at each epoch end,
                                              and the latest maps of the layers the run samples (the app's
                                              feature-map view), one tile per channel
    graph                                     the compiled module's fx graph, with the output shapes
                                              of one validation sample (a module that is not an fx graph
                                              gets a text note instead)
    config                                    the run's configuration (text)

SummaryWriter queues events to a writer thread; a progress event is one record (about 0.05-0.3 ms
of the training thread's CPU here), the images are a few kilobytes, written at epoch ends only. A
failure here never reaches the run: the first one is recorded as a text note in the event file
(when it can be) and the log stops.
"""
from __future__ import annotations

import contextlib
import json
import os
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import events

MAX_TILES = 64          # filters in one image
MAX_MAP_TILES = 32      # channels in one feature-map image
MIN_TILE_PIXELS = 32    # small tiles (5×5 filters) are enlarged, nearest neighbour, up to this
MAX_TILE_PIXELS = 48    # large ones (112×112 maps) are shrunk (area average): the image stays small
MAX_TAPPED_IMAGES = 4   # sampled layers written per epoch (the app may sample many)


def available() -> bool:
    """The optional extra is installed (and not turned off with ND_TENSORBOARD=0)."""
    return _writer_class() is not None


def _writer_class() -> Any:
    if os.environ.get("ND_TENSORBOARD", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the extra is not installed: the run simply writes no event files
        return None
    return SummaryWriter


def open_log(run_dir, model, design, config, example: Callable[[], Any]) -> TensorBoardLog | None:
    """The sink of one run writing into ``run_dir``, or None without TensorBoard. ``model`` is the
    module being trained (read between batches only), ``example`` makes one normalised validation
    sample on the training device (for the graph and the feature maps)."""
    writer_class = _writer_class()
    if writer_class is None:
        return None
    try:
        writer = writer_class(log_dir=str(run_dir), flush_secs=30)
    except Exception:  # noqa: BLE001 - an unwritable folder: the run's own writes report it
        return None
    return TensorBoardLog(writer, model, design, config, example)


class TensorBoardLog:
    def __init__(self, writer, model, design, config, example: Callable[[], Any]):
        self.writer, self.model, self.design, self.config = writer, model, design, config
        self._example_maker = example
        self._example: Any = None
        self._first_conv: tuple[str, str] | None = None
        self._looked_up = False
        self._tapped: events.FeatureMaps | None = None  # the latest sampled maps of this epoch
        self.failed = ""

    # -- the sink ---------------------------------------------------------------------------
    def __call__(self, event) -> None:
        if self.writer is None:
            return
        try:
            self._write(event)
        except Exception as e:  # noqa: BLE001 - TensorBoard must never end or slow a run
            self._give_up(e)

    def _write(self, event) -> None:
        if isinstance(event, events.BatchProgress):
            self._scalars({"batch/loss": event.loss, "batch/accuracy": event.accuracy, "batch/lr": event.lr},
                          event.step)
        elif isinstance(event, events.EpochEnd):
            step = event.epoch + 1
            self._scalars({f"epoch/{k}": v for k, v in event.as_row().items() if k != "epoch" and v is not None}, step)
            self._images(step)
        elif isinstance(event, events.FeatureMaps):
            self._tapped = event
        elif isinstance(event, events.RunStarted):
            self._run_started(event)
        elif isinstance(event, events.Finished):
            self.close()

    def _scalars(self, values: dict[str, float], step: int) -> None:
        """Several scalars in one event record (add_scalar writes a record each: three times the
        serialising and checksumming in the writer thread, which shares the interpreter's lock)."""
        from tensorboard.compat.proto.summary_pb2 import Summary
        from torch.utils.tensorboard.summary import scalar
        summary = Summary(value=[v for tag, value in values.items() for v in scalar(tag, float(value)).value])
        self.writer._get_file_writer().add_summary(summary, step)

    def _run_started(self, event: events.RunStarted) -> None:
        w = self.writer
        w.add_text("config", "```\n" + json.dumps(self.config.to_dict(), indent=2, default=str) + "\n```",
                   event.start_epoch)
        w.add_custom_scalars({"epochs": {
            "loss": ["Multiline", ["epoch/train_loss", "epoch/val_loss"]],
            "accuracy": ["Multiline", ["epoch/train_accuracy", "epoch/val_accuracy"]]}})
        if not event.start_epoch:
            self._filters(0)
        self._graph()

    def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    def _give_up(self, error: BaseException) -> None:
        self.failed = f"{type(error).__name__}: {error}"
        with contextlib.suppress(Exception):
            self.writer.add_text("notes", f"TensorBoard logging stopped: {self.failed}\n\n"
                                          f"```\n{traceback.format_exc()}\n```")
        self.close()

    # -- what is drawn ----------------------------------------------------------------------
    def _example_input(self):
        if self._example is None:
            self._example = self._example_maker()
        return self._example

    def _graph(self) -> None:
        """The compiled module's fx graph as TensorBoard's graph (built from the graph the trainer
        runs, with the shapes of one validation sample: milliseconds, where ``add_graph``'s
        TorchScript trace takes seconds and is deprecated)."""
        from tensorboard.compat.proto import event_pb2
        try:
            graph = fx_graph_def(self.model, self._example_input())
        except Exception as e:  # noqa: BLE001 - a module that is not an fx graph, or whose shapes do not propagate
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
            self.writer.add_text("notes", f"graph not written: the model could not be traced ({first})", 0)
            return
        # SummaryWriter.add_graph takes a module and traces it; the file writer takes a GraphDef
        self.writer._get_file_writer().add_event(event_pb2.Event(graph_def=graph.SerializeToString()))

    def _conv(self) -> tuple[str, str] | None:
        if not self._looked_up:
            from .inspect import first_conv_node
            self._first_conv = first_conv_node(self.design, getattr(self.model, "node_names", {}))
            self._looked_up = True
        return self._first_conv

    def _filters(self, step: int) -> None:
        conv = self._conv()
        if conv is None:
            return
        node_id, module_name = conv
        weight = getattr(self.model.get_submodule(module_name), "weight", None)
        if weight is not None:
            image = filter_grid(weight.detach().float().cpu())
            if image is not None:
                self.writer.add_image(f"filters/{node_id}", image, step, dataformats="CHW")

    def _images(self, step: int) -> None:
        self._filters(step)
        conv = self._conv()
        if conv is not None:
            maps = self._conv_output(conv[1])
            image = map_grid(maps) if maps is not None else None
            if image is not None:
                self.writer.add_image(f"feature_maps/{conv[0]}", image, step, dataformats="CHW")
        tapped, self._tapped = self._tapped, None
        if tapped is not None:
            import torch
            for node_id, array in list(tapped.maps.items())[:MAX_TAPPED_IMAGES]:
                if conv is not None and node_id == conv[0]:
                    continue  # drawn above, from the epoch's final weights
                image = map_grid(torch.as_tensor(array))
                if image is not None:
                    self.writer.add_image(f"feature_maps/{node_id}", image, step, dataformats="CHW")

    def _conv_output(self, module_name: str):
        """The first convolution's output [C, ...] for the example, by one forward in eval mode
        (no gradients, no running statistics or random numbers used: the run is unchanged)."""
        import torch
        captured = []

        def capture(_module, _inputs, out):
            captured.append(out[0].detach().float().cpu())
            raise _Captured  # the rest of the network is not needed
        handle = self.model.get_submodule(module_name).register_forward_hook(capture)
        try:
            with _eval_mode(self.model), torch.no_grad(), contextlib.suppress(_Captured):
                self.model(self._example_input())
        finally:
            handle.remove()
        return captured[0] if captured else None


class _Captured(Exception):
    """Ends a forward pass once the wanted activation is taken."""


def fx_graph_def(model, example) -> Any:
    """A TensorBoard GraphDef of an fx GraphModule: one node per fx node (a layer's op is its module
    class; nested modules are scopes), inputs from the graph's edges, the output shapes of one
    forward of ``example`` (eval mode, no gradients)."""
    import torch
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.node_def_pb2 import NodeDef
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.compat.proto.versions_pb2 import VersionDef
    from torch.fx.passes.shape_prop import ShapeProp

    graph = model.graph  # AttributeError for a module that is not an fx graph: the caller's note says so
    with _eval_mode(model), torch.no_grad():
        ShapeProp(model).propagate(example)
    names = {}
    for node in graph.nodes:
        target = str(node.target) if node.op in ("call_module", "get_attr") else node.name
        names[node] = target.replace(".", "/")
    nodes = []
    for node in graph.nodes:
        if node.op == "call_module":
            op = type(model.get_submodule(str(node.target))).__name__
        elif node.op == "call_function" or node.op == "call_method":
            op = getattr(node.target, "__name__", str(node.target))
        else:
            op = {"placeholder": "Input", "output": "Output", "get_attr": "Parameter"}.get(node.op, node.op)
        inputs = [names[n] for n in node.all_input_nodes]
        attr = {}
        meta = node.meta.get("tensor_meta")
        shape = getattr(meta, "shape", None)
        if shape is not None:
            dims = [TensorShapeProto.Dim(size=int(d)) for d in shape]
            attr["_output_shapes"] = AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))
        nodes.append(NodeDef(name=names[node], op=op, input=inputs, attr=attr))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))


@contextlib.contextmanager
def _eval_mode(model):
    """``model`` in eval mode for the block; every module's own mode (frozen layers stay in
    eval) is put back afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def filter_grid(weight) -> Any:
    """A [3, H, W] float image in [0, 1] of convolution weights [K, C, kh, kw] (or [K, C, k]):
    one tile per filter in colour when C is 3, else one grey tile per (filter, input channel),
    each tile scaled to its own range; None for other shapes."""
    if weight.dim() == 3:  # 1-D: each filter's channels are rows of one tile
        weight = weight.unsqueeze(1)  # K × 1 × C × k
    elif weight.dim() != 4:
        return None
    k, c = weight.shape[:2]
    if c == 3:
        tiles, per_row = weight[:MAX_TILES], 8
    else:
        tiles = weight.reshape(k * c, 1, *weight.shape[2:])[:MAX_TILES]
        per_row = c if 1 < c <= 8 else 8
    return _grid(tiles, per_row)


def map_grid(maps) -> Any:
    """A [3, H, W] image of feature maps [C, H, W] (or [C, L]: one row each), a grey tile per
    channel scaled to its own range; None for other shapes."""
    if maps.dim() == 2:
        maps = maps.unsqueeze(1)  # C × 1 × L
    if maps.dim() != 3:
        return None
    return _grid(maps[:MAX_MAP_TILES].unsqueeze(1), 8)


def _grid(tiles, per_row: int) -> Any:
    """Tiles [N, 1|3, h, w], each scaled to [0, 1], enlarged when small, shrunk when large, in a grid."""
    import torch

    tiles = tiles.float()
    h, w = tiles.shape[-2:]
    if max(h, w) > MAX_TILE_PIXELS:
        f = -(-max(h, w) // MAX_TILE_PIXELS)
        tiles = torch.nn.functional.adaptive_avg_pool2d(tiles, (-(-h // f), -(-w // f)))
    flat = tiles.reshape(len(tiles), -1)
    low, high = flat.min(1).values, flat.max(1).values
    span = torch.where(high > low, high - low, torch.ones_like(high))
    shape = (-1,) + (1,) * (tiles.dim() - 1)
    tiles = (tiles - low.view(shape)) / span.view(shape)
    scale = max(1, min(8, MIN_TILE_PIXELS // max(tiles.shape[-2:])))
    if scale > 1:
        tiles = tiles.repeat_interleave(scale, -2).repeat_interleave(scale, -1)
    n, channels, h, w = tiles.shape
    columns = min(per_row, n)
    rows = -(-n // columns)
    grid = torch.ones(3, rows * (h + 1) + 1, columns * (w + 1) + 1)  # white one-pixel lines between tiles
    for i, tile in enumerate(tiles):
        top, left = 1 + (i // columns) * (h + 1), 1 + (i % columns) * (w + 1)
        grid[:, top:top + h, left:left + w] = tile if channels == 3 else tile.expand(3, h, w)
    return grid


def event_files(run_dir) -> list[Path]:
    """The TensorBoard event files of a run folder (none without the extra)."""
    return sorted(Path(run_dir).glob("events.out.tfevents.*"))
