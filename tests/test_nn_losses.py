"""Losses: closed forms, numeric derivatives, batch means, extreme logits, errors, and PyTorch."""

import math

import pytest

import autodiff
from autodiff import Value
from nn.losses import binary_cross_entropy, cross_entropy, hinge, l2, mse, softmax


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def value_and_grads(fn, *xs):
    values = [Value(x) for x in xs]
    out = fn(*values)
    out.backward()
    return out.data, [v.grad for v in values]


def assert_gradcheck(fn, xs):
    result = autodiff.gradcheck(fn, xs, atol=1e-7, rtol=1e-6)
    assert result.ok, result


# --- mse -------------------------------------------------------------------------
def test_mse_of_one_example_is_the_squared_error_with_derivative_two_times_the_error():
    assert value_and_grads(lambda p: mse(p, 0.5), 2.0) == (2.25, [3.0])


def test_mse_of_a_batch_is_the_mean_over_every_entry():
    value, grads = value_and_grads(lambda a, b, c: mse([a, b, c], [0.0, 1.0, 1.0]), 1.0, 3.0, -1.0)
    assert value == pytest.approx((1 + 4 + 4) / 3, rel=1e-15)
    assert grads == pytest.approx([2 / 3 * 1, 2 / 3 * 2, 2 / 3 * -2], rel=1e-15)
    value, _ = value_and_grads(lambda a, b, c, d: mse([[a, b], [c, d]], [[0, 0], [1, 1]]), 1.0, 2.0, 3.0, 4.0)
    assert value == pytest.approx((1 + 4 + 4 + 9) / 4, rel=1e-15)


def test_mse_errors_name_the_mismatch():
    with pytest.raises(ValueError, match=r"mse: 2 predictions but 3 targets"):
        mse([Value(1.0), Value(2.0)], [1, 2, 3])
    with pytest.raises(ValueError, match=r"mse: prediction 1 and its target differ in shape: a list of 2 and a single"):
        mse([[Value(1.0), Value(2.0)], [Value(1.0), Value(2.0)]], [[1, 2], 3])
    with pytest.raises(TypeError, match=r"mse: target must be a number, got str \('1'\)"):
        mse(Value(1.0), "1")
    with pytest.raises(ValueError, match=r"mse: the batch is empty"):
        mse([], [])


# --- binary cross-entropy -----------------------------------------------------------
@pytest.mark.parametrize("z", [-3.0, -0.4, 0.0, 0.7, 5.0])
@pytest.mark.parametrize("t", [0, 1])
def test_binary_cross_entropy_is_minus_the_log_likelihood_with_derivative_sigmoid_minus_target(z, t):
    value, (grad,) = value_and_grads(lambda v: binary_cross_entropy(v, t), z)
    p = sigmoid(z)
    assert value == pytest.approx(-(t * math.log(p) + (1 - t) * math.log(1 - p)), rel=1e-14)
    assert grad == pytest.approx(p - t, rel=1e-14, abs=1e-16)
    assert_gradcheck(lambda v: binary_cross_entropy(v, t), [z])


def test_binary_cross_entropy_has_the_exact_derivative_at_a_zero_logit():
    assert value_and_grads(lambda z: binary_cross_entropy(z, 1), 0.0) == (math.log(2), [-0.5])
    assert value_and_grads(lambda z: binary_cross_entropy(z, 0), 0.0) == (math.log(2), [0.5])


@pytest.mark.parametrize(
    "z, t, loss, grad",
    [(1000.0, 1, 0.0, 0.0), (1000.0, 0, 1000.0, 1.0), (-1000.0, 1, 1000.0, -1.0), (-1000.0, 0, 0.0, 0.0)],
)
def test_binary_cross_entropy_is_exact_at_logits_of_magnitude_1000(z, t, loss, grad):
    assert value_and_grads(lambda v: binary_cross_entropy(v, t), z) == (loss, [grad])


