"""nn.GPT and its pieces: gradients by independent routes, microgpt's losses, errors, saving, sampling."""

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
import nn
from autodiff.testing import assert_gradients_match
from demos.microgpt_reference import LocalGradValue, ScalarGPT
from nn.gpt_train import CompiledSteps, microgpt_adam, train_step
from nn.transformer import RMS_SCALE, RMSNORM_EPS, rmsnorm, softmax

TINY = {"vocab_size": 5, "n_embd": 4, "n_head": 2, "n_layer": 2, "block_size": 4}
TOKENS = [4, 1, 3, 3, 4]  # BOS, three letters, BOS: four positions, a token repeated


def tiny_model(seed: int = 0, std: float = 0.5) -> nn.GPT:
    """Weights large enough (std 0.5) that every path carries a gradient well above rounding."""
    return nn.GPT(**TINY, std=std, seed=seed)


# --- the RMSNorm scale, a user Op --------------------------------------------------------------
@given(st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=8))
def test_the_rms_scale_op_has_the_gradient_of_central_differences(xs):
    assert_gradients_match(lambda *v: RMS_SCALE(*v), xs)


@given(st.lists(st.floats(-3.0, 3.0), min_size=1, max_size=8))
def test_rms_scale_is_one_over_the_root_mean_square_plus_eps(xs):
    expected = 1.0 / math.sqrt(sum(x * x for x in xs) / len(xs) + RMSNORM_EPS)
    assert RMS_SCALE(*xs) == pytest.approx(expected, rel=1e-14)


def test_rmsnorm_makes_one_node_for_the_scale_and_one_per_entry():
    x = [autodiff.Value(v) for v in (3.0, -4.0)]
    out = rmsnorm(x)
    scale = out[0].parents[1]
    assert scale.op == "rms_scale" and scale.parents == tuple(x)
    assert all(o.op == "*" and o.parents[1] is scale for o in out)
    assert [o.data for o in out] == pytest.approx([3 / math.sqrt(12.5 + 1e-5), -4 / math.sqrt(12.5 + 1e-5)])


def test_softmax_sums_to_one_and_reads_its_logsumexp_once():
    z = [autodiff.Value(v) for v in (1.0, 2.0, -1.0)]
    p = softmax(z)
    assert sum(pi.data for pi in p) == pytest.approx(1.0, abs=1e-15)
    assert len({pi.parents[0].parents[1] for pi in p}) == 1  # one logsumexp node shared by every entry


def test_the_cache_keeps_each_heads_scores_and_their_softmax_over_the_positions_so_far():
    model = tiny_model(seed=2)
    cache = model.new_cache()
    for token in TOKENS[:-1]:
        model.step(token, cache)
    assert cache.positions == 4
    for layer in cache.layers:
        for scores, attention in zip(layer.scores, layer.attention):
            assert [len(row) for row in scores] == [len(row) for row in attention] == [1, 2, 3, 4]
            for row_scores, row_weights in zip(scores, attention):
                exps = [math.exp(s.data) for s in row_scores]
                assert [w.data for w in row_weights] == pytest.approx([e / sum(exps) for e in exps], rel=1e-13)
    q = model.layers[0].attn.wq(rmsnorm(rmsnorm([t + p for t, p in zip(model.wte(1), model.wpe(1))])))
    k = cache.layers[0].keys[0]
    d = TINY["n_embd"] // TINY["n_head"]
    expected = sum(q[i].data * k[i].data for i in range(d)) / math.sqrt(d)  # head 0, position 1 reading position 0
    assert cache.layers[0].scores[0][1][0].data == pytest.approx(expected, rel=1e-13)


# --- one training step's gradients, by central differences -------------------------------------
@pytest.mark.slow
def test_the_gpt_loss_gradient_of_every_parameter_matches_central_differences():
    model = tiny_model()
    loss = model.loss(TOKENS)
    loss.backward()
    h = 1e-6
    for name, p in model.named_parameters():
        analytic = p.grad
        with autodiff.no_grad():
            p.data += h
            up = model.loss(TOKENS).data
            p.data -= 2 * h
            down = model.loss(TOKENS).data
            p.data += h
        numeric = (up - down) / (2 * h)
        assert analytic == pytest.approx(numeric, abs=1e-8, rel=1e-6), name


