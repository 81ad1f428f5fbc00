"""rnnkit: recurrent networks written from their equations, checked against PyTorch.

Names are loaded lazily (PEP 562), so ``import rnnkit`` is cheap and the NumPy
reference can be used without importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "RNNCell": "cells",
    "LSTMCell": "cells",
    "GRUCell": "cells",
    "CoupledLSTMCell": "cells",
    "PeepholeLSTMCell": "cells",
    "Recurrent": "layers",
    "Bidirectional": "layers",
    "Stacked": "layers",
    "Residual": "layers",
    "get_device": "train",
    "seed_everything": "train",
    "fit": "train",
    "History": "train",
    "Encoder": "seq2seq",
    "Decoder": "seq2seq",
    "DotProductAttention": "seq2seq",
    "PluggedAttention": "seq2seq",
    "Seq2Seq": "seq2seq",
    "greedy_decode": "seq2seq",
    "prefix_scorer": "seq2seq",
}
_SUBMODULES = {
    "cells",
    "layers",
    "reference",
    "gradcheck",
    "tasks",
    "ngram",
    "train",
    "plot",
    "stepper",
    "circuits",
    "diagrams",
    "cell_diagrams",
    "sampling",
    "cloze",
    "seq2seq",
    "dnc",
    "longterm",
    "lm",
    "trees",
    "labelling",
}

__all__ = sorted(_EXPORTS) + sorted(_SUBMODULES)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"rnnkit.{_EXPORTS[name]}"), name)
    if name in _SUBMODULES:
        return import_module(f"rnnkit.{name}")
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