def test_binary_cross_entropy_of_a_batch_is_the_mean():
    value, grads = value_and_grads(lambda a, b: binary_cross_entropy([a, b], [1, 0]), 0.5, 2.0)
    assert value == pytest.approx((-math.log(sigmoid(0.5)) - math.log(1 - sigmoid(2.0))) / 2, rel=1e-14)
    assert grads == pytest.approx([(sigmoid(0.5) - 1) / 2, sigmoid(2.0) / 2], rel=1e-14)


@pytest.mark.parametrize("bad", [-1, 2, 0.5, True])
def test_binary_cross_entropy_refuses_targets_other_than_0_and_1(bad):
    with pytest.raises(ValueError, match=rf"binary_cross_entropy: target must be 0 or 1, got {bad!r}"):
        binary_cross_entropy(Value(0.3), bad)


def test_targets_may_be_values_for_example_the_inputs_of_a_traced_function():
    z, t = Value(0.3), Value(1.0)
    loss = binary_cross_entropy(z, t)
    loss.backward()
    assert loss.data == binary_cross_entropy(Value(0.3), 1).data
    assert z.grad == pytest.approx(sigmoid(0.3) - 1, rel=1e-15)
    assert hinge(Value(0.25), Value(-1.0)).data == 1.25


# --- hinge ---------------------------------------------------------------------------
def test_hinge_is_relu_of_one_minus_label_times_score():
    assert value_and_grads(lambda s: hinge(s, 1), 0.25) == (0.75, [-1.0])
    assert value_and_grads(lambda s: hinge(s, -1), 0.25) == (1.25, [1.0])
    assert value_and_grads(lambda s: hinge(s, 1), 3.0) == (0.0, [0.0])  # beyond the margin: no gradient
    value, grads = value_and_grads(lambda a, b: hinge([a, b], [1, -1]), 0.5, 2.0)
    assert (value, grads) == (pytest.approx((0.5 + 3.0) / 2), [-0.5, 0.5])


@pytest.mark.parametrize("bad", [0, 2, 0.5])
def test_hinge_refuses_labels_other_than_minus_one_and_plus_one(bad):
    with pytest.raises(ValueError, match=rf"hinge: label must be -1 or 1, got {bad!r}"):
        hinge(Value(0.3), bad)


# --- cross-entropy and softmax ----------------------------------------------------
def test_cross_entropy_is_minus_log_softmax_with_gradient_softmax_minus_one_hot():
    logits = [0.5, -1.0, 2.0]
    value, grads = value_and_grads(lambda *zs: cross_entropy(list(zs), 2), *logits)
    exps = [math.exp(z) for z in logits]
    probs = [e / sum(exps) for e in exps]
    assert value == pytest.approx(-math.log(probs[2]), rel=1e-14)
    assert grads == pytest.approx([probs[0], probs[1], probs[2] - 1], rel=1e-13)
    assert_gradcheck(lambda a, b, c: cross_entropy([a, b, c], 1), logits)


def test_cross_entropy_is_exact_and_finite_at_logits_of_magnitude_1000():
    value, grads = value_and_grads(lambda a, b, c: cross_entropy([a, b, c], 0), 1000.0, 0.0, -1000.0)
    assert (value, grads) == (0.0, [0.0, 0.0, 0.0])
    value, grads = value_and_grads(lambda a, b, c: cross_entropy([a, b, c], 2), 1000.0, 0.0, -1000.0)
    assert (value, grads) == (2000.0, [1.0, 0.0, -1.0])


def test_cross_entropy_of_a_batch_is_the_mean():
    value, grads = value_and_grads(lambda a, b, c, d: cross_entropy([[a, b], [c, d]], [0, 1]), 1.0, 2.0, 3.0, 3.0)
    assert value == pytest.approx((math.log(math.exp(1) + math.exp(2)) - 1 + math.log(2)) / 2, rel=1e-14)
    assert grads[2:] == pytest.approx([0.25, -0.25], rel=1e-14)