def test_a_parameter_the_sequence_does_not_touch_gets_no_gradient():
    model = tiny_model()
    model.loss(TOKENS).backward()
    unused = model.wte.weight[0]  # token 0 is not among TOKENS, position 3 is the last one read
    assert all(w.grad == 0.0 for w in unused)
    assert any(w.grad != 0.0 for w in model.wpe.weight[3])


# --- microgpt's losses: the per-scalar program and nn.GPT from the same weights -----------------
def microgpt_names(n: int) -> tuple[list[list[int]], random.Random]:
    names = nn.text.load_names()
    rng = random.Random(42)
    rng.shuffle(names)
    tokenizer = nn.text.CharTokenizer(names)
    return [tokenizer.encode(name)[:17] for name in names[:n]], rng


@pytest.mark.slow
def test_the_gist_program_and_nn_gpt_train_to_the_same_losses_from_the_same_weights():
    sequences, rng = microgpt_names(3)
    model = nn.GPT(27, seed=rng)
    scalar_programs = [ScalarGPT(kind, 27, rng=random.Random(0)) for kind in (LocalGradValue, autodiff.Value)]
    for program in scalar_programs:
        for p, ours in zip(program.params, model.parameters()):
            p.data = ours.data
    optimizer = microgpt_adam(model.parameters(), num_steps=1000)
    for tokens in sequences:
        ours = train_step(model, optimizer, tokens)
        theirs = [program.train_step(tokens) for program in scalar_programs]
        assert ours == pytest.approx(theirs[0], abs=1e-9) and theirs[1] == pytest.approx(theirs[0], abs=1e-9)
    assert model.parameters()[0].data == pytest.approx(scalar_programs[0].params[0].data, abs=1e-12)


def test_microgpt_draws_its_weights_in_the_order_nn_gpt_does():
    _, rng = microgpt_names(0)
    state = rng.getstate()
    model = nn.GPT(27, seed=rng)
    rng.setstate(state)
    program = ScalarGPT(LocalGradValue, 27, rng=rng)
    assert [p.data for p in model.parameters()] == [p.data for p in program.params]


def test_a_compiled_step_gives_the_eager_loss_and_gradients_for_each_sequence_length():
    eager, compiled = tiny_model(seed=1), tiny_model(seed=1)
    steps = CompiledSteps(compiled)
    for tokens in ([4, 2, 4], TOKENS, [4, 0, 4], [4, 1, 1, 4], [4, 3, 2, 1, 0]):  # 2, 4 (padded), 2, 3 (padded), 4
        loss = eager.loss(tokens)
        eager.zero_grad()
        loss.backward()
        value, grads = steps.value_and_grad(tokens)
        assert value == pytest.approx(loss.data, abs=1e-14)
        assert len(grads) == compiled.num_parameters()
        for p, g in zip(eager.parameters(), grads):
            assert g == pytest.approx(p.grad, abs=1e-14)
    assert sorted(steps.compiled) == [2, 4]  # one program per padded length: 3 positions run in the program of 4


def test_compiled_programs_are_padded_to_a_power_of_two_at_most_block_size():
    steps = CompiledSteps(nn.GPT(27, n_embd=4, n_head=2, block_size=12, seed=0))
    assert [steps.padded(n) for n in range(1, 13)] == [1, 2, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12]


