"""A math namespace whose elementary functions come from a module, looked up by name.

The oracles' namespaces (`autodiff.precise.MpmathMath`, `autodiff.sympy_math.SympyMath`) write
out only the helpers whose meaning is the engine's own (step, sign, sigmoid, softplus,
logsumexp, softmax, div, pow, ...). Any other function a rule calls, `m.exp` or `m.atan2`,
is the function of the same name in the namespace's module (mpmath, sympy), or its alias
where the module spells it differently. So an op added to the table needs no edit here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .namespace import Namespace

__all__ = ["ModuleNamespace"]


class ModuleNamespace(Namespace):
    """Metaclass: a function the class does not define is `getattr(cls._module, name)`.

    The class sets `_module` (an object with the functions), `_aliases` ({name: a function}
    for names the module lacks or spells differently) and `_wrap(name, function)`, which
    may check the function's results (a real number, not a complex one). A name found
    nowhere is the usual `MissingMathFunction`.
    """

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        function: Callable[..., Any] | None = cls._aliases.get(name) or getattr(cls._module, name, None)
        if not callable(function):
            return super().__getattr__(name)  # raises MissingMathFunction, listing what exists
        found = staticmethod(cls._wrap(name, function))
        setattr(cls, name, found)  # looked up once
        return found.__func__
