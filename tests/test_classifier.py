"""The shipped classifier: the ONNX model plus the safeguarding rules, as the monitor loads it."""

from __future__ import annotations

import json
import random

import pytest

from classifiers import DEFAULT_MODEL, load_classifier, load_model
from classifiers.base import Verdict
from classifiers.scoring import calibrate
from classifiers.stream import classify_lines
from classifiers.text import clean, truncate
from monitor.config import ClassifierSettings
from monitor.errors import ConfigError


@pytest.fixture(scope="module")
def classifier():
    return load_classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model():
    return load_model("default")


AWKWARD_TEXTS = [
    "",
    "   \n\t ",
    "😀😂🔥",
    "\u200b\u200c\u200d\ufeff",
    "\x00\x01\x07 bell \x1b[31mred",
    "مدرسة رائعة، شكرا للمعلمين",
    "\u202eevil reversed text",
    "שלום לכולם",
    "lone \ud800 surrogate",
    "a" * 100_000,
    "word " * 20_000,
    "日本語のテキストです",
    "🏴󠁧󠁢󠁥󠁮󠁧󠁿 ⚽",
]


def test_every_text_gets_a_verdict(classifier):
    verdicts = classifier.classify(AWKWARD_TEXTS)
    assert len(verdicts) == len(AWKWARD_TEXTS)
    for verdict in verdicts:
        assert isinstance(verdict, Verdict)
        assert 0.0 <= verdict.score <= 1.0
        assert {"offensive", "hate"} <= set(verdict.labels)
        assert verdict.model == classifier.name
        assert verdict.model_version == classifier.version


def test_empty_and_invisible_texts_are_not_flagged(classifier):
    for verdict in classifier.classify(["", "   ", "\u200b\u200f", "\n"]):
        assert verdict.flagged is False
        assert verdict.score == 0.0


def test_an_empty_batch_gives_no_verdicts(classifier):
    assert classifier.classify([]) == []


def test_long_text_is_read_at_both_ends(model):
    benign = "The school fete raised money for the new library and everyone enjoyed the cakes. " * 1200
    abusive = "you are a fucking stupid disgusting bitch"
    (plain,) = model.probabilities([benign])
    (tail,) = model.probabilities([benign + abusive])
    (head,) = model.probabilities([abusive + benign])
    assert tail[0] > plain[0] + 0.2
    assert head[0] > plain[0] + 0.2


def test_an_insult_in_the_middle_of_a_long_comment_is_read(model):
    news = ("The school fete raised money for the new library and everyone enjoyed the cakes. "
            "Thank you to the parents who ran the stalls and to the staff who stayed late. ")
    benign = news * 14  # about 2,300 characters on each side
    abusive = " you are a fucking stupid disgusting bitch. "
    (plain,) = model.probabilities([benign + benign])
    (middle,) = model.probabilities([benign + abusive + benign])
    assert middle[0] > plain[0] + 0.2


def test_abuse_is_flagged_and_kind_words_are_not(classifier):
    abusive, kind = classifier.classify(
        ["@user you are a fucking idiot, shut your mouth you stupid bitch",
         "Thank you to all the staff for a wonderful sports day!"]
    )
    assert abusive.flagged and abusive.score >= 0.5
    assert abusive.labels["offensive"] > kind.labels["offensive"]
    assert not kind.flagged
    assert any(reason.startswith("model:") for reason in abusive.reasons)


def test_a_rule_hit_flags_even_a_mild_text(classifier):
    (verdict,) = classifier.classify(["Please ring me on 07700 900123 about the trip"])
    assert verdict.flagged
    assert verdict.labels["personal_data"] == 1.0
    assert any("a mobile number" in reason for reason in verdict.reasons)


