"""microgpt on the engine: a GPT learns to make up names, one name per step, and shows how it attends.

    python -m demos.microgpt               # 1,000 steps (microgpt's run, seed 42); writes four files to out/
    python -m demos.microgpt --compiled    # the same steps through autodiff.compile, a program per padded length
    python -m demos.microgpt --quick       # 20 steps, for the smoke tests

Karpathy's microgpt (February 2026) trains and samples a GPT in about 200 lines of
plain Python on scalar Values. This demo runs the same model, data and training with
`nn.GPT`: 1 layer, n_embd 16, 4 heads, block size 16, RMSNorm, a ReLU MLP, no
biases; Adam (betas 0.85, 0.99) at lr 0.01 decaying linearly to 0; one name per
step, framed by the BOS token; then 20 samples at temperature 0.5. With the default
seed, 42, the names come in microgpt's order and the weights start at its values.
It writes to --out:

    microgpt_loss.png       the loss of every step, and its running mean
    microgpt_attention.png  each head's attention weights over a name (--name)
    microgpt_score.html     a page that steps through backward() from one attention score
    microgpt.json           the trained model (nn.save; nn.load reads it back)
"""

from __future__ import annotations

import random
import time

import autodiff
import nn
from demos.common import (
    Checks,
    add_renderer_option,
    figure,
    int_between,
    one_line_errors,
    output_folder,
    parser,
    save_png,
)
from demos.microgpt_reference import ScalarGPT
from nn.gpt_train import CompiledSteps, microgpt_adam, train_step

CONFIG = {"n_embd": 16, "n_head": 4, "n_layer": 1, "block_size": 16}  # microgpt's defaults


def build_parser():
    """The command line of this demo."""
    p = parser(__doc__, seed=42, seed_help="seed of the names' order and the initial weights, 42 being microgpt's")
    p.add_argument("--steps", type=int_between(1, 100_000), help="training steps, one name each (default: 1000, "
                   "--quick: 20)")  # fmt: skip
    p.add_argument("--compiled", action="store_true",
                   help="train through autodiff.compile, a program per length padded to a power of 2")  # fmt: skip
    p.add_argument("--name", default="emma", help="the name whose attention is drawn (default: emma)")
    add_renderer_option(p)
    return p


@one_line_errors
def main(argv: list[str] | None = None) -> dict:
    """Run the demo; return its key numbers."""
    args = build_parser().parse_args(argv)
    steps = args.steps or (20 if args.quick else 1000)
    out = output_folder(args.out)
    rng = random.Random(args.seed)
    checks = Checks()

    # --- 1. The names ------------------------------------------------------------------------------
    # 32,033 names, shuffled. Each character is a token, and one more token, BOS, begins and
    # ends every name: "emma" is [BOS, e, m, m, a, BOS], and the model learns to predict each
    # token from the ones before it, the last BOS included (that is how it learns to stop).
    names = nn.text.load_names()
    rng.shuffle(names)
    tokenizer = nn.text.CharTokenizer(names)
    try:
        shown = tokenizer.encode(args.name)
    except ValueError as error:
        build_parser().error(f"argument --name: {error}")
    if not 1 <= len(args.name) < CONFIG["block_size"]:
        build_parser().error(f"argument --name: 1 to {CONFIG['block_size'] - 1} letters, got {args.name!r}")
    print(f"1. {len(names):,} names, {tokenizer.vocab_size} tokens (a-z and BOS); "
          f"{args.name!r} is {shown}")  # fmt: skip

    # --- 2. The model ------------------------------------------------------------------------------
    # Its weights are drawn from the same generator, after the shuffle, in microgpt's order.
    # Check: microgpt's own per-scalar program (every + * ** log exp relu of the gist, on our
    # Value) gives the same loss on the first name from the same weights.
    model = nn.GPT(tokenizer.vocab_size, **CONFIG, seed=rng)
    print(f"\n2. {model!r}")
    reference = ScalarGPT(autodiff.Value, tokenizer.vocab_size, **CONFIG, rng=random.Random(0))
    for ours, theirs in zip(model.parameters(), reference.params):
        theirs.data = ours.data
    first = tokenizer.encode(names[0])[: CONFIG["block_size"] + 1]
    with autodiff.no_grad():
        checks.close(f"loss on {names[0]!r}: nn.GPT vs microgpt's per-scalar program", model.loss(first).data,
                     reference.loss(first).data, 1e-12)  # fmt: skip

    # --- 3. Training ---------------------------------------------------------------------------------
    losses, seconds, compiled = train(model, names, tokenizer, steps, args.compiled)
    how = f"compiled, {compiled} programs (one per length padded to a power of two)" if args.compiled else "eager"
    print(f"\n3. {steps} steps ({how}) in {seconds:.1f} s; loss {losses[0]:.4f} at step 1, "
          f"{losses[-1]:.4f} at step {steps}")  # fmt: skip

    # --- 4. Samples ----------------------------------------------------------------------------------
    samples = [tokenizer.decode(s) for s in nn.generate(model, 20, temperature=0.5, seed=rng)]
    print("\n4. 20 samples at temperature 0.5:")
    for i, sample in enumerate(samples, 1):
        print(f"  sample {i:2d}: {sample}")

    files = [draw_losses(losses, out / "microgpt_loss.png")]
    files.append(draw_attention(model, tokenizer, args.name, out / "microgpt_attention.png"))
    print(f"\n5. wrote {files[0]} and {files[1]}")
    files += score_page(model, tokenizer, args.name, out, checks, args.renderer)
    files.append(save_and_reload(model, out / "microgpt.json", shown, checks))
    checks.finish()
    return {"losses": losses, "samples": samples, "seconds": seconds, "compiled_programs": compiled, "files": files}


