"""The graph rewrite that splits ONNX Runtime's fused layer norms: same model, same scores in effect."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest

from classifiers.graph import main, split_skip_layer_norms
from classifiers.loader import DEFAULT_MODEL
from classifiers.onnx_model import OnnxModel

TEXTS = ["you are a disgrace to this school and everyone knows it", "lovely assembly this morning, well done all",
         "go back where you came from", "the netball girls smashed it", "shut up you absolute idiot", "see you"]


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph") / "model"
    main([str(DEFAULT_MODEL), "--out", str(out)])
    return out


def _ops(path):
    return [node.op_type for node in onnx.load(str(path)).graph.node]


def test_every_skip_layer_norm_is_split(rewritten):
    before, after = _ops(DEFAULT_MODEL / "model.onnx"), _ops(rewritten / "model.onnx")
    assert before.count("SkipLayerNormalization") == 12
    assert "SkipLayerNormalization" not in after
    assert after.count("LayerNormalization") == 12
    assert after.count("Add") == before.count("Add") + 24


def test_the_shipped_folder_is_left_as_it_was(rewritten):
    assert (DEFAULT_MODEL / "model.onnx").read_bytes() != (rewritten / "model.onnx").read_bytes()
    assert "SkipLayerNormalization" in _ops(DEFAULT_MODEL / "model.onnx")


def test_onnx_runtime_does_not_fuse_them_back(rewritten, tmp_path):
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(rewritten / "model.onnx"), options, providers=["CPUExecutionProvider"],
                                 disabled_optimizers=["SkipLayerNormFusion"])
    assert "SkipLayerNormalization" not in _ops(tmp_path / "optimized.onnx")


def test_the_rewritten_model_scores_as_the_shipped_one(rewritten):
    # one window a batch: each text is quantized on its own, so only the rewrite differs
    shipped = OnnxModel(DEFAULT_MODEL, batch_size=1, workers=1, threads=1)
    split = OnnxModel(rewritten, batch_size=1, workers=1, threads=1)
    before, pooled_before = shipped.score(TEXTS, features=True)
    after, pooled_after = split.score(TEXTS, features=True)
    # a last-digit difference can move an activation by one int8 step: small, never a verdict's worth
    assert np.abs(after - before).max() < 0.05
    assert np.abs(pooled_after - pooled_before).mean() < 0.01
    assert [v.flagged for v in shipped.classify(TEXTS)] == [v.flagged for v in split.classify(TEXTS)]


def test_a_graph_without_fused_layer_norms_is_left_alone(rewritten):
    model = onnx.load(str(rewritten / "model.onnx"))
    assert split_skip_layer_norms(model) == 0
