"""SGD and Adam: several steps against an independent float reimplementation and against torch.optim."""

import math

import pytest

import autodiff
from autodiff import Value
from nn.optim import SGD, Adam

START = [0.5, -1.2, 2.0, 0.1]
STEPS = 6


def objective(ps):
    """f(p) = sum_i (i + 1) sin(p_i) + p_0 p_1 + p_3^2, with p_3 given a large gradient scale."""
    return autodiff.sum([(i + 1) * p.sin() for i, p in enumerate(ps)]) + ps[0] * ps[1] + ps[3] ** 2


def objective_gradient(ps):
    g = [(i + 1) * math.cos(p) for i, p in enumerate(ps)]
    g[0] += ps[1]
    g[1] += ps[0]
    g[3] += 2 * ps[3]
    return g


def run_ours(make_optimizer):
    params = [Value(x) for x in START]
    optimizer = make_optimizer(params)
    trajectory = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        objective(params).backward()
        optimizer.step()
        trajectory.append([p.data for p in params])
    return trajectory


def reference_sgd(lr, momentum=0.0, weight_decay=0.0):
    """SGD as the torch.optim.SGD documentation writes it (dampening 0, nesterov off), on plain floats."""
    theta, buffers, trajectory = list(START), None, []
    for _ in range(STEPS):
        g = objective_gradient(theta)
        g = [gi + weight_decay * t for gi, t in zip(g, theta)]
        if momentum:
            buffers = list(g) if buffers is None else [momentum * b + gi for b, gi in zip(buffers, g)]
            g = buffers
        theta = [t - lr * gi for t, gi in zip(theta, g)]
        trajectory.append(theta)
    return trajectory


def reference_adam(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """Adam as the torch.optim.Adam documentation writes it, on plain floats."""
    beta1, beta2 = betas
    theta, m, v, trajectory = list(START), [0.0] * 4, [0.0] * 4, []
    for t in range(1, STEPS + 1):
        g = [gi + weight_decay * th for gi, th in zip(objective_gradient(theta), theta)]
        m = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m, g)]
        v = [beta2 * vi + (1 - beta2) * gi**2 for vi, gi in zip(v, g)]
        m_hat = [mi / (1 - beta1**t) for mi in m]
        v_hat = [vi / (1 - beta2**t) for vi in v]
        theta = [th - lr * mh / (math.sqrt(vh) + eps) for th, mh, vh in zip(theta, m_hat, v_hat)]
        trajectory.append(theta)
    return trajectory


def run_torch(torch, make_optimizer):
    params = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([params])
    trajectory = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        p = params
        f = sum((i + 1) * torch.sin(p[i]) for i in range(4)) + p[0] * p[1] + p[3] ** 2
        f.backward()
        optimizer.step()
        trajectory.append(params.detach().tolist())
    return trajectory


def assert_same_trajectory(ours, theirs, rel):
    assert len(ours) == len(theirs) == STEPS
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == pytest.approx(b, rel=rel, abs=rel), f"step {step + 1}"


