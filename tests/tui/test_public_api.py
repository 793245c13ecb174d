"""neuron-top uses Textual's public API only: no class overrides a private method of the
Textual class it extends, so a Textual upgrade cannot silently change what such an
override hooks into (the snapshot tests pin the minor; the runtime dependency does not)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import trnmon.tui


def test_no_tui_class_overrides_a_private_textual_method() -> None:
    checked = 0
    offenders = []
    for info in pkgutil.walk_packages(trnmon.tui.__path__, "trnmon.tui."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            textual_bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("textual")]
            if not textual_bases:
                continue
            checked += 1
            for name, value in vars(cls).items():
                if not inspect.isfunction(value):
                    continue  # class attributes Textual's metaclass fills in
                if name.startswith("_") and not name.startswith("__") and any(
                        name in vars(b) for b in textual_bases):
                    offenders.append(f"{cls.__qualname__}.{name}")
    assert checked >= 15  # every screen and widget was looked at
    assert offenders == []