def test_the_schools_own_contacts_are_not_flagged():
    classifier = load_classifier(ClassifierSettings(school_contacts=["01632 960123", "pta@school.example.org"]))
    verdicts = classifier.classify(["For absence call the school office on 01632 960123",
                                    "Questions for the PTA? pta@school.example.org",
                                    "Please ring me on 07700 900123 about the trip"])
    assert [v.flagged for v in verdicts] == [False, False, True]


def test_threat_has_label_and_reason(classifier):
    (verdict,) = classifier.classify(["I'm going to shoot up the school on friday"])
    assert verdict.flagged
    assert verdict.labels["threat"] == 1.0
    assert any(reason.startswith("threat of violence") for reason in verdict.reasons)


def test_verdicts_keep_the_order_of_the_batch(model):
    texts = ["you stupid bitch", "lovely concert tonight", "", "fuck off you idiot", "well done year 6"]
    together = model.classify(texts)
    alone = [model.classify([text])[0] for text in texts]
    # int8 activations are quantized with one scale per batch, so a text's neighbours move its
    # scores a little; a mix-up of the order moves them far more (0.1 to 0.9 here)
    for a, b in zip(together, alone):
        assert a.labels == pytest.approx(b.labels, abs=0.04)


def test_batches_run_on_several_workers_score_as_one_at_a_time():
    from classifiers.onnx_model import OnnxModel

    texts = [f"post {i}: " + ("you stupid idiot " if i % 3 else "lovely concert tonight ") * (1 + i % 9)
             for i in range(60)] + ["a long comment. " * 200, ""]
    one = OnnxModel(DEFAULT_MODEL, workers=1, threads=1, batch_size=4)
    several = OnnxModel(DEFAULT_MODEL, workers=3, batch_size=4)
    assert several.workers == 3
    # the same batches, so the same int8 scales: each window's scores must land on its own text
    assert several.probabilities(texts) == pytest.approx(one.probabilities(texts), abs=1e-5)


def test_a_batch_larger_than_the_normalisation_cache_normalises_each_text_once():
    from classifiers import normalise

    texts = [f"parent {i} says the t.e.a.c.h.e.r is an 1d10t" for i in range(normalise.CACHE_SIZE + 50)]
    classifier = load_classifier(ClassifierSettings())
    normalise._normalise.cache_clear()
    verdicts = classifier.classify(texts)
    assert normalise._normalise.cache_info().misses == len(texts)  # the model and the rules shared it
    for together, alone in zip(verdicts[-3:], classifier.classify(texts[-3:])):
        assert together.flagged == alone.flagged
        assert together.labels == pytest.approx(alone.labels, abs=0.04)  # int8 scales are per batch


def test_threshold_setting_decides_flagged():
    strict = load_classifier(ClassifierSettings(threshold=0.0))
    lax = load_classifier(ClassifierSettings(threshold=1.0))
    text = ["What a lovely assembly this morning"]
    assert strict.classify(text)[0].flagged
    assert not lax.classify(text)[0].flagged
    assert not strict.classify([""])[0].flagged  # nothing to read is never flagged


def test_rules_can_be_turned_off():
    model_only = load_classifier(ClassifierSettings(rules=False))
    (verdict,) = model_only.classify(["ring 07700 900123"])
    assert "personal_data" not in verdict.labels


def test_version_names_model_and_rules(classifier, model):
    assert classifier.name == model.name == json.loads((DEFAULT_MODEL / "model.json").read_text())["name"]
    assert classifier.version.startswith(model.version + "+rules.")


def test_a_missing_model_folder_is_a_config_error_naming_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="no-such-model"):
        load_classifier(ClassifierSettings(model=str(missing)))


