"""The steps of the backward page: a recorded pass laid onto the drawn graph, each step with its words.

Step 0 shows the data only; step 1 seeds the root's gradient with 1; each further
step is backward()'s visit of one drawn node, in backward()'s order: the node's
gradient is complete, and each edge into it adds its term, upstream grad × local
derivative, to a parent's gradient. A collapsed neuron is one step (its
activation, "+" and dot nodes); the nodes of the graph that are not drawn
(weights inside a collapsed neuron, ops beyond `depth`) take no step of their own,
except where one adds to the gradient of a drawn node, so that every gradient
shown is backward()'s, sum by sum. Every number is formatted here: the page
does no arithmetic, it shows these texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .explain import neuron_partials
from .format import as_float, describe, number

if TYPE_CHECKING:
    from ..value import Value
    from .modules import ModuleMap
    from .replay import BackwardRecord, Update, Visit
    from .select import DrawnNode

__all__ = ["Step", "Stepping", "plan_steps", "edge_id", "out_edge_id"]


def edge_id(d: DrawnNode, k: int) -> str:
    """The SVG id of the drawn edge from input `k` of `d` into its op (or into the neuron)."""
    return f"e{d.id[1:]}_{k}"


def out_edge_id(d: DrawnNode) -> str:
    """The SVG id of the edge from `d`'s op node to its record."""
    return f"e{d.id[1:]}_out"


@dataclass
class Step:
    """What one step changes and says. Ids are those of the SVG elements."""

    text: str
    node: str | None = None  # the drawn node visited (None: the start, the seed, or a node not drawn)
    zero: bool = False  # the seed: every gradient shown becomes 0 before `grads` apply
    grads: list[tuple[str, str]] = field(default_factory=list)  # (node id, its gradient's text from this step on)
    edges: list[str] = field(default_factory=list)  # edges whose term appears at this step
    out: str | None = None  # the op -> node edge of the visited node

    def as_json(self) -> dict:
        data: dict = {"text": self.text}
        if self.node is not None:
            data["node"] = self.node
        if self.zero:
            data["zero"] = 1
        if self.grads:
            data["grads"] = self.grads
        if self.edges:
            data["edges"] = self.edges
        if self.out is not None:
            data["out"] = self.out
        return data


@dataclass
class Stepping:
    """The page's steps and what the drawing needs to show them."""

    steps: list[Step]
    grad_nodes: list[str]  # ids of the drawn nodes that show a gradient
    widest: dict[str, str]  # node id -> the widest gradient text it shows (the layout leaves room for it)
    edge_labels: dict[str, str]  # edge id -> its term's text
    final: dict[str, str]  # node id -> its gradient's text at the last step
    note: str  # how the pass shown relates to the gradients the graph holds

    @property
    def last(self) -> int:
        return len(self.steps) - 1


def plan_steps(
    record: BackwardRecord,
    drawn: list[DrawnNode],
    modules: ModuleMap | None,
    digits: int,
    names: dict[Value, str] | None = None,
) -> Stepping:
    """The steps of the page for `record` on the nodes `drawn` (as `select_nodes` chose them), calling the
    nodes by `names` (the names the drawing shows, from `node_names`) where given."""
    planner = _Planner(record, drawn, modules, digits, names or {})
    return planner.plan()