# --- bad configurations and inputs: one-line errors ------------------------------------------------
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.GPT(27, n_embd=16, n_head=5), "n_embd must be a multiple of n_head, got n_embd=16 and n_head=5"),
        (lambda: nn.GPT(0), "vocab_size must be a positive int, got 0"),
        (lambda: nn.GPT(27, block_size=2.5), "block_size must be a positive int, got float (2.5)"),
        (lambda: tiny_model().loss([4, 1, 5, 4]), "token 5 at position 2 is outside the vocabulary [0, 5)"),
        (lambda: tiny_model().loss([4, 1, -1]), "token -1 at position 2 is outside the vocabulary [0, 5)"),
        (lambda: tiny_model()([4, True]), "token True at position 1 must be an int (a token id)"),
        (lambda: tiny_model().loss([4, 1.0]), "token 1.0 at position 1 must be an int (a token id)"),
        (
            lambda: tiny_model().loss([4, 1, 2, 3, 0, 4]),
            "needs 5 positions, more than block_size=4; crop it to tokens[:5]",
        ),
        (lambda: tiny_model()([4, 1, 2, 3, 0]), "needs 5 positions, more than block_size=4; crop it to tokens[:4]"),
        (lambda: tiny_model().step(4, nn.transformer.KVCache(1, 2)), "the cache must be a KVCache for n_layer=2"),
        (
            lambda: nn.transformer.CausalSelfAttention(6, 4),
            "n_embd must be a multiple of n_head, got n_embd=6 and n_head=4",
        ),
        (
            lambda: nn.transformer.CausalSelfAttention(4, 8),
            "n_embd must be a multiple of n_head, got n_embd=4 and n_head=8",
        ),
        (
            lambda: nn.transformer.CausalSelfAttention(4, 2)([autodiff.Value(1.0)] * 4, nn.transformer.LayerCache(4)),
            "a cache for 4 heads, but this layer has 2",
        ),
        (lambda: tiny_model().loss([4]), "needs at least 2 tokens"),
        (lambda: tiny_model().loss("abc"), "tokens must be a list of ints, got str"),
        (lambda: CompiledSteps(tiny_model()).value_and_grad([4, 1, 7]), "token 7 at position 2 is outside"),
        (lambda: CompiledSteps(tiny_model()).value_and_grad([4, 1, 2, 3, 0, 4]), "more than block_size=4"),
        (lambda: nn.generate(tiny_model(), 1, temperature=0.0), "temperature must be a finite number > 0, got 0.0"),
        (lambda: nn.generate(tiny_model(), -1), "n must be an int >= 0, got -1"),
        (lambda: nn.generate(tiny_model(), 1, bos=9), "token 9 at position 0 is outside the vocabulary"),
        (lambda: nn.text.CharTokenizer(["ab"]).encode("abc"), "character 'c' at 2 of 'abc' is not in the vocabulary"),
        (lambda: microgpt_adam(tiny_model().parameters(), num_steps=0), "num_steps must be a positive int, got 0"),
    ],
)
def test_a_bad_configuration_or_input_is_a_one_line_error_that_names_it(make, message):
    with pytest.raises((ValueError, TypeError)) as error:  # TypeError: a str for tokens, a float for a size
        make()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_stepping_past_block_size_with_a_cache_is_an_error():
    model = tiny_model()
    cache = model.new_cache()
    for token in [4, 1, 2, 3]:
        model.step(token, cache)
    with pytest.raises(ValueError, match=r"a sequence longer than block_size=4 \(at position 4\)"):
        model.step(0, cache)


# --- parameters, saving, loading ---------------------------------------------------------------------
def test_parameters_come_in_microgpts_order_with_matrix_names():
    model = nn.GPT(27)
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == model.num_parameters() == nn.gpt.parameter_count(27, 16, 1, 16) == 4192
    assert names[0] == "wte.weight.0.0" and names[27 * 16] == "wpe.weight.0.0"
    assert names[(27 + 16) * 16] == "lm_head.weight.0.0"
    assert names[(27 + 16 + 27) * 16] == "layers.0.attn.wq.weight.0.0" and names[-1] == "layers.0.mlp.fc2.weight.15.63"


def test_a_saved_gpt_loads_with_its_configuration_and_weights(tmp_path):
    model = tiny_model(seed=3)
    nn.save(model, tmp_path / "gpt.json")
    loaded = nn.load(tmp_path / "gpt.json")
    assert isinstance(loaded, nn.GPT) and loaded.config() == model.config()
    assert loaded.state_dict() == model.state_dict()
    assert loaded.loss(TOKENS).data == model.loss(TOKENS).data


def test_a_saved_gpt_whose_weights_do_not_fit_its_configuration_is_refused(tmp_path):
    import json

    path = tmp_path / "gpt.json"
    nn.save(tiny_model(), path)
    document = json.loads(path.read_text())
    document["config"]["n_layer"] = 3
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="the GPT described by config has 632 parameters, but the file holds 440"):
        nn.load(path)
    document["config"].update(n_layer=2, n_head=3)
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="n_embd must be a multiple of n_head, got 4 and 3"):
        nn.load(path)