def test_a_broken_model_folder_is_a_config_error_naming_it(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not a model")
    (broken / "model.json").write_text("{}")
    with pytest.raises(ConfigError, match="broken"):
        load_classifier(ClassifierSettings(model=str(broken)))


def test_classify_lines_gives_one_record_per_line(classifier):
    lines = ["hello there\n", "\n", "you absolute bitch\r\n", "call 07700 900123\n"]
    records = list(classify_lines(classifier, lines, batch_size=3))
    assert [r["text"] for r in records] == ["hello there", "", "you absolute bitch", "call 07700 900123"]
    for record in records:
        assert set(record) == {"text", "score", "flagged", "labels", "reasons"}
        json.dumps(record)
    assert records[3]["flagged"] and records[3]["reasons"]


def test_calibration_puts_each_threshold_at_one_half():
    assert calibrate(0.3, 0.3) == pytest.approx(0.5)
    assert calibrate(0.0, 0.3) == 0.0
    assert calibrate(1.0, 0.3) == 1.0
    assert calibrate(0.15, 0.3) == pytest.approx(0.25)
    assert calibrate(0.65, 0.3) == pytest.approx(0.75)
    assert calibrate(0.42, 0.5) == pytest.approx(0.42)


def test_clean_normalises_what_the_model_reads():
    assert clean("@someone @other look https://t.co/abc 𝐢𝐝𝐢𝐨𝐭") == "@user look idiot"
    assert clean("🖕🖕🖕") == "reversed hand with middle finger extended"
    assert clean("\u200bhi\x00there") == "hi there"
    assert truncate("a" * 50 + "b" * 50, 20).startswith("a" * 15)
    assert truncate("a" * 50 + "b" * 50, 20).endswith("b" * 5)


def test_the_shipped_model_is_small_and_has_its_card():
    size = sum(f.stat().st_size for f in DEFAULT_MODEL.iterdir() if f.is_file())
    assert size <= 60 * 2**20
    meta = json.loads((DEFAULT_MODEL / "model.json").read_text())
    assert set(meta["thresholds"]) == {"offensive", "hate"}
    card = (DEFAULT_MODEL / "README.md").read_text()
    assert "python -m classifiers.train" in card and "__" not in card


def test_training_gives_each_layer_its_learning_rate():
    """Layer-wise decay: the head fastest, each encoder layer slower than the one above it."""
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from classifiers.train import parameter_groups

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = torch.nn.Embedding(10, 4)
            self.layers = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(3))
            self.encoder = SimpleNamespace(encoder=SimpleNamespace(layer=self.layers))
            self.head = torch.nn.Linear(4, 2)

    model = Tiny()
    groups = parameter_groups(model, lr=1e-4, head_lr=1e-3, layer_decay=0.5)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 1e-4, 5e-5, 2.5e-5, 1.25e-5])
    assert groups[1]["params"] == list(model.layers[2].parameters())  # the top layer learns at lr
    placed = [id(p) for g in groups for p in g["params"]]
    assert sorted(placed) == sorted(id(p) for p in model.parameters())  # each parameter exactly once
    assert parameter_groups(model, lr=1e-4, head_lr=0, layer_decay=1.0)[0]["lr"] == 1e-4


# innocent school news with trigger words, each sentence harmless on its own
NEWSLETTER = [
    "The Year 8 battle re-enactment was bloody brilliant.", "Our under 11s were attacking all match and won 3-1.",
    "The bake sale was a massacre, the cakes were gone in minutes.", "Thank you to the parents who helped with the fete.",
    "The science show ended with an explosion that made everyone jump.",
    "Year 9 are reading about the Blitz and the bombing of Coventry.", "The drama club's murder mystery night sold out.",
    "Tickets for the summer concert are on sale from the office.",
    "Mr Khan was killed off in the first act of the staff play, to loud cheers.",
    "The Year 6 leavers smashed the school record for the relay.",
    "Our goalkeeper took a shot to the face but carried on like a hero.",
    "We beat Hillside senseless in the quiz, thirty points clear.",
    "The PE department shot a training video on the field this morning.",
    "Year 11 are fighting hard for their grades this term.",
    "Dead Poets Society is the film for Friday's sixth form film club.",
    "The heating in the mobile classrooms is broken again, the kids are freezing.",
    "Our debate on knife crime was mature and thoughtful.",
]