class _Planner:
    def __init__(
        self, record: BackwardRecord, drawn: list[DrawnNode], modules: ModuleMap | None, digits: int, names: dict
    ) -> None:
        self.record, self.drawn, self.modules, self.digits, self.names = record, drawn, modules, digits, names
        self.shown = {d.node: d for d in drawn if d.kind != "constant"}  # nodes drawn with a gradient
        self.constants = {d.node for d in drawn if d.kind == "constant"}
        self.owner: dict[Value, DrawnNode] = {}
        for d in self.shown.values():
            for node in d.call.inner if d.kind == "neuron" else (d.node,):
                self.owner[node] = d
        self.root = self.name_of(record.root)
        self.said: set[str] = set()  # the ideas the words of a step have explained already

    # --- names and numbers ---------------------------------------------------------------------------------
    def n(self, x: float) -> str:
        return number(x, self.digits)

    def name_of(self, node: Value) -> str:
        d = self.shown.get(node)
        if d is not None and d.kind == "neuron":
            return d.call.name
        if node in self.names:
            return self.names[node]
        if node.label:
            return node.label
        if self.modules is not None and node in self.modules.names:
            return self.modules.names[node]
        return describe(node, width=30, names=self.names)

    def grad_of(self, node: Value) -> str:
        name = self.name_of(node)
        return f"({name}).grad" if " " in name or name.startswith("-") else f"{name}.grad"

    # --- the plan ------------------------------------------------------------------------------------------
    def plan(self) -> Stepping:
        ids = {d.node: d.id for d in self.shown.values()}
        texts: dict[str, list[str]] = {i: ["0"] for i in ids.values()}
        seed = [(ids[self.record.root], "1")] if self.record.root in ids else []
        for node_id, text in seed:
            texts[node_id].append(text)
        edge_labels: dict[str, str] = {}
        steps = [Step(""), Step("", zero=True, grads=seed)]
        for group in self._groups():
            step = self._step(group, ids, edge_labels)
            for node_id, text in step.grads:
                texts[node_id].append(text)
            steps.append(step)
        last = len(steps) - 1
        root = self.root
        steps[0].text = (
            f"Step 0 of {last}: the forward pass is done. Each node shows its data, and no gradient yet. "
            f"Step forward to run backward() from {root}."
        )
        steps[1].text = (
            f"Step 1 of {last}: backward() sets every gradient to 0, then seeds {self.grad_of(self.record.root)} = 1 "
            f"(d({root})/d({root}) = 1). Next it visits the nodes in reverse topological order: each node after "
            "every node that uses it, so that its gradient is complete when it is passed on."
        )
        for k in range(2, len(steps)):
            steps[k].text = f"Step {k} of {last}: {steps[k].text}"
        if len(steps) > 2:
            steps[-1].text += " The pass is done: these are the gradients backward() computes."
        widest = {i: max(t, key=len) for i, t in texts.items()}
        final = {i: t[-1] for i, t in texts.items()}
        grad_nodes = [d.id for d in self.drawn if d.node in self.shown]
        return Stepping(steps, grad_nodes, widest, edge_labels, final, self._note())

    def _note(self) -> str:
        """What to say about the graph's own `.grad` fields, which this page leaves alone."""
        fresh = "This page replays one backward pass from zero, as backward() computes it."
        root = self.record.root
        held = {}  # drawn node -> (its .grad, this pass's)
        for d in self.shown.values():
            node = d.call.out if d.kind == "neuron" else d.node
            held[node] = (as_float(node.grad), self.record.grads[node])
        differ = [(node, ours, pass_) for node, (ours, pass_) in held.items() if ours != pass_]
        if not differ:
            return f"{fresh} Its last step shows the gradients the graph holds."
        if all(ours == 0.0 for _, ours, _ in differ):
            return f"{fresh} backward() has not run on this graph yet (its gradients are 0): this is what it computes."
        if as_float(root.grad) != 1.0:
            return (
                f"{fresh} The gradients the graph holds come from another pass ({self.grad_of(root)} is "
                f"{self.n(as_float(root.grad))}, not 1): backward() ran from another root, so they differ."
            )
        node, ours, pass_ = differ[0]
        return (
            f"{fresh} In the graph, {self.grad_of(node)} is {self.n(ours)}, where this pass gives {self.n(pass_)}: "
            "a leaf's .grad accumulates over backward() calls (zero it between passes)."
        )

    def _groups(self) -> list[tuple[DrawnNode | None, list[Visit]]]:
        """The visits by drawn node, in backward()'s order; a neuron's visits (its activation, "+" and dot) make
        one step. A visit of a node not drawn makes a step only where it adds to a drawn node's gradient."""
        groups: list[tuple[DrawnNode | None, list[Visit]]] = []
        neurons: dict[str, list[Visit]] = {}
        for visit in self.record.visits:
            d = self.owner.get(visit.node)
            if d is None:
                if any(u.parent in self.shown for u in visit.updates):
                    groups.append((None, [visit]))
            elif d.kind == "neuron" and d.id in neurons:
                # Between a neuron's activation and its dot node backward() visits only its "+" node and its
                # bias (the subgraph of "+"'s other operand), so the neuron's step can take all three.
                neurons[d.id].append(visit)
            else:
                groups.append((d, [visit]))
                if d.kind == "neuron":
                    neurons[d.id] = groups[-1][1]
        return groups

    def _once(self, key: str, first: str, later: str = "") -> str:
        """`first` the first time a kind of step is explained, `later` after that: each idea is said once."""
        if key in self.said:
            return later
        self.said.add(key)
        return first

    def _step(self, group: tuple[DrawnNode | None, list[Visit]], ids: dict, edge_labels: dict) -> Step:
        d, visits = group
        if d is None:
            return self._hidden(visits[0], ids)
        if d.kind == "neuron":
            return self._neuron(d, visits, ids, edge_labels)
        (visit,) = visits
        node = visit.node
        step = Step("", node=d.id, out=out_edge_id(d) if d.kind == "value" and node.parents else None)
        name, g = self.name_of(node), self.n(visit.grad)
        if not node.parents:
            step.text = f"visit {name}, {self._leaf(node, g)}"
            return step
        what = f"visit {name} (op {node.op})"
        if node is self.record.root:
            what += f", the root, grad {g}"
        else:
            what += f", grad {g}" + self._once("complete", ": complete, since every node that uses it has been visited")
        if visit.skipped:
            for k, _ in enumerate(d.inputs):
                step.edges.append(edge_id(d, k))
                edge_labels[edge_id(d, k)] = "grad 0: skipped"
            step.text = what + self._once("skip", ": a zero gradient contributes nothing, so backward() skips it.",
                                          ": skipped, it passes nothing back.")  # fmt: skip
            return step
        sums = []
        for update in visit.updates:
            if d.kind == "value":
                e = edge_id(d, update.position)
                step.edges.append(e)
                edge_labels[e] = f"{self.n(update.upstream)} × {self.n(update.partial)} = {self.n(update.term)}"
            sums.append(self._add(update, ids, step))
        if d.kind == "cut":
            n = _count(len(node.parents), "input")
            step.text = f"{what}. It adds to the gradients of its {n}, which are not drawn (beyond depth)."
            return step
        sums = [s for s in sums if s] or ["its inputs are constants, whose gradients are not shown"]
        how = self._once(
            "edge", ". Each edge into it adds upstream grad × local derivative (the chain rule along that edge) "
            "to the gradient of the input at its other end"
        )  # fmt: skip
        step.text = f"{what}{how}: {'; '.join(sums)}."
        return step

    def _leaf(self, node: Value, g: str) -> str:
        """What a leaf's visit says: its gradient is complete, the sum of the terms of the edges out of it."""
        if node is self.record.root:
            return f"the root and a leaf: its gradient is the seed, {g}."
        terms = len(self.record.terms(node))
        if terms == 0:
            total = "no term reached it: the nodes that use it passed nothing back"
        elif terms == 1:
            total = "the term of its one edge out"
        else:
            total = f"the sum of {terms} terms, one per edge out of it"
        derivative = f"d({self.root})/d({self.name_of(node)}) = {g}"
        return self._once(
            "leaf",
            f"an input (a leaf): nothing to pass back. Its gradient is complete: {derivative}, {total}.",
            f"a leaf: {derivative}, complete: {total}.",
        )

    def _neuron(self, d: DrawnNode, visits: list[Visit], ids: dict, edge_labels: dict) -> Step:
        call = d.call
        dot = next((v for v in visits if v.node is call.inner[0]), None)
        step = Step("", node=d.id)
        formula = "w·x + b" if call.activation == "linear" else f"{call.activation}(w·x + b)"
        grad = self.record.grads[call.out]  # the visit of its activation comes first: the group's first visit
        g = self.n(grad)
        what = f"visit neuron {call.name} ({formula}), grad {g}"
        if call.out is not self.record.root:
            what += self._once("complete", ": complete, since every node that uses it has been visited")
        n = len(call.inputs)
        added = {u.position - n: u for u in (dot.updates if dot is not None else ()) if u.position >= n}
        partials = neuron_partials(call) if grad != 0.0 else None
        sums = []
        for k, _ in enumerate(d.inputs):
            e = edge_id(d, k)
            step.edges.append(e)
            update = added.get(k)
            if partials is None:
                edge_labels[e] = "grad 0: skipped"
            elif update is None:
                edge_labels[e] = f"{g} × {self.n(partials[k])} = 0: skipped"
            else:
                # The term is the one backward() added, through the neuron's dot node: dot.grad × w_k.
                edge_labels[e] = f"{g} × {self.n(partials[k])} = {self.n(update.term)}"
                sums.append(self._add(update, ids, step, upstream=g, partial=self.n(partials[k])))
        for visit in visits:  # updates to other drawn nodes (a weight drawn elsewhere, say), if any
            for update in visit.updates:
                if update.parent in self.shown and update not in added.values():
                    sums.append(self._add(update, ids, step))
        sums = [s for s in sums if s]
        if partials is None:
            step.text = what + self._once("skip", ": a zero gradient contributes nothing, so backward() skips it.",
                                          ": skipped, it passes nothing back.")  # fmt: skip
        elif not sums:
            step.text = (
                f"{what}. Its {call.activation} passes back 0 here (output {self.n(call.out.data)})"
                + self._once("off", ", so nothing reaches its inputs, weights or bias.", ".")
            )
        else:
            how = self._once(
                "neuron", ". Through its activation, + and dot nodes, each input's gradient gets upstream grad × "
                "d(neuron)/d(input) (and its weights and bias get theirs, not drawn)"
            )  # fmt: skip
            step.text = f"{what}{how}: {'; '.join(sums)}."
        return step

    def _hidden(self, visit: Visit, ids: dict) -> Step:
        step = Step("")
        sums = [self._add(u, ids, step) for u in visit.updates if u.parent in self.shown]
        step.text = (
            f"visit {self.name_of(visit.node)} (op {visit.node.op}, not drawn: beyond depth), grad "
            f"{self.n(visit.grad)}. It adds to the gradient of a drawn node: {'; '.join(sums)}."
        )
        return step

    def _add(self, update: Update, ids: dict, step: Step, upstream: str = "", partial: str = "") -> str:
        """Record one addition to a drawn parent's gradient; return it in words ("" for a constant)."""
        if update.parent not in self.shown:
            return ""
        after = self.n(update.after)
        step.grads.append((ids[update.parent], after))
        upstream = upstream or self.n(update.upstream)
        partial = partial or self.n(update.partial)
        return f"{self.grad_of(update.parent)} = {self.n(update.before)} + {upstream} × {partial} = {after}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