def train(model: nn.GPT, names: list[str], tokenizer, steps: int, compiled: bool) -> tuple[list[float], float, int]:
    """`steps` steps of one name each, in order, cropped to block_size + 1 tokens; the losses, seconds, programs."""
    from tqdm import tqdm

    optimizer = microgpt_adam(model.parameters(), num_steps=steps)
    compiled_steps = CompiledSteps(model) if compiled else None
    losses = []
    started = time.perf_counter()
    bar = tqdm(range(steps), desc="training", unit="step", disable=None)
    for step in bar:
        tokens = tokenizer.encode(names[step % len(names)])[: model.block_size + 1]
        if compiled_steps is None:
            losses.append(train_step(model, optimizer, tokens))
        else:
            losses.append(compiled_steps.train_step(optimizer, tokens))
        if step % 10 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    return losses, time.perf_counter() - started, len(compiled_steps.compiled) if compiled else 0


def draw_losses(losses: list[float], path):
    """The loss of each step (one name each: noisy) and its mean over the last 50 steps."""
    fig, ax = figure(3.4)
    steps = range(1, len(losses) + 1)
    window = [sum(losses[max(0, i - 49) : i + 1]) / len(losses[max(0, i - 49) : i + 1]) for i in range(len(losses))]
    ax.plot(steps, losses, color="#bbbbbb", linewidth=0.6, label="loss of the step's name")
    ax.plot(steps, window, color="tab:blue", label="mean of the last 50 steps")
    ax.set(xlabel="step", ylabel="cross-entropy (nats per token)", title="microgpt on nn.GPT: training loss")
    ax.xaxis.get_major_locator().set_params(integer=True)  # steps are whole numbers
    ax.legend()
    return save_png(fig, path)


def draw_attention(model: nn.GPT, tokenizer, name: str, path):
    """Each head's attention weights while reading `name`: row t is where position t looks, over positions <= t."""
    tokens = tokenizer.encode(name)[:-1]  # the inputs: BOS and the letters
    labels = ["BOS", *name]
    cache = model.new_cache()
    with autodiff.no_grad():
        for token in tokens:
            model.step(token, cache)
    heads = cache.layers[0].attention
    columns = 2
    fig, axes = figure(3.0 * -(-len(heads) // columns), -(-len(heads) // columns), columns, squeeze=False)
    axes = axes.ravel()
    for h, (ax, rows) in enumerate(zip(axes, heads)):
        grid = [[w.data for w in row] + [float("nan")] * (len(rows) - len(row)) for row in rows]
        ax.imshow(grid, cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        ax.grid(False)
        ax.set(title=f"head {h}", xlabel="attends to", ylabel="reading")
    for ax in axes[len(heads) :]:
        ax.set_visible(False)
    fig.suptitle(f"layer 0 attention weights over {name!r} (each row sums to 1)")
    return save_png(fig, path)


def score_page(model: nn.GPT, tokenizer, name: str, out, checks: Checks, renderer: str) -> list:
    """A page that steps through backward() from one attention score: head 0, the last letter reading BOS."""
    # Run the name with the graph recorded; the score of the last position t against position 0
    # is q_t . k_0 / sqrt(d), one dot node over the scaled query and the key (the cache keeps
    # it for us). The page draws the two ops nearest it.
    tokens = tokenizer.encode(name)[:-1]
    cache = model.new_cache()
    for token in tokens:
        model.step(token, cache)
    layer = cache.layers[0]
    t, d = len(tokens) - 1, model.config()["n_embd"] // model.config()["n_head"]
    score = layer.scores[0][t][0]
    score.label = f"score {name[-1]}→BOS"
    q_scaled = score.parents[:d]
    for i, node in enumerate(q_scaled):
        node.parents[0].label = f"q[{i}]"
        layer.keys[0][i].label = f"k[{i}] of BOS"
    path = out / "microgpt_score.html"
    autodiff.save_html(score, path, renderer=renderer, depth=2)
    # Check: the page's d(score)/d(q[i]) is k[i] / sqrt(d), and d(score)/d(k[i]) is q[i] / sqrt(d).
    record = autodiff.graph.replay.record_backward(score)
    scale = 1.0 / d**0.5
    for i in range(d):
        q_i, k_i = q_scaled[i].parents[0], layer.keys[0][i]
        checks.close(f"the page's d(score)/d(q[{i}]) vs k[{i}]/sqrt(d)", record.grads[q_i], k_i.data * scale, 1e-15)
        checks.close(f"the page's d(score)/d(k[{i}]) vs q[{i}]/sqrt(d)", record.grads[k_i], q_i.data * scale, 1e-15)
    print(f"  wrote {path}: backward() from the score of head 0, {name[-1]!r} reading BOS, step by step")
    return [path]


def save_and_reload(model: nn.GPT, path, tokens: list[int], checks: Checks):
    """Save the model with nn.save, read it back with nn.load; check: the same logits on the name."""
    nn.save(model, path)
    loaded = nn.load(path)
    with autodiff.no_grad():
        ours, theirs = model(tokens[:-1])[-1], loaded(tokens[:-1])[-1]
    checks.small(f"logits after the name: the model vs {path.name} read back", max(abs(a.data - b.data)
                 for a, b in zip(ours, theirs)), 0.0)  # fmt: skip
    print(f"  wrote {path}")
    return path


if __name__ == "__main__":
    main()
