"""The model's output layer, on its own: read from the ONNX graph, refitted, written back.

The shipped model ends in mean pooling (a 384-number summary of the post) and one linear layer
with a sigmoid per label. Everything before that layer stays frozen; refitting only the layer is
a logistic regression on the pooled features, which takes seconds on a CPU and needs no torch:

- ``python -m classifiers.train --head-only`` refits it on TweetEval plus school-domain sentences;
- ``monitor tune`` refits it (close to the shipped one) on a school's moderator feedback.

``fit_logistic`` is Newton's method with an L2 pull towards a prior layer, so that a few dozen
examples move the layer a little and never far from what it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the pooled features, before the output layer, as named in the exported graph
POOLED = "/inner/Div_output_0"
#: the output layer beside ``model.onnx``, readable without the onnx package
HEAD_FILE = "head.npz"


@dataclass(frozen=True)
class Head:
    """``probabilities = sigmoid(pooled @ weight + bias)``; ``weight`` is (features, labels)."""

    weight: np.ndarray
    bias: np.ndarray

    def probabilities(self, pooled: np.ndarray) -> np.ndarray:
        return _sigmoid(pooled @ self.weight + self.bias)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    l2: float = 1.0,
    prior_w: np.ndarray | None = None,
    prior_b: float = 0.0,
    iterations: int = 25,
) -> tuple[np.ndarray, float]:
    """One label's weights and bias minimising weighted log-loss + ``l2``·|w − prior_w|².

    ``weights`` of 0 leave an example out (no label for this head).
    """
    n, d = x.shape
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    keep = weights > 0
    x, y, weights = x[keep].astype(np.float64), y[keep].astype(np.float64), weights[keep]
    prior = np.zeros(d + 1)
    if prior_w is not None:
        prior[:d] = prior_w
        prior[d] = prior_b
    design = np.hstack([x, np.ones((len(x), 1))])
    theta = prior.copy()
    penalty = np.full(d + 1, 2.0 * l2)
    penalty[d] = 1e-6  # the bias is not pulled
    def loss(t: np.ndarray) -> float:
        z = design @ t
        return float(np.sum(weights * (np.logaddexp(0, z) - y * z)) + 0.5 * np.sum(penalty * (t - prior) ** 2))

    current = loss(theta)
    for _ in range(iterations):
        p = _sigmoid(design @ theta)
        gradient = design.T @ (weights * (p - y)) + penalty * (theta - prior)
        curvature = (design * (weights * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(curvature, gradient)
        size = 1.0
        while size > 1e-4:  # damped: a full Newton step can overshoot on nearly separable data
            candidate = theta - size * step
            value = loss(candidate)
            if value <= current:
                break
            size /= 2
        else:
            break
        theta, moved, current = candidate, size * np.max(np.abs(step)), value
        if moved < 1e-6:
            break
    return theta[:d], float(theta[d])


def read_head(model_path: Path) -> Head:
    """The output layer of an exported model (int8 or float)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    bias = inits["inner.head.bias"].astype(np.float32)
    if "inner.head.weight" in inits:
        return Head(inits["inner.head.weight"].astype(np.float32), bias)
    quantized = inits["inner.head.weight_quantized"].astype(np.float32)
    zero = inits["inner.head.weight_zero_point"].astype(np.float32)
    return Head(((quantized - zero) * inits["inner.head.weight_scale"]).astype(np.float32), bias)


def write_head(source: Path, target: Path, head: Head) -> None:
    """Copy ``source`` to ``target`` with ``head`` as its output layer (float, a few KB), and the
    pooled features as a second output, ``pooled``."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    # drop every node after the pooling: they lead only to the old output layer
    tail: set[str] = set()
    frontier = ["probabilities"]
    while frontier:
        name = frontier.pop()
        node = producers.get(name)
        if node is None or name == POOLED or node.name in tail:
            continue
        tail.add(node.name)
        frontier += list(node.input)
    kept = [node for node in graph.node if node.name not in tail]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in kept for name in node.input}
    old = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(old)
    graph.initializer.extend([
        numpy_helper.from_array(head.weight.astype(np.float32), "inner.head.weight"),
        numpy_helper.from_array(head.bias.astype(np.float32), "inner.head.bias"),
    ])
    graph.node.extend([
        helper.make_node("MatMul", [POOLED, "inner.head.weight"], ["head_matmul"], name="head/MatMul"),
        helper.make_node("Add", ["head_matmul", "inner.head.bias"], ["head_logits"], name="head/Add"),
        helper.make_node("Sigmoid", ["head_logits"], ["probabilities"], name="head/Sigmoid"),
    ])
    _save_with_pooled_output(model, head, target)


def add_pooled_output(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` with the pooled features as a second output, ``pooled``, and its
    own output layer beside it (``head.npz``); the layer in the graph is left exactly as it was."""
    import onnx

    _save_with_pooled_output(onnx.load(str(source)), read_head(source), target)


def _save_with_pooled_output(model: Any, head: Head, target: Path) -> None:
    """Save ``model`` at ``target`` with the pooled features as an output (added once), and ``head``
    beside it as ``head.npz``."""
    import onnx
    from onnx import TensorProto, helper

    graph = model.graph
    if not any(output.name == "pooled" for output in graph.output):
        graph.node.append(helper.make_node("Identity", [POOLED], ["pooled"], name="pooled/Identity"))
        graph.output.append(helper.make_tensor_value_info("pooled", TensorProto.FLOAT,
                                                          ["batch", head.weight.shape[0]]))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    save_head(head, target.with_name(HEAD_FILE))


def save_head(head: Head, path: Path) -> None:
    np.savez(path, weight=head.weight.astype(np.float32), bias=head.bias.astype(np.float32))


def load_head(path: Path) -> Head:
    """A layer saved by :func:`save_head` (the shipped model keeps its own as ``head.npz``)."""
    with np.load(path) as stored:
        return Head(stored["weight"], stored["bias"])
