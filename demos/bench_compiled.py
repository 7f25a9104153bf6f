"""`autodiff.compile`'s numpy batches against what a user would pick instead, on one core.

    python -m demos.bench_compiled            # about two minutes on a 2-core machine
    python -m demos.bench_compiled --quick    # fewer rounds, N up to 10,000
    python -m demos.benchmark --compiled      # the same, from the main benchmark

One training step (forward, backward, SGD update) of the moons MLP of the main
benchmark's workload (a): 2-16-16-1 ReLU, mean hinge loss + 1e-4 * L2, float64,
all implementations starting from the same weights (they must agree on the first
loss). The step is timed, for each batch size N, in:

  compiled numpy  `autodiff.compile` of the per-example loss, `batch_value_and_grad`
                  on the whole batch, then the SGD update of the Values;
  numpy matrices  the same network by hand with numpy matrices (BP1-BP4);
  PyTorch         by hand with torch tensors and autograd (skipped when not installed);
  jax.jit         `jax.value_and_grad` of the same loss and the update, jitted
                  (skipped when not installed).

Every implementation runs on one thread pinned to one core (the settings are
printed). The implementations take turns round by round; a round times a few
consecutive steps of each, and each figure is the median over the rounds, per
example. Ratios are of those medians, from the same run. No gc.collect() inside
the timings (numpy makes no reference cycles; Python's automatic collection stays on).
"""

from __future__ import annotations

from demos.bench_common import cap_thread_pools, machine, one_core, print_table, thread_settings, time_rounds

cap_thread_pools()  # one thread for numpy, torch and jax: before they load

import argparse  # noqa: E402
from collections.abc import Callable  # noqa: E402

from demos.bench_moons import compiled_training_steps, mlp_weights, numpy_matrix_step  # noqa: E402
from nn.data import make_moons  # noqa: E402

BATCH_SIZES = (32, 100, 1_000, 10_000, 100_000)
LR = 0.05
L2 = 1e-4


def torch_step(weights, X, y, lr: float = LR) -> Callable[[], float] | None:
    """The step by hand in PyTorch (float64, autograd), or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    params = []
    for layer in weights:
        params.append(torch.tensor([ws for ws, _ in layer], dtype=torch.float64, requires_grad=True))
        params.append(torch.tensor([b for _, b in layer], dtype=torch.float64, requires_grad=True))
    inputs = torch.tensor(X, dtype=torch.float64)
    labels = torch.tensor(y, dtype=torch.float64)
    linear, relu = torch.nn.functional.linear, torch.relu

    def step() -> float:
        a = inputs
        for depth in range(0, len(params), 2):
            a = linear(a, params[depth], params[depth + 1])
            if depth < len(params) - 2:
                a = relu(a)
        loss = relu(1.0 - labels * a[:, 0]).mean() + L2 * sum((p * p).sum() for p in params)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss.item()

    return step


def jax_step(weights, X, y, lr: float = LR) -> Callable[[], float] | None:
    """The step in JAX (float64, CPU): value_and_grad and the update in one jitted function."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    import jax.numpy as jnp

    params = [(jnp.array([ws for ws, _ in layer]), jnp.array([b for _, b in layer])) for layer in weights]
    inputs, labels = jnp.array(X, dtype=jnp.float64), jnp.array(y, dtype=jnp.float64)

    def loss_fn(params, inputs, labels):
        a = inputs
        for depth, (W, b) in enumerate(params):
            a = a @ W.T + b
            if depth < len(params) - 1:
                a = jax.nn.relu(a)
        l2 = sum(jnp.sum(W * W) + jnp.sum(b * b) for W, b in params)
        return jnp.mean(jax.nn.relu(1.0 - labels * a[:, 0])) + L2 * l2

    @jax.jit
    def update(params, inputs, labels):
        loss, grads = jax.value_and_grad(loss_fn)(params, inputs, labels)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

    state = [params]

    def step() -> float:
        state[0], loss = update(state[0], inputs, labels)
        return float(loss)

    return step


def steps_for(n: int, seed: int) -> tuple[dict[str, Callable[[], float]], list[str]]:
    """Every implementation's step on n moons points, from the same weights; and notes on those skipped."""
    X, y = make_moons(n, noise=0.1, seed=seed)
    labels = [2.0 * label - 1.0 for label in y]  # hinge loss labels -1 / +1
    weights = mlp_weights(seed)
    steps = {
        "compiled numpy": compiled_training_steps(weights, X, labels, LR)["compiled numpy"],
        "numpy matrices": numpy_matrix_step(weights, X, labels, LR),
    }
    notes = []
    for name, make, package in [("PyTorch", torch_step, "torch"), ("jax.jit", jax_step, "jax")]:
        step = make(weights, X, labels)
        if step is None:
            notes.append(f"{name} skipped: {package} is not installed (pip install {package})")
        else:
            steps[name] = step
    return steps, notes


def check_first_losses(steps: dict[str, Callable[[], float]], n: int) -> float:
    first = {name: step() for name, step in steps.items()}
    reference = first["numpy matrices"]
    if any(abs(loss - reference) > 1e-12 * abs(reference) for loss in first.values()):
        raise SystemExit(f"N = {n}: the implementations disagree on the first loss: {first}")
    return reference


def report(sizes: tuple[int, ...], rounds: int, budget: float, seed: int) -> dict[int, dict[str, float]]:
    """Time every implementation at every batch size; print the table; return the seconds per example."""
    results: dict[int, dict[str, float]] = {}
    notes: list[str] = []
    with one_core():
        for n in sizes:
            steps, notes = steps_for(n, seed)
            loss = check_first_losses(steps, n)
            medians = time_rounds(steps, rounds, budget)
            results[n] = {name: seconds / n for name, seconds in medians.items()}
            shown = ", ".join(f"{name} {seconds * 1e6:.3f}" for name, seconds in results[n].items())
            print(f"N = {n:,}: first loss {loss:.12f}; us per example: {shown}", flush=True)
        print(f"\nthreads: {thread_settings()}")
    print(f"{rounds} interleaved rounds of about {budget * 1e3:.0f} ms per implementation, medians, no gc.collect()")
    for note in notes:
        print(note)
    names = list(next(iter(results.values())))
    others = [name for name in names if name != "compiled numpy"]
    header = ["batch N", *(f"{name} (us/example)" for name in names), *(f"compiled / {name}" for name in others)]
    rows = []
    for n, per_example in results.items():
        ours = per_example["compiled numpy"]
        cells = [f"{n:,}", *(f"{per_example[name] * 1e6:.3f}" for name in names)]
        rows.append(cells + [f"{ours / per_example[name]:.2f}x" for name in others])
    print()
    print_table(header, rows)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", "--repeats", type=int, default=15, help="interleaved rounds per batch size (default 15)"
    )
    parser.add_argument("--quick", action="store_true", help="5 rounds, batch sizes up to 10,000")
    parser.add_argument("--sizes", type=int, nargs="+", help=f"batch sizes (default {' '.join(map(str, BATCH_SIZES))})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = tuple(args.sizes or (BATCH_SIZES[:-1] if args.quick else BATCH_SIZES))
    rounds = 5 if args.quick else args.rounds
    print(f"machine: {machine()}")
    report(sizes, rounds, budget=0.02 if args.quick else 0.05, seed=args.seed)


if __name__ == "__main__":
    main()
