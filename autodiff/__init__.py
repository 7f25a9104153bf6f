"""autodiff: a scalar reverse-mode automatic differentiation engine.

>>> from autodiff import Value
>>> x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
>>> f = x1.log() + x1 * x2 - x2.sin()
>>> f.backward()
>>> x1.grad, round(x2.grad, 4)
(5.5, 1.7163)
"""

from .backward import topological_order
from .functional import grad, value_and_grad
from .functions import cos, dot, exp, leaky_relu, log, logsumexp, relu, sigmoid, sin, softplus, sqrt, sum, tanh
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckResult, gradcheck
from .ops import Op
from .value import Value

__version__ = "0.1.0"

__all__ = [
    "Value", "Op",
    "no_grad", "enable_grad", "is_grad_enabled",
    "grad", "value_and_grad",
    "gradcheck", "GradcheckResult",
    "topological_order",
    "compile",
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "leaky_relu",
    "sum", "logsumexp", "dot",
    "draw_dot", "to_svg", "save_svg", "explain", "GraphTooLargeError",
    "to_html", "save_html", "show_backward",
]  # fmt: skip

# The compiler and the graph functions load on first use (PEP 562), so `import autodiff` stays
# as light as the engine.
_LAZY = {
    "compile": "compiler", "compiler": "compiler",
    **{name: "graph" for name in ("graph", "draw_dot", "to_svg", "save_svg", "explain", "GraphTooLargeError",
                                   "to_html", "save_html", "show_backward")},
}  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)  # sets autodiff.<module>
        value = module if name == _LAZY[name] else getattr(module, name)
        globals()[name] = value  # no further calls for it
        return value
    raise AttributeError(f"module 'autodiff' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