def test_cross_entropy_errors_name_the_bad_target():
    with pytest.raises(ValueError, match=r"cross_entropy: target must be a class index in \[0, 3\), got 3"):
        cross_entropy([Value(0.0)] * 3, 3)
    with pytest.raises(TypeError, match=r"cross_entropy: target must be a class index \(an int\), got float"):
        cross_entropy([[Value(0.0)] * 3], [1.0])
    with pytest.raises(TypeError, match=r"cross_entropy: expected a non-empty list of logits, got list \(\[\]\)"):
        cross_entropy([], 0)
    with pytest.raises(ValueError, match=r"cross_entropy: 1 predictions but 2 targets"):
        cross_entropy([[Value(0.0)] * 3], [0, 1])


def test_softmax_gives_probabilities_that_sum_to_one_even_at_extreme_logits():
    probs = [p.data for p in softmax([Value(1.0), Value(2.0), Value(3.0)])]
    exps = [math.exp(z) for z in (1.0, 2.0, 3.0)]
    assert probs == pytest.approx([e / sum(exps) for e in exps], rel=1e-15)
    assert [p.data for p in softmax([Value(1000.0), Value(0.0), Value(-1000.0)])] == [1.0, 0.0, 0.0]
    assert_gradcheck(lambda a, b, c: softmax([a, b, c])[1] * 3 + softmax([a, b, c])[2], [0.3, -0.2, 1.1])


# --- l2 -------------------------------------------------------------------------------
def test_l2_is_the_sum_of_squares_with_gradient_two_p():
    value, grads = value_and_grads(lambda a, b, c: l2([a, b, c]), 1.0, -2.0, 3.0)
    assert (value, grads) == (14.0, [2.0, -4.0, 6.0])
    assert l2([]).data == 0.0


# --- PyTorch --------------------------------------------------------------------------
@pytest.mark.torch
def test_losses_match_pytorch_including_at_extreme_logits():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    logits = [-1000.0, -3.0, 0.0, 0.4, 1000.0]
    targets = [1, 0, 1, 0, 0]
    value, grads = value_and_grads(lambda *zs: binary_cross_entropy(list(zs), targets), *logits)
    t_logits = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    t_loss = F.binary_cross_entropy_with_logits(t_logits, torch.tensor(targets, dtype=torch.float64))
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=1e-14)
    assert grads == pytest.approx(t_logits.grad.tolist(), rel=1e-14, abs=1e-300)

    rows = [[1000.0, 0.0, -1000.0], [0.5, -1.0, 2.0]]
    values = [[Value(z) for z in row] for row in rows]
    loss = cross_entropy(values, [2, 1])
    loss.backward()
    t_rows = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    t_loss = F.cross_entropy(t_rows, torch.tensor([2, 1]))
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-14)
    for row, t_row in zip(values, t_rows.grad.tolist()):
        assert [v.grad for v in row] == pytest.approx(t_row, rel=1e-14, abs=1e-300)

    value, grads = value_and_grads(lambda a, b, c: mse([a, b, c], [0.1, 0.2, 0.3]), 1.0, -2.0, 0.5)
    t_preds = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    t_loss = F.mse_loss(t_preds, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=1e-15)
    assert grads == pytest.approx(t_preds.grad.tolist(), rel=1e-15)


@pytest.mark.parametrize("scale", [0.0, 1e3, 1e10, 1e15])
def test_softmax_and_cross_entropy_keep_their_digits_for_large_logits(scale):
    # logits (s, s, s - 1): softmax = (1, 1, 1/e) / (2 + 1/e) whatever s is
    zs = [Value(scale), Value(scale), Value(scale - 1.0)]
    total = 2.0 + math.exp(-1.0)
    expected = [1.0 / total, 1.0 / total, math.exp(-1.0) / total]
    assert [p.data for p in softmax(zs)] == pytest.approx(expected, rel=1e-15)
    loss = cross_entropy(zs, 2)
    loss.backward()
    assert loss.data == pytest.approx(1.0 + math.log(total), rel=1e-15)
    assert [z.grad for z in zs] == pytest.approx([expected[0], expected[1], expected[2] - 1.0], rel=1e-15)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 10**400])
def test_a_non_finite_target_or_prediction_is_named_by_the_loss(bad):
    with pytest.raises(ValueError, match="mse: target must be a finite number"):
        mse(Value(1.0), bad)
    with pytest.raises(ValueError, match="mse: prediction must be a finite number"):
        mse(bad, 1.0)