SGD_SETTINGS = [
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1},
]
ADAM_SETTINGS = [
    {},
    {"lr": 0.1},
    {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
]


@pytest.mark.parametrize("settings", SGD_SETTINGS)
def test_sgd_takes_the_steps_of_the_torch_update_rule(settings):
    ours = run_ours(lambda ps: SGD(ps, **settings))
    assert_same_trajectory(ours, reference_sgd(**settings), rel=1e-14)
    assert ours[-1] != pytest.approx(START, abs=1e-3)  # the parameters really moved


@pytest.mark.parametrize("settings", ADAM_SETTINGS)
def test_adam_takes_the_steps_of_the_torch_update_rule(settings):
    ours = run_ours(lambda ps: Adam(ps, **settings))
    assert_same_trajectory(ours, reference_adam(**settings), rel=1e-13)


def test_the_reference_comparison_catches_a_missing_bias_correction():
    def adam_without_bias_correction(ps):
        opt = Adam(ps, lr=0.1)
        opt.steps = 10**6  # 1 - beta**t is then 1: no correction
        return opt

    with pytest.raises(AssertionError):
        assert_same_trajectory(run_ours(adam_without_bias_correction), reference_adam(lr=0.1), rel=1e-13)


@pytest.mark.torch
@pytest.mark.parametrize("settings", SGD_SETTINGS)
def test_sgd_matches_torch_optim_sgd(settings):
    torch = pytest.importorskip("torch")
    ours = run_ours(lambda ps: SGD(ps, **settings))
    assert_same_trajectory(ours, run_torch(torch, lambda ps: torch.optim.SGD(ps, **settings)), rel=1e-14)


@pytest.mark.torch
@pytest.mark.parametrize("settings", ADAM_SETTINGS)
def test_adam_matches_torch_optim_adam(settings):
    torch = pytest.importorskip("torch")
    ours = run_ours(lambda ps: Adam(ps, **settings))
    assert_same_trajectory(ours, run_torch(torch, lambda ps: torch.optim.Adam(ps, **settings)), rel=1e-13)


def test_a_schedule_sets_the_learning_rate_of_each_step():
    p = Value(0.0)
    rates = []
    opt = SGD([p], lr=1.0, schedule=lambda t: 0.5**t)
    for _ in range(4):
        p.grad = 1.0  # a constant gradient: each step moves p by exactly its rate
        before = p.data
        opt.step()
        rates.append(before - p.data)
    assert rates == [1.0, 0.5, 0.25, 0.125]
    assert opt.lr == 0.125 and opt.steps == 4


def test_the_learning_rate_can_be_changed_between_steps():
    p = Value(1.0)
    opt = Adam([p], lr=0.1)
    p.grad = 1.0
    opt.step()
    opt.lr = 0.0
    before = p.data
    opt.step()
    assert p.data == before


def test_a_step_that_would_overflow_raises_and_changes_nothing():
    a, b = Value(1.0), Value(1e308)
    opt = SGD([a, b], lr=10.0, momentum=0.9)
    a.grad, b.grad = 1.0, 1.0
    opt.step()
    state = ([a.data, b.data], list(opt.buffers), opt.steps)
    a.grad, b.grad = 1.0, -1e308
    with pytest.raises(OverflowError, match=r"SGD: step 1 would make parameter 1 inf .*nothing was changed"):
        opt.step()
    assert ([a.data, b.data], opt.buffers, opt.steps) == state

    c = Value(1e308)
    adam = Adam([c], lr=1e308)
    c.grad = -1.0
    with pytest.raises(OverflowError, match=r"Adam: step 0 would make parameter 0 inf"):
        adam.step()
    assert (c.data, adam.m, adam.v, adam.steps) == (1e308, [0.0], [0.0], 0)


class InterruptedParameter(Value):
    """A parameter whose next assignment of `data` raises KeyboardInterrupt (as Ctrl-C could), once armed."""

    armed = False

    @property
    def data(self):
        return Value.data.__get__(self)

    @data.setter
    def data(self, x):
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        Value.data.__set__(self, x)


OPTIMIZERS = {
    "sgd-momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, schedule=lambda t: 0.1 / (t + 1)),
    "adam": lambda ps: Adam(ps, lr=0.05, weight_decay=0.01),
}


def optimizer_state(opt):
    return {key: getattr(opt, key, None) for key in ("lr", "steps", "buffers", "m", "v")}


@pytest.mark.parametrize("interrupted", [0, 2, 3], ids=["first", "middle", "last"])
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_an_interrupt_while_parameters_are_assigned_changes_nothing(make_optimizer, interrupted):
    params = [InterruptedParameter(x) for x in START]
    reference = [Value(x) for x in START]  # the same optimizer on plain Values, never interrupted
    opt, ref_opt = make_optimizer(params), make_optimizer(reference)
    for ps, o in ((params, opt), (reference, ref_opt)):  # one step, so that moments and buffers hold something
        for p, g in zip(ps, objective_gradient([p.data for p in ps])):
            p.grad = g
        o.step()
    before = ([p.data for p in params], optimizer_state(opt))
    for p, g in zip(params, objective_gradient(before[0])):
        p.grad = g
    params[interrupted].armed = True
    with pytest.raises(KeyboardInterrupt):
        opt.step()
    assert ([p.data for p in params], optimizer_state(opt)) == before
    opt.step()  # the step again, uninterrupted: as if the interrupted one never happened
    for p, g in zip(reference, objective_gradient(before[0])):
        p.grad = g
    ref_opt.step()
    assert [p.data for p in params] == [p.data for p in reference]
    assert optimizer_state(opt) == optimizer_state(ref_opt)


def test_a_parameter_listed_twice_is_stepped_once():
    p = Value(1.0)
    opt = SGD([p, p], lr=0.5)
    p.grad = 1.0
    opt.step()
    assert p.data == 0.5 and len(opt.params) == 1


def test_zero_grad_resets_the_gradients_and_accepts_a_generator_of_parameters():
    ps = [Value(1.0), Value(2.0)]
    opt = SGD((p for p in ps), lr=0.1)
    for p in ps:
        p.grad = 3.0
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


def test_bad_arguments_are_clear_errors():
    p = [Value(1.0)]
    with pytest.raises(ValueError, match=r"SGD: lr must be a finite number >= 0, got -0.1"):
        SGD(p, lr=-0.1)
    with pytest.raises(TypeError, match=r"SGD: lr must be a number, got str"):
        SGD(p, lr="0.1")
    with pytest.raises(ValueError, match=r"SGD: momentum must be a finite number >= 0, got -0.5"):
        SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be a finite number in \[0, 1\), got 1.0"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match=r"Adam: betas must be a pair"):
        Adam(p, betas=0.9)
    with pytest.raises(ValueError, match=r"Adam: weight_decay must be a finite number >= 0, got nan"):
        Adam(p, weight_decay=float("nan"))
    with pytest.raises(ValueError, match=r"Adam: got an empty parameter list"):
        Adam([])
    with pytest.raises(TypeError, match=r"SGD: parameter 1 must be a Value, got float \(2.0\)"):
        SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: params must be a list of Values"):
        SGD(Value(1.0), lr=0.1)
    with pytest.raises(TypeError, match=r"SGD: schedule must be a function of the step number"):
        SGD(p, lr=0.1, schedule=0.5)
    opt = SGD(p, lr=0.1, schedule=lambda t: -1.0)
    with pytest.raises(ValueError, match=r"SGD: schedule\(0\): lr must be a finite number >= 0, got -1.0"):
        opt.step()


def test_a_gradient_built_with_create_graph_is_read_as_its_value():
    x = Value(2.0)
    (x**3).backward(create_graph=True)  # x.grad is a Value, 12
    SGD([x], lr=0.1).step()
    assert x.data == pytest.approx(2.0 - 1.2, rel=1e-15)


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_a_bad_learning_rate_set_between_steps_is_refused_and_changes_nothing(optimizer):
    w = Value(1.0)
    opt = optimizer([w], lr=0.1)
    w.grad = 2.0
    opt.lr = -1.0
    with pytest.raises(ValueError, match=rf"{optimizer.__name__}: lr must be a finite number >= 0, got -1.0"):
        opt.step()
    assert w.data == 1.0


def test_lr_set_between_steps_is_used_without_a_schedule_and_overridden_by_one():
    for schedule, expected in [(None, 0.5), (lambda t: 0.1, 0.1)]:
        p = Value(1.0)
        optimizer = SGD([p], lr=0.1, schedule=schedule)
        optimizer.lr = 0.5
        p.grad = 1.0
        optimizer.step()
        assert p.data == 1.0 - expected and optimizer.lr == expected
