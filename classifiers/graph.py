"""Rewrites of an exported model's graph that ONNX Runtime runs faster on a CPU, without retraining:
``python -m classifiers.graph FOLDER [--out OTHER_FOLDER]``.

ONNX Runtime's fused ``SkipLayerNormalization`` (residual add, bias and layer norm in one node, made
by its BERT optimizer) runs a plain scalar loop on the CPU: a batch of two tweets took 132 µs a node
against 39 µs for the same sum as two ``Add`` nodes and the standard ``LayerNormalization``, which
is vectorised (ONNX Runtime 1.32, AVX2). The shipped model has twelve of them, 14 % of its time.
:func:`split_skip_layer_norms` writes each as the three plain nodes; ``classifiers.onnx_model``
keeps ONNX Runtime from fusing them back.

The sum is the same, but rounded in a different order, and the int8 model quantizes each layer's
input with one scale per batch, so a last-digit difference can move a value by one quantization step:
scores move a little (see the model card), as they do with the batch a window is run in.

Needs the ``onnx`` package (the ``train`` extra); running the rewritten model does not.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

#: the ONNX Runtime graph optimizer that would fuse the split nodes back (``disabled_optimizers``)
SKIP_LAYER_NORM_FUSION = "SkipLayerNormFusion"


def split_skip_layer_norms(model) -> int:
    """Each ``SkipLayerNormalization`` of ``model`` (an ``onnx.ModelProto``, changed in place) as
    ``Add(input, skip)``, ``Add(bias)`` and ``LayerNormalization``; returns how many were split.

    A node whose extra outputs (mean, inverse deviation, the sum) are read is left alone."""
    from onnx import helper

    if any(node.op_type == "SkipLayerNormalization" for node in model.graph.node) and not any(
            o.domain in ("", "ai.onnx") and o.version >= 17 for o in model.opset_import):
        raise ValueError("LayerNormalization needs ONNX opset 17 or later; this model has "
                         f"{[(o.domain, o.version) for o in model.opset_import]}")
    nodes = []
    split = 0
    for node in model.graph.node:
        if node.op_type != "SkipLayerNormalization" or node.domain != "com.microsoft" or any(node.output[1:]):
            nodes.append(node)
            continue
        inputs = list(node.input) + [""] * (5 - len(node.input))
        data, skip, gamma, beta, bias = inputs[:5]
        epsilon = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = f"{node.name}_sum"
        nodes.append(helper.make_node("Add", [data, skip], [total], name=f"{node.name}_skip"))
        if bias:
            nodes.append(helper.make_node("Add", [total, bias], [f"{total}_bias"], name=f"{node.name}_bias"))
            total = f"{total}_bias"
        norm_inputs = [total, gamma] + ([beta] if beta else [])
        nodes.append(helper.make_node("LayerNormalization", norm_inputs, [node.output[0]], name=f"{node.name}_norm",
                                      axis=-1, epsilon=epsilon))
        split += 1
    if split:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return split


def rewrite_folder(folder: Path, out: Path | None = None) -> int:
    """Rewrite ``folder``'s ``model.onnx`` (into ``out``, a copy of the folder, when given)."""
    import onnx

    source = Path(folder) / "model.onnx"
    if out is not None and Path(out) != Path(folder):
        shutil.copytree(folder, out, dirs_exist_ok=True)
    target = Path(out or folder) / "model.onnx"
    model = onnx.load(str(source))
    split = split_skip_layer_norms(model)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m classifiers.graph", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="a model folder (model.onnx, model.json, tokenizer.json)")
    parser.add_argument("--out", type=Path, help="write a rewritten copy of the folder here instead")
    args = parser.parse_args(argv)
    split = rewrite_folder(args.folder, args.out)
    print(f"{split} SkipLayerNormalization nodes split into Add and LayerNormalization in {args.out or args.folder}")


if __name__ == "__main__":
    main()