def test_a_long_comment_scores_as_its_highest_sentence(model):
    """Windows that packed several innocent sentences together scored higher than any of them
    (0.45 against at most 0.35 here) and flagged long newsletters; each sentence is read on its own."""
    rng = random.Random(10)
    body: list[str] = []
    while len(" ".join(body)) < 2500:
        body += rng.sample(NEWSLETTER, len(NEWSLETTER))
    # the sentences as posts of their own, in one batch: the same windows in the same batches (a text's
    # neighbours in a batch move its int8 scores a little, see the batch test above)
    alone = model.probabilities(body)
    (whole,) = model.probabilities([" ".join(body)])
    assert whole == pytest.approx(alone.max(axis=0), abs=1e-4)


def test_a_long_text_is_cut_into_sentences():
    from tokenizers import Tokenizer

    from classifiers.onnx_model import MIN_SENTENCE, _sentences

    tokenizer = Tokenizer.from_file(str(DEFAULT_MODEL / "tokenizer.json"))
    text = ("One two three four five six seven eight. Ok! Nine ten eleven twelve rose by 2.5 percent! "
            "Last few words")
    encoding = tokenizer.encode(text, add_special_tokens=False)
    cut = [" ".join(tokenizer.id_to_token(i) for i in sentence)
           for sentence in _sentences(encoding.ids, encoding.tokens, encoding.offsets)]
    # "Ok!" is too short to read alone and joins the next sentence, "2.5" is not cut, and the short
    # end joins the sentence before it
    assert cut == ["one two three four five six seven eight .",
                   "ok ! nine ten eleven twelve rose by 2 . 5 percent ! last few words"]
    assert MIN_SENTENCE > 3


# a parent's letter written without full stops or commas: one long "sentence"
UNPUNCTUATED_LETTER = (
    "I am writing as the parent of two children in Year 8 about the new homework platform which has caused "
    "some confusion at home particularly around deadlines set late in the evening and we understand that "
    "teachers are extremely busy and that planning lessons takes a great deal of time but perhaps tasks "
    "could be released at a set hour as other schools already do and the packing list and the medical "
    "forms for the residential trip to Wales all arrived in good time and were clear so thank you to the "
    "organisers and finally the queue of cars at the bottom gate at pick-up time is becoming a real "
    "safety concern because some drivers park on the zig-zag lines and reverse while children walk behind "
) * 7


@pytest.mark.parametrize("insult", ["the head is a fat ugly cow and a disgrace",
                                    "Mrs Hall is a spiteful pathetic old witch who should never be allowed near children",
                                    "those Year 9 scum are animals and should be put down"])
def test_an_insult_in_a_long_comment_without_full_stops_is_flagged(model, insult):
    """Read in whole windows of civil words, the insult was drowned (0.26 to 0.40) under a bar raised
    for the many windows; read in phrases, it fills one."""
    assert len(UNPUNCTUATED_LETTER) > 4500 and "." not in UNPUNCTUATED_LETTER
    half = len(UNPUNCTUATED_LETTER) // 2
    middle = UNPUNCTUATED_LETTER.rfind(" ", 0, half)
    abusive, plain = model.classify([UNPUNCTUATED_LETTER[:middle] + " and " + insult + UNPUNCTUATED_LETTER[middle:],
                                     UNPUNCTUATED_LETTER])
    assert abusive.flagged
    assert not plain.flagged


def test_a_stretch_without_full_stops_is_read_in_overlapping_phrases():
    from classifiers.onnx_model import PHRASE, _phrases

    ids = list(range(100))
    phrases = _phrases(ids)
    assert all(len(window) <= PHRASE for window, _ in phrases)
    assert phrases[0][0][0] == 0 and phrases[-1][0][-1] == 99  # the whole stretch, start to end
    for (before, _), (after, _) in zip(phrases, phrases[1:]):
        assert after[0] < before[-1]  # each phrase overlaps the one before it
    assert sum(fresh for _, fresh in phrases) == len(ids)  # each token counted once towards the text read