def test_load_state_dict_moves_a_model_to_anothers_weights():
    a, b = tiny_model(seed=1), tiny_model(seed=2)
    b.load_state_dict(a.state_dict())
    assert b.loss(TOKENS).data == a.loss(TOKENS).data


# --- sampling ---------------------------------------------------------------------------------------------
def test_generate_is_deterministic_for_a_seed_and_stays_in_the_vocabulary():
    model = tiny_model(seed=4)
    samples = nn.generate(model, 20, temperature=1.0, seed=7)
    assert samples == nn.generate(model, 20, temperature=1.0, seed=7)
    assert samples != nn.generate(model, 20, temperature=1.0, seed=8)
    assert all(len(s) <= TINY["block_size"] and all(0 <= t < 4 for t in s) for s in samples)  # BOS (4) ends a sample


def test_a_low_temperature_samples_the_most_likely_token():
    model = tiny_model(seed=5, std=1.0)
    with autodiff.no_grad():
        logits = model([4])[0]
    best = max(range(5), key=lambda k: logits[k].data)
    first = [s[0] if s else 4 for s in nn.generate(model, 10, temperature=1e-3, seed=0)]
    assert first == [best] * 10


def test_the_names_dataset_ships_with_its_licence_beside_it():
    from importlib import resources

    names = nn.text.load_names()
    assert len(names) == 32033 and names[:3] == ["emma", "olivia", "ava"]
    licence = resources.files("nn").joinpath("datasets", "names.LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Andrej Karpathy" in licence
    tokenizer = nn.text.CharTokenizer(names)
    assert tokenizer.vocab_size == 27 and tokenizer.decode(tokenizer.encode("emma")) == "emma"


def test_sampling_at_a_tiny_temperature_picks_the_likeliest_token_without_overflow():
    model = tiny_model()
    cache = model.new_cache()
    with autodiff.no_grad():
        logits = [z.data for z in model.step(4, cache)]
    likeliest = max(range(len(logits)), key=logits.__getitem__)
    first_tokens = {sample[0] for sample in nn.generate(model, 5, temperature=1e-310, seed=0) if sample}
    assert first_tokens <= {likeliest}  # a sample may also end at once, when BOS is the likeliest


def test_a_tokenizer_decodes_numpy_integers():
    np = pytest.importorskip("numpy")
    tokenizer = nn.text.CharTokenizer(["ab"])
    assert tokenizer.decode([np.int64(0), np.int32(1)]) == "ab"


# --- the edges of every check (mutation testing found them untested) ----------------------------------
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.GPT(27, n_embd=16, n_head=5), ValueError, "GPT: n_embd must be a multiple of n_head"),
        (lambda: nn.GPT(27, std=-1.0), ValueError, "GPT: std must be a finite number >= 0, got -1.0"),
        (lambda: nn.GPT(27, std=math.inf), ValueError, "GPT: std must be a finite number >= 0, got inf"),
        (lambda: nn.GPT(27, std=True), ValueError, "GPT: std must be a finite number >= 0, got True"),
        (lambda: tiny_model().step(5, tiny_model().new_cache()), ValueError, "GPT: token 5 at position 0 is outside"),
        (lambda: nn.generate(tiny_model(), True), ValueError, "generate: n must be an int >= 0, got True"),
        (lambda: nn.generate(tiny_model(), 1, temperature=math.inf), ValueError, "temperature must be a finite"),
        (lambda: nn.generate(tiny_model(), 1, temperature=True), ValueError, "temperature must be a finite"),
        (lambda: microgpt_adam(tiny_model().parameters(), num_steps=True), ValueError, "num_steps must be a positive"),
        (lambda: CompiledSteps(tiny_model()).value_and_grad([4]), ValueError, "CompiledSteps: needs at least 2 tokens"),
        (
            lambda: tiny_model().step_embedding([autodiff.Value(0.0)] * 5, tiny_model().new_cache()),
            ValueError,
            "GPT: a token embedding has n_embd=4 entries, got 5",
        ),
        (lambda: nn.transformer.Embedding(5, 2)(True), TypeError, "Embedding: a index must be an int, got bool"),
        (lambda: nn.transformer.Embedding(5, 2)(5), ValueError, "Embedding: index 5 is outside the table [0, 5)"),
        (lambda: nn.transformer.Embedding(5, 2)(-1), ValueError, "Embedding: index -1 is outside the table [0, 5)"),
        (lambda: nn.transformer.check_heads("f", True, 1), TypeError, "f: n_embd must be a positive int, got bool"),
        (lambda: nn.transformer.check_heads("f", 4, 0), ValueError, "f: n_head must be a positive int, got 0"),
        (lambda: nn.text.CharTokenizer([""]), ValueError, "CharTokenizer: the documents have no characters"),
        (lambda: nn.text.CharTokenizer(["ab"]).decode([3]), ValueError, "token 3 is not in the vocabulary [0, 3)"),
        (lambda: nn.text.CharTokenizer(["ab"]).decode([True]), ValueError, "token True is not in the vocabulary"),
        (lambda: nn.text.CharTokenizer(["ab"]).decode([1.0]), ValueError, "token 1.0 is not in the vocabulary"),
    ],
)
def test_each_check_refuses_its_edge_case_with_a_message_that_names_it(make, error, message):
    with pytest.raises(error) as raised:
        make()
    assert message in str(raised.value)


