"""Chapter 11's experiments: digits read row by row, and tagging dates, amounts and places.

    .venv/bin/python scripts/sequence_labelling.py                  # the full run, minutes
    .venv/bin/python scripts/sequence_labelling.py --reduced --out /tmp/labelling.json

Many to one. On the 8 x 8 digits (``rnnkit.tasks.digits``, 1,347 training and 450 test
images), a simple RNN, a GRU and an LSTM read the 8 rows, 8 pixels per step, and classify
from their last state; two networks that see all 64 pixels at once are the baselines, a
multinomial logistic regression and an MLP with one hidden layer. Every model is trained
with the same Adam loop (``rnnkit.labelling.fit_classifier``) for each seed. What the state
holds after t rows: for each trained recurrent network, a linear softmax readout is fitted
on the training images' h_t and scored on the test images' h_t (``linear_probe``), for
t = 1..8; the same readout on the raw pixels of the first t rows says what a linear
function of the rows read so far already gives.

Many to many. Taggers are trained on requests made by ``labelling.make_sentences`` with
the training places and scored on held-out requests twice: with places seen in training,
and with places never seen (``labelling.TEST_PLACES``). Scores are span-level (a predicted
entity counts only if its start, end and type are all right), per entity type and over all,
from the instructors' BIO decoding and span scores (``rnnkit/answers``, assignment 11). The
baselines: the training set's most frequent tag for each word, and a tagger that reads
left to right only. The JSON written to ``--out`` (by default
``results/sequence_labelling.json``, which chapter 11 plots) holds the settings and every
run.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from rnnkit import labelling, tasks
from rnnkit.answers import ch11_sequence_labelling as answers

RESULTS = Path(__file__).resolve().parents[1] / "results" / "sequence_labelling.json"
READERS = ("rnn", "gru", "lstm")


@dataclass(frozen=True)
class Config:
    hidden: int = 64
    mlp_hidden: int = 128
    epochs: int = 30
    n_train: int = 3000
    n_test: int = 500
    tagger_embed: int = 32
    tagger_hidden: int = 32
    tagger_steps: int = 300
    digits_limit: int = 0  # 0: every image
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])


REDUCED = Config(
    hidden=8,
    mlp_hidden=8,
    epochs=1,
    n_train=60,
    n_test=20,
    tagger_embed=4,
    tagger_hidden=4,
    tagger_steps=3,
    digits_limit=100,
    seeds=[0],
)


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def digits_runs(cfg: Config) -> dict:
    """Test accuracy of each model and seed, and the probe accuracy after each row."""
    x_train, y_train, x_test, y_test = tasks.digits()
    if cfg.digits_limit:
        x_train, y_train = x_train[: cfg.digits_limit], y_train[: cfg.digits_limit]
    T, I = x_train.shape[1:]
    accuracy: dict[str, list[float]] = {}
    probe: dict[str, list[list[float]]] = {name: [] for name in READERS}
    for seed in cfg.seeds:
        makers = {
            "logistic": lambda: labelling.PixelMLP(T * I, 0, 10),
            "mlp": lambda: labelling.PixelMLP(T * I, cfg.mlp_hidden, 10),
        } | {
            name: lambda name=name: labelling.RowClassifier(I, cfg.hidden, 10, cell=name)
            for name in READERS
        }
        for name, make in makers.items():
            torch.manual_seed(seed)  # the seed draws every model's initial weights
            model = make()
            model = labelling.fit_classifier(model, x_train, y_train, cfg.epochs, seed)
            accuracy.setdefault(name, []).append(_accuracy(model, x_test, y_test))
            if name in READERS:
                with torch.no_grad():
                    h_train, h_test = model.states(x_train), model.states(x_test)
                probe[name].append([
                    labelling.linear_probe(h_train[t], y_train, h_test[t], y_test)
                    for t in range(T)
                ])  # fmt: skip
    pixels = [
        labelling.linear_probe(x_train[:, : t + 1].flatten(1), y_train,
                               x_test[:, : t + 1].flatten(1), y_test)
        for t in range(T)
    ]  # fmt: skip
    return {"accuracy": accuracy, "probe": probe, "probe_pixels": pixels}


def tagging_runs(cfg: Config) -> dict:
    """Span scores (precision, recall, F1 per type and "all") of each tagger, seed and test."""
    train = labelling.make_sentences(cfg.n_train, 0)
    tests = {
        "seen_places": labelling.make_sentences(cfg.n_test, 1),
        "unseen_places": labelling.make_sentences(cfg.n_test, 2, labelling.TEST_PLACES),
    }
    vocab = labelling.build_vocab(train)

    def score(tags: list[list[str]], sentences: list[labelling.Sentence]) -> dict:
        pred = [answers.bio_to_spans(t) for t in tags]
        return answers.span_scores([s.spans for s in sentences], pred)

    lookup = labelling.MajorityTagger(train)
    scores: dict[str, dict] = {
        "lookup": {name: [score(lookup.predict(s), s)] for name, s in tests.items()}
    }
    for name, bidirectional in (("one_direction", False), ("bidirectional", True)):
        scores[name] = {test: [] for test in tests}
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            model = labelling.Tagger(
                len(vocab), cfg.tagger_embed, cfg.tagger_hidden, bidirectional=bidirectional
            )
            model = labelling.fit_tagger(model, train, vocab, cfg.tagger_steps, seed)
            for test, sentences in tests.items():
                scores[name][test].append(
                    score(labelling.predict_tags(model, sentences, vocab), sentences)
                )
    return {"vocab_size": len(vocab), "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reduced", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    cfg = REDUCED if args.reduced else Config()
    torch.set_num_threads(1)  # the models are tiny: more threads cost more than they save
    start = time.perf_counter()
    results = {"config": asdict(cfg), "digits": digits_runs(cfg), "tagging": tagging_runs(cfg)}
    results["seconds"] = round(time.perf_counter() - start, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} in {results['seconds']} s")


if __name__ == "__main__":
    main()
