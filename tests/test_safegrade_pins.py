"""safegrade.pins: what heal() puts back, and that it needs nothing a cell could rebind."""

from __future__ import annotations

import dis
import types

from safegrade.pins import heal, pinned


class _Sealed(types.ModuleType):
    pass


def _module() -> types.ModuleType:
    module = _Sealed("pinned_example")
    source = (
        "LIMIT = 3\n"
        "def make():\n"
        "    value = 'kept'\n"
        "    def inner():\n"
        "        return value\n"
        "    return inner\n"
        "inner = make()\n"
        "class Checker:\n"
        "    def check(self, x=1):\n"
        "        return x\n"
    )
    exec(compile(source, "pinned_example", "exec"), vars(module))
    return module


def test_heal_puts_back_the_module_class_globals_classes_code_defaults_and_closures():
    module = _module()
    heal_, code, defaults, saved = pinned([module])
    original_check = module.Checker.check
    object.__setattr__(module, "__class__", types.ModuleType)  # unsealed
    vars(module)["LIMIT"] = 99
    vars(module)["added"] = "by a cell"
    module.Checker.check = lambda self, x=1: "patched"
    module.Checker.extra = "by a cell"
    original_check.__code__ = (lambda self, x=1: "swapped").__code__
    original_check.__defaults__ = (2,)
    module.inner.__closure__[0].cell_contents = "changed"
    heal_.__code__, heal_.__defaults__ = code, defaults
    heal_(saved)
    assert type(module) is _Sealed
    assert module.LIMIT == 3 and "added" not in vars(module)
    assert module.Checker.check is original_check and not hasattr(module.Checker, "extra")
    assert module.Checker().check() == 1
    assert module.inner() == "kept"


def test_heal_looks_up_no_global_or_builtin_name():
    names = [i for i in dis.get_instructions(heal) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME")]
    assert names == []


def test_pinned_keeps_itself_among_the_globals_it_puts_back():
    module = _module()
    pins = pinned([module], name="_PINNED")
    del vars(module)["_PINNED"]
    heal_, code, defaults, saved = pins
    heal_(saved)
    assert vars(module)["_PINNED"] is pins
