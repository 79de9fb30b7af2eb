"""`explain DESIGN --weights RUN_OR_FILE --method METHOD [--node ID] [--channel N] [--class C]
[--sample I] --out DIR`: pictures of what a trained network responds to, as PNG files.

Methods: top-patches (the samples exciting a channel most, cropped to what its unit sees; all
channels without --channel), occlusion, gradcam, saliency (where the network looked for one
validation sample), maximise (inputs grown to excite each channel, or a class with --class and no
--node), neighbours (nearest validation samples in the last hidden layer and in pixels, and a PCA
of that layer). Exit codes: 0 written, 2 bad input (design, weights, node, dataset).
"""
from __future__ import annotations

import sys
from pathlib import Path

METHODS = ("top-patches", "occlusion", "gradcam", "saliency", "maximise", "neighbours")


def add_parser(sub) -> None:
    p = sub.add_parser("explain", help="pictures of what a trained network responds to (PNG files)",
                       description=__doc__.split("\n\n")[1])
    p.add_argument("design", help="the design file (.json)")
    p.add_argument("--weights", required=True, help="a run folder or a weights file (.safetensors/.pt)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--node", help="the layer (node id); default: a convolution suited to the method")
    p.add_argument("--channel", type=int, help="one channel of the layer (default: all)")
    p.add_argument("--class", dest="class_index", type=int, metavar="C", help="the class to explain (default: the predicted)")
    p.add_argument("--sample", type=int, default=0, help="index of the validation sample (default 0)")
    p.add_argument("--dataset", help="the dataset (default: the run's own); needed for a bare weights file")
    p.add_argument("--k", type=int, default=8, help="patches or neighbours to show (default 8)")
    p.add_argument("--patch", type=int, default=None, help="occlusion patch size in pixels (default: ⅛ of the input)")
    p.add_argument("--stride", type=int, default=None, help="occlusion stride (default: half the patch)")
    p.add_argument("--steps", type=int, default=64, help="activation-maximisation steps (default 64)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    p.add_argument("--out", required=True, help="the folder to write the PNG files to")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..errors import EngineError
    try:
        written = _run(args)
    except EngineError as e:
        print(f"explain: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("explain: interrupted", file=sys.stderr)
        return 130
    for path in written:
        print(path)
    return 0


def _progress(method: str):
    def show(fraction: float) -> None:
        if sys.stderr.isatty():
            print(f"\r{method}: {fraction:4.0%}", end="\n" if fraction >= 1 else "", file=sys.stderr, flush=True)
    return show


def _conv_nodes(explainer) -> list[str]:
    nodes = [n for n in explainer.feature_nodes() if explainer.design.nodes[n].block.startswith("conv")]
    return nodes or explainer.feature_nodes()


def _run(args) -> list[Path]:
    from .. import explain as ex
    from ..errors import DesignFileError
    from ..explain import figures
    from ..explain.render import save
    from ..persistence import load

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    try:
        design = load(args.design)
    except DesignFileError as e:
        raise ex.ExplainError(f"cannot read {args.design}: {e}") from None
    explainer, bundle = ex.load_explainer(design, args.weights, args.dataset)
    out, m, classes = Path(args.out), args.method, explainer.classes
    progress = _progress(m)
    convs = _conv_nodes(explainer)
    if not convs and m in ("top-patches", "gradcam") and not args.node:
        raise ex.ExplainError("the design has no layer with feature maps; name one with --node")
    n_val = len(bundle.val)
    if not 0 <= args.sample < n_val:
        raise ex.ExplainError(f"--sample {args.sample} does not exist: the validation set has {n_val} (0 to {n_val - 1})")
    sample = bundle.val[args.sample][0].numpy()
    channels = None if args.channel is None else [args.channel]
    if m == "top-patches":
        node = args.node or convs[0]
        results = ex.top_patches(explainer, bundle.val, node, channels, k=args.k, progress=progress)
        tag = f"{node}-ch{args.channel}" if channels else node
        paths = [save(figures.patches_figure(results, classes), out / f"top-patches-{tag}.png")]
        if channels:
            paths.append(save(figures.patches_figure(results, classes, whole=True), out / f"top-samples-{tag}.png"))
        return paths
    if m == "occlusion":
        size = args.patch or max(1, min(explainer.input_shape[1:] or (8,)) // 8)  # (F,): occlusion says why not
        heat = ex.occlusion(explainer, sample, args.class_index, size, args.stride or max(1, size // 2),
                            progress=progress)
        return [save(figures.heatmap_figure(heat, classes), out / f"occlusion-s{args.sample}.png")]
    if m == "gradcam":
        # The last convolution whose map still has a place to point at (LeNet's C5 is 1×1).
        spread = [n for n in convs if any(v > 1 for v in explainer.report.nodes[n].shape[1:])]
        node = args.node or (spread or convs)[-1]
        heat = ex.gradcam(explainer, sample, node, args.class_index, progress=progress)
        return [save(figures.heatmap_figure(heat, classes), out / f"gradcam-{node}-s{args.sample}.png")]
    if m == "saliency":
        heat = ex.saliency(explainer, sample, args.class_index, progress=progress)
        return [save(figures.heatmap_figure(heat, classes), out / f"saliency-s{args.sample}.png")]
    if m == "maximise":
        node = args.node or (None if args.class_index is not None else convs[0])
        result = ex.maximise(explainer, node, channels, args.class_index, steps=args.steps, progress=progress)
        tag = node or f"class{args.class_index}"
        return [save(figures.maximised_figure(result, classes), out / f"maximise-{tag}.png")]
    near = ex.nearest_neighbours(explainer, bundle.val, args.sample, args.node, k=args.k, progress=progress)
    pca = ex.projection(explainer, bundle.val, near.node_id, progress=progress)
    return [save(figures.neighbours_figure(near, classes), out / f"neighbours-s{args.sample}.png"),
            save(figures.projection_figure(pca, classes), out / f"pca-{near.node_id}.png")]
