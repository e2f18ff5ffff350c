"""Another Hugging Face model in place of the shipped one (classifier.model = a local folder).

The test builds a tiny BERT text classifier, saves it with ``save_pretrained`` and loads it through
the configuration, as a school would point the monitor at a model it downloaded. transformers and
torch come with the ``test`` extra, so this runs for real.
"""

from __future__ import annotations

import pytest

from classifiers import load_classifier
from monitor.config import ClassifierSettings
from monitor.errors import ConfigError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ["hello", "school", "great", "stupid", "idiot", "hate", "you", "the", "is", "a"]


def build_model(folder, labels: list[str], multi_label: bool = False, bias: list[float] | None = None):
    folder.mkdir()
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    if bias is not None:
        # Make the outcome certain whatever the random weights: the bias decides.
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.copy_(torch.tensor(bias))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_local_transformers_model_is_loaded_through_the_settings(tmp_path):
    folder = build_model(tmp_path / "toxic-model", ["non-toxic", "toxic"], bias=[-2.0, 2.0])
    settings = ClassifierSettings(model=str(folder), label_map={"toxic": "offensive", "non-toxic": ""})
    classifier = load_classifier(settings)
    verdicts = classifier.classify(["you idiot", "hello school", "", "\u200b", "x" * 100_000])
    assert len(verdicts) == 5
    first = verdicts[0]
    assert set(first.labels) == {"offensive", "hate"}
    assert first.labels["offensive"] == pytest.approx(0.982, abs=0.001)  # softmax of (-2, 2)
    assert first.score == first.labels["offensive"]
    assert first.flagged
    assert first.model == str(folder)
    assert first.model_version and "+rules." in first.model_version
    assert verdicts[2].flagged is False and verdicts[2].score == 0.0


def test_multi_label_models_use_sigmoid_and_unmapped_labels_keep_their_names(tmp_path):
    folder = build_model(tmp_path / "multi", ["Toxic", "identity_hate", "obscene"], multi_label=True,
                         bias=[-3.0, 0.0, 3.0])
    settings = ClassifierSettings(model=str(folder), label_map={"Toxic": "offensive", "identity_hate": "hate"},
                                  rules=False)
    (verdict,) = load_classifier(settings).classify(["you stupid idiot"])
    assert verdict.labels["offensive"] == pytest.approx(0.0474, abs=0.001)
    assert verdict.labels["hate"] == pytest.approx(0.5, abs=0.001)
    assert verdict.labels["obscene"] == pytest.approx(0.9526, abs=0.001)
    assert verdict.score == verdict.labels["hate"]  # only offensive and hate make the headline score
    assert verdict.flagged  # 0.5 >= threshold 0.5


def test_rules_apply_to_other_models_too(tmp_path):
    folder = build_model(tmp_path / "calm", ["ok", "bad"], bias=[3.0, -3.0])
    classifier = load_classifier(ClassifierSettings(model=str(folder), label_map={"bad": "offensive", "ok": ""}))
    (verdict,) = classifier.classify(["I'm going to shoot up the school"])
    assert verdict.labels["offensive"] < 0.1
    assert verdict.flagged and verdict.labels["threat"] == 1.0


def test_a_folder_that_is_not_a_model_is_a_config_error_naming_it(tmp_path):
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    with pytest.raises(ConfigError, match="empty-folder"):
        load_classifier(ClassifierSettings(model=str(folder)))

