"""nn.GPT against PyTorch: one step's loss and every gradient, the model rewritten with matrices and a causal mask.

The torch model reads the whole sequence at once (a masked attention matrix, not a KV
cache, and F.cross_entropy), in float64. Skipped when torch is not installed.
"""

import pytest

import nn
from nn.gpt_train import CompiledSteps

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")

CONFIGS = [
    {"vocab_size": 5, "n_embd": 4, "n_head": 2, "n_layer": 2, "block_size": 4},
    {"vocab_size": 7, "n_embd": 6, "n_head": 3, "n_layer": 1, "block_size": 6},
]


def rms(x):
    return x * (x.pow(2).mean(-1, keepdim=True) + 1e-5).rsqrt()


def torch_loss(weights: dict, tokens: list[int], n_head: int):
    """microgpt's loss over the sequence, all positions at once."""
    inputs, targets = torch.tensor(tokens[:-1]), torch.tensor(tokens[1:])
    n = len(inputs)
    x = rms(weights["wte"][inputs] + weights["wpe"][:n])
    d = x.shape[1] // n_head
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    for i in range(len([k for k in weights if k.endswith(".attn.wq")])):
        w = {name.split(".")[-1]: weights[f"layers.{i}.{name}"] for name in ("attn.wq", "attn.wk", "attn.wv",
             "attn.wo", "mlp.fc1", "mlp.fc2")}  # fmt: skip
        h = rms(x)
        q, k, v = ((h @ w[name].T).view(n, n_head, d).transpose(0, 1) for name in ("wq", "wk", "wv"))
        scores = (q @ k.transpose(1, 2) / d**0.5).masked_fill(~mask, float("-inf"))
        heads = (scores.softmax(-1) @ v).transpose(0, 1).reshape(n, n_head * d)
        x = x + heads @ w["wo"].T
        x = x + torch.relu(rms(x) @ w["fc1"].T) @ w["fc2"].T
    return F.cross_entropy(x @ weights["lm_head"].T, targets)


def matrices(model: nn.GPT) -> dict:
    """Every weight matrix of the model as a float64 tensor that wants a gradient, by module path."""
    out = {}
    for name, module in [("wte", model.wte), ("wpe", model.wpe), ("lm_head", model.lm_head)] + [
        (f"layers.{i}.{part}", getattr(getattr(layer, part.split(".")[0]), part.split(".")[1]))
        for i, layer in enumerate(model.layers)
        for part in ("attn.wq", "attn.wk", "attn.wv", "attn.wo", "mlp.fc1", "mlp.fc2")
    ]:
        rows = [[w.data for w in row] for row in module.weight]
        out[name] = (module, torch.tensor(rows, dtype=torch.float64, requires_grad=True))
    return out


@pytest.mark.parametrize("config", CONFIGS)
def test_one_step_of_nn_gpt_has_torchs_loss_and_gradients(config):
    model = nn.GPT(**config, std=0.5, seed=0)
    bos = config["vocab_size"] - 1
    tokens = [bos, 1, 2, 1, 0, bos][: config["block_size"] + 1]
    loss = model.loss(tokens)
    loss.backward()
    weights = matrices(model)
    expected = torch_loss({name: t for name, (_, t) in weights.items()}, tokens, config["n_head"])
    expected.backward()
    assert loss.data == pytest.approx(expected.item(), rel=1e-13)
    for name, (module, tensor) in weights.items():
        ours = torch.tensor([[w.grad for w in row] for row in module.weight], dtype=torch.float64)
        assert torch.allclose(ours, tensor.grad, rtol=1e-10, atol=1e-13), name


def test_a_compiled_step_of_nn_gpt_has_torchs_gradients():
    config = CONFIGS[1]
    model = nn.GPT(**config, std=0.5, seed=1)
    tokens = [6, 2, 2, 5, 6]
    value, grad_list = CompiledSteps(model).value_and_grad(tokens)
    grads = dict(zip(model.parameters(), grad_list))
    weights = matrices(model)
    expected = torch_loss({name: t for name, (_, t) in weights.items()}, tokens, config["n_head"])
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-13)
    for name, (module, tensor) in weights.items():
        ours = torch.tensor([[grads[w] for w in row] for row in module.weight], dtype=torch.float64)
        assert torch.allclose(ours, tensor.grad, rtol=1e-10, atol=1e-13), name
