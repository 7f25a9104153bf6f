"""autodiff: a scalar automatic differentiation engine, reverse mode (backward) and forward mode (jvp).

>>> from autodiff import Value
>>> x1, x2 = Value(2.0, "x1"), Value(5.0, "x2")
>>> f = x1.log() + x1 * x2 - x2.sin()
>>> f.backward()
>>> x1.grad, round(x2.grad, 4)
(5.5, 1.7163)
"""

from . import functions, value
from .anomaly import detect_anomaly, is_anomaly_enabled
from .backward import topological_order
from .forward_mode import jvp
from .functional import grad, value_and_grad
from .functions import atan2, clamp, dot, leaky_relu, logsumexp, remainder, sum
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckResult, gradcheck
from .jacobians import hessian, jacobian
from .ops import Op
from .value import Value

globals().update(functions.UNARY)  # exp, log, ...: one function per op of one input (autodiff/functions.py)

__version__ = "0.1.0"

__all__ = [
    "Value", "Op",
    "no_grad", "enable_grad", "is_grad_enabled",
    "grad", "value_and_grad", "jvp", "jacobian", "hessian",
    "detect_anomaly", "is_anomaly_enabled",
    "gradcheck", "GradcheckResult", "to_sympy",
    "topological_order",
    "compile",
    *functions.UNARY, "atan2", "remainder", "clamp", "leaky_relu", "sum", "logsumexp", "dot",
    "draw_dot", "to_svg", "save_svg", "explain", "GraphTooLargeError",
    "to_html", "save_html", "show_backward",
]  # fmt: skip

# The compiler and the graph functions load on first use (PEP 562), so `import autodiff` stays
# as light as the engine.
_LAZY = {
    "compile": "compiler", "compiler": "compiler", "to_sympy": "sympy_math",  # to_sympy needs sympy (oracles extra)
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


def _explain(node: Value, root: Value):
    from .graph.explain import explain

    return explain(node, root)


def _mimebundle(shown: Value, include=None, exclude=None) -> dict:
    from .graph.notebook import mimebundle

    return mimebundle(shown, include, exclude)


# A Value's explain_grad and its Jupyter picture come from autodiff/graph, which builds on the engine:
# the package, above both, connects them (autodiff/value.py: `hooks`).
value.hooks.explain = _explain
value.hooks.mimebundle = _mimebundle