def test_a_long_text_without_full_stops_is_read_within_the_token_budget(model):
    from classifiers.onnx_model import MAX_TOKENS, PHRASE

    text = clean(UNPUNCTUATED_LETTER * 4, model.max_chars)  # about 19,000 characters, no sentence end
    owners, windows, counts = model._windows([text])
    tokens = len(model._tokenizer.encode(text, add_special_tokens=False).ids)
    assert tokens > MAX_TOKENS
    assert len(windows) == counts[0]  # the bar counts every phrase read
    assert all(len(window) <= PHRASE + 2 for window in windows)
    assert sum(len(window) - 2 for window in windows) <= MAX_TOKENS * 1.5  # a quarter of each phrase is read twice


def test_a_long_comment_needs_a_surer_sentence_the_longer_it_is(model):
    threshold = model.thresholds["offensive"]
    assert model.threshold_for("offensive", 1) == threshold
    bars = [model.threshold_for("offensive", n) for n in (2, 5, 40, 400)]
    assert bars == sorted(bars) and threshold < bars[0] and bars[-1] < 1.0
    news = ("The school fete raised money for the new library and everyone enjoyed the cakes. "
            "Thank you to the parents who ran the stalls and to the staff who stayed late. ") * 14
    abusive, plain = model.classify([news + "You are a fucking stupid disgusting bitch. " + news, news + news])
    assert abusive.flagged and not plain.flagged


def test_a_model_can_score_some_labels_with_its_refitted_layer(tmp_path):
    """``head_labels`` in model.json: those labels come from head.npz, the others from the graph."""
    import shutil

    import numpy as np

    from classifiers.head import Head, load_head, save_head

    graph = tmp_path / "graph"
    graph.mkdir()
    for name in ("model.onnx", "tokenizer.json", "head.npz"):
        shutil.copy(DEFAULT_MODEL / name, tmp_path / name)
        shutil.copy(DEFAULT_MODEL / name, graph / name)
    meta = json.loads((DEFAULT_MODEL / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**meta, "head_labels": ["offensive"]}))
    (graph / "model.json").write_text(json.dumps({**meta, "head_labels": []}))
    head = load_head(DEFAULT_MODEL / "head.npz")
    weight, bias = head.weight.copy(), head.bias.copy()
    weight[:, 0], bias[0] = 0.0, -20.0  # an offensive layer that never fires
    save_head(Head(weight, bias), tmp_path / "head.npz")
    texts = ["you are a fucking idiot", "go back to your country you filthy immigrant"]
    shipped = load_model(str(graph)).probabilities(texts)
    refitted = load_model(str(tmp_path)).probabilities(texts)
    assert refitted[:, 0] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert refitted[:, 1] == pytest.approx(shipped[:, 1], abs=1e-6)


def test_refitting_scores_its_validation_texts_as_the_shipped_model_reads_them(model):
    """``--head-only`` chooses thresholds on every window of a text, the highest counting, in the
    benchmark's batches: the probabilities it chooses on are the model's own."""
    import numpy as np

    from classifiers.train import shipped_probabilities, window_features

    long_tweet = "see you all at sports day " + "🙂 " * 40 + "the head is a useless idiot"
    texts = ["Sports day is on Friday", long_tweet, "", "you lot are vermin", "Year 2 fed the school pigs"]
    owners, features = window_features(model, texts, batch=len(texts))
    assert np.bincount(owners, minlength=len(texts)).tolist()[1] >= 2 and 2 not in owners.tolist()
    f = {"set_wo": owners, "set_wx": features, "set_wn": np.array(len(texts))}
    assert shipped_probabilities(model.head, f, "set") == pytest.approx(model.probabilities(texts), abs=1e-5)