def test_the_smallest_valid_values_pass_every_check():
    assert nn.generate(tiny_model(), 0) == []
    nn.GPT(5, n_embd=1, n_head=1, block_size=1, std=0.0)  # std 0 is allowed: every weight 0
    nn.transformer.CausalSelfAttention(1, 1)
    nn.transformer.check_heads("f", 1, 1)
    table = nn.transformer.Embedding(5, 2, seed=0)
    assert table(4) is table.weight[4] and len(table(4)) == 2  # the last row: the row's parameters themselves
    assert nn.text.CharTokenizer(["ab"]).decode([2, 0, 1, 2]) == "ab"  # BOS (2) is left out
    assert microgpt_adam(tiny_model().parameters(), num_steps=1).schedule(0) == 0.01
    eager, compiled = tiny_model(seed=3), tiny_model(seed=3)
    assert CompiledSteps(compiled).value_and_grad([4, 2])[0] == pytest.approx(eager.loss([4, 2]).data, abs=1e-15)


def test_sampling_runs_at_temperature_one_half_by_default():
    model = tiny_model(std=0.1)  # small weights: the temperature decides how spread the samples are
    assert nn.generate(model, 30, seed=5) == nn.generate(model, 30, temperature=0.5, seed=5)
    assert nn.generate(model, 30, seed=5) != nn.generate(model, 30, temperature=0.25, seed=5)


def test_the_learning_rate_decays_to_zero_and_stays_there():
    optimizer = microgpt_adam(tiny_model().parameters(), num_steps=10)
    assert [optimizer.schedule(t) for t in (0, 5, 10, 15)] == pytest.approx([0.01, 0.005, 0.0, 0.0], abs=1e-18)


def test_a_compiled_training_step_updates_the_parameters_as_an_eager_one():
    eager, compiled = tiny_model(seed=4), tiny_model(seed=4)
    eager_adam = microgpt_adam(eager.parameters(), num_steps=10)
    compiled_adam = microgpt_adam(compiled.parameters(), num_steps=10)
    steps = CompiledSteps(compiled)
    for tokens in ([4, 1, 2, 4], [4, 3, 4]):
        eager_loss = train_step(eager, eager_adam, tokens)
        assert steps.train_step(compiled_adam, tokens) == pytest.approx(eager_loss, abs=1e-14)
    for a, b in zip(eager.parameters(), compiled.parameters()):
        assert b.data == pytest.approx(a.data, abs=1e-12)
    assert any(a.data != b.data for a, b in zip(tiny_model(seed=4).parameters(), compiled.parameters()))  # it moved


def test_a_model_says_its_configuration_and_size():
    assert repr(tiny_model()).endswith(f": {tiny_model().num_parameters():,} parameters")
    assert repr(tiny_model()).startswith("GPT(vocab_size=5, n_embd=4, n_head=2, n_layer=2, block_size=4)")
