"""What crosses from the student process to the tests process (safegrade.autograde.split):
exact types rebuilt from data, shared objects kept shared, models rebuilt from their
state, and anything that is not data refused or turned into a handle."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
import torch

import rnnkit
from safegrade.autograde import split
from safegrade.autograde.protocol import ProtocolError
from safegrade.autograde.split import bound_names, decode, encode, free_names
from safegrade.settings import Settings


@pytest.fixture(autouse=True)
def course_settings(monkeypatch):
    """This course's: rnnkit's modules trusted, torch watched (what the grader is given)."""
    settings = Settings(("rnnkit.reference", "rnnkit.answers"), ("torch",))
    monkeypatch.setattr(split, "current", lambda: settings)


def _round_trip(value, handles=None):
    handles = {} if handles is None else handles
    data = json.loads(json.dumps(encode(value, handles)))  # what the pipe carries
    return decode(data, lambda key, kind, is_callable, base: ("handle", key, kind, base))


def test_exact_types_come_back_as_themselves():
    value = (1, 2.5, "s", None, True, [3, (4,)], {"k": np.float64(0.5)}, b"x", 1 + 2j)
    back = _round_trip(value)
    assert back == value
    assert [type(v) for v in back] == [type(v) for v in value]
    assert type(back[6]["k"]) is np.float64 and type(back[5][1]) is tuple


def test_arrays_keep_dtype_shape_and_values():
    for array in (np.arange(6.0).reshape(2, 3), np.array([1, 2], np.int32), np.zeros((0, 4))):
        back = _round_trip(array)
        assert type(back) is np.ndarray and back.dtype == array.dtype
        np.testing.assert_array_equal(back, array)
        assert back.flags.writeable


def test_tensors_keep_dtype_values_and_requires_grad():
    t = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    back = _round_trip(t)
    assert type(back) is torch.Tensor and back.dtype == torch.float64 and back.requires_grad
    assert torch.equal(back.detach(), t.detach())
    assert _round_trip(torch.tensor([True, False])).dtype == torch.bool


def test_an_object_seen_twice_comes_back_as_one_object():
    shared = np.ones(2)
    back = _round_trip([shared, shared, {"again": shared}])
    assert back[0] is back[1] is back[2]["again"]


def test_a_model_of_a_trusted_class_is_rebuilt_from_its_state_and_computes_the_same():
    torch.manual_seed(0)
    model = rnnkit.LSTMCell(3, 4, dtype=torch.float64)
    back = _round_trip(model)
    assert type(back) is rnnkit.LSTMCell and back is not model
    x = torch.randn(2, 3, dtype=torch.float64)
    for got, want in zip(back(x), model(x), strict=True):
        assert torch.equal(got, want)


def test_what_is_not_data_becomes_a_handle():
    def student_function():
        pass

    class Net(torch.nn.Module):
        pass

    handles = {}
    fn, net = _round_trip([student_function, Net()], handles)
    assert fn[:3] == ("handle", 1, "function") and fn[3] is None
    assert net[2] == "Net" and net[3] is torch.nn.Module  # a stand-in class derives from it
    assert handles[1] is student_function


def test_library_classes_and_course_functions_come_back_by_name():
    back = _round_trip([rnnkit.LSTMCell, torch.float32, rnnkit.tasks.adding_problem])
    assert back == [rnnkit.LSTMCell, torch.float32, rnnkit.tasks.adding_problem]


def test_a_library_function_stays_a_handle_and_an_untrusted_package_is_not_named():
    handles = {}
    load, system = _round_trip([torch.load, __import__("os").system], handles)
    assert load[0] == system[0] == "handle"
    assert handles == {1: torch.load, 2: __import__("os").system}


@pytest.mark.parametrize(
    "data",
    [
        {"$": "ndarray", "dtype": "|O", "shape": [1], "b": ""},
        {"$": "ndarray", "dtype": "<f8", "shape": [3], "b": "AAAAAAAAAAA="},
        {"$": "ref", "module": "builtins", "name": "eval"},
        {"$": "ref", "module": "os", "name": "system"},
        {"$": "again", "n": 7},
        {"$": "pickle", "b": ""},
        [1, 2],
    ],
    ids=["object array", "short buffer", "eval", "os.system", "unsent", "pickle", "bare list"],
)
def test_a_malformed_or_dangerous_reply_is_refused(data):
    with pytest.raises(ProtocolError):
        decode(data, lambda *a: None)


def test_a_test_cell_reads_the_notebooks_names_it_does_not_bind():
    source = (
        "import numpy as _np\n"
        "def _check(x):\n"
        "    return lstm_step_forward(x) + _np.ones(1)\n"
        "_got = _check(K)\n"
        "fn = globals().get('masked_loss')\n"
        "print(len(_got))\n"
    )
    tree = ast.parse(source)
    assert free_names(tree) == {"lstm_step_forward", "K", "masked_loss"}
    assert bound_names(tree) >= {"_np", "_check", "_got", "fn"}
