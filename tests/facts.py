"""The syllabus facts (../shared/syllabus.md) each chapter page must show, as printed.

Numbers a run prints are derived here, where they can be, from the syllabus's description of
the demo by another computation than the chapter's (NumPy in float64, or plain Python),
instead of copied from a run: DERIVED lists them (the source's nbval snapshots must show
them) and FACTS uses them (the pages must show them)."""
import re

import numpy as np
import torch


def line_fit_losses():
    """02: n = 100 points (u, 1), u ~ U(-1, 1), weights (3, 2), U(0, 1) noise, after
    seed_everything(2022); plain gradient descent from (1, 1), lr 0.1, 100 steps. Only the
    random draws come from torch (the same generator and seed): the descent is NumPy's."""
    generator = torch.Generator().manual_seed(2022)
    u = torch.empty(100).uniform_(-1.0, 1.0, generator=generator).double().numpy()
    noise = torch.rand(100, generator=generator).double().numpy()
    X = np.stack([u, np.ones(100)], axis=1)
    y = X @ np.array([3.0, 2.0]) + noise
    a, losses = np.array([1.0, 1.0]), []
    for _ in range(100):
        residual = X @ a - y
        losses.append(float((residual ** 2).mean()))
        a = a - 0.1 * 2 / len(y) * X.T @ residual
    return losses


def cube_zero_path(steps=2):
    """06: x <- x - lr * 3x^2 (the gradient of |x^3| for x > 0) from x = 7 with lr 0.01."""
    x, path = 7.0, []
    for _ in range(steps):
        x -= 0.01 * 3 * x * x
        path.append(round(x, 4))
    return path


def first_widenet_loss():
    """05: WideNet (Linear(1, 512) -> Tanh -> Linear(512, 1), nn.Linear's default init, built
    after seed_everything(2021)) on 32 points sin(pi x) + N(0, 1) / 4, x = linspace(-1, 1, 32),
    the noise drawn after seed_everything(2021): the MSE before any step. The draws come from
    torch's generator in nn.Linear's order (weight, then bias, each U(-1/sqrt(fan_in),
    1/sqrt(fan_in))); the network is NumPy's, in float64. A float32 run agrees to about 7
    digits, and its last digits depend on the CPU, so the page is checked to 6 decimals."""
    generator = torch.Generator().manual_seed(2021)
    x = torch.linspace(-1, 1, 32).double().numpy()[:, None]
    y = np.sin(np.pi * x) + torch.randn(32, 1, generator=generator).double().numpy() / 4
    generator = torch.Generator().manual_seed(2021)
    draw = lambda *shape, bound: torch.empty(*shape).uniform_(-bound, bound, generator=generator).double().numpy()
    w1, b1 = draw(512, 1, bound=1.0), draw(512, bound=1.0)
    w2, b2 = draw(1, 512, bound=512 ** -0.5), draw(1, bound=512 ** -0.5)
    prediction = np.tanh(x @ w1.T + b1) @ w2.T + b2
    return float(((prediction - y) ** 2).mean())


def widenet_sgd_losses(epochs):
    """05: the training run of the chapter, WideNet and its data as in first_widenet_loss, SGD
    with lr 0.003 and momentum 0.9 (PyTorch's rule: v <- 0.9 v + g, the first v = g; p <- p -
    lr v), full batch, in NumPy float64 with hand-written gradients: the loss before each step."""
    generator = torch.Generator().manual_seed(2021)
    x = torch.linspace(-1, 1, 32).double().numpy()[:, None]
    y = np.sin(np.pi * x) + torch.randn(32, 1, generator=generator).double().numpy() / 4
    generator = torch.Generator().manual_seed(2021)
    draw = lambda *shape, bound: torch.empty(*shape).uniform_(-bound, bound, generator=generator).double().numpy()
    params = [draw(512, 1, bound=1.0), draw(512, bound=1.0), draw(1, 512, bound=512 ** -0.5), draw(1, bound=512 ** -0.5)]
    velocity, losses = None, []
    for _ in range(epochs):
        w1, b1, w2, b2 = params
        hidden = np.tanh(x @ w1.T + b1)
        residual = hidden @ w2.T + b2 - y
        losses.append(float((residual ** 2).mean()))
        d_out = 2 * residual / len(y)
        d_pre = (d_out @ w2) * (1 - hidden ** 2)
        grads = [d_pre.T @ x, d_pre.sum(axis=0), d_out.T @ hidden, d_out.sum(axis=0)]
        velocity = grads if velocity is None else [0.9 * v + g for v, g in zip(velocity, grads)]
        params = [p - 0.003 * v for p, v in zip(params, velocity)]
    return losses


def log_softmax_digits():
    """08: row [-1000, -1001, -1003]: log-softmax of its first entry, exact (float64), and as
    float32 computes z - (m + log sum exp(z - m)) when m + ... is rounded to float32 first."""
    row = np.array([-1000.0, -1001.0, -1003.0])
    shifted_log_sum = np.log(np.exp(row - row.max()).sum())
    exact = (row[0] - row.max()) - shifted_log_sum
    rounded = np.float32(np.float32(row[0]) - np.float32(np.float32(row.max()) + np.float32(shifted_log_sum)))
    return float(exact), float(rounded)


def sine_noise_mean_square():
    """05: the mean square of the noise N(0, 1) / 4 drawn on the 32 points after
    seed_everything(2021), which is also the training MSE of sin(pi x) itself."""
    noise = torch.randn(32, 1, generator=torch.Generator().manual_seed(2021)).double().numpy() / 4
    return float((noise ** 2).mean())


def rounded_constant_column():
    """00: seven float32 entries 0.1 summed one after another in float32 and divided by 7, as a
    mean does: how far the mean lands from the entries."""
    entry, total = np.float32(0.1), np.float32(0.0)
    for _ in range(7):
        total = np.float32(total + entry)
    return float(np.float32(total / np.float32(7)) - entry)


def expansion_errors():
    """00: 20 float32 points 1000 + 0.001 N(0, 1) (seed 0): the largest squared distance, exact
    in float64, and the largest error of the clamped expansion computed by NumPy in float32."""
    points = (1000 + 0.001 * torch.randn(20, 3, generator=torch.Generator().manual_seed(0))).numpy()
    wide = points.astype(np.float64)
    exact = ((wide[:, None, :] - wide[None, :, :]) ** 2).sum(axis=-1)
    squares = (points * points).sum(axis=1)
    expanded = np.maximum(squares[:, None] + squares[None, :] - np.float32(2) * (points @ points.T), 0)
    return float(exact.max()), float(np.abs(expanded - exact).max())


def depth_spread():
    """05: 512 standard normal inputs (a generator seeded 0) through 20 bias-free layers of width
    256, each layer's weights drawn from the same generator after the inputs, as nn.init draws
    them (normal_ with the scheme's standard deviation; PyTorch's default is uniform_ on
    +-1/sqrt(256)): the RMS of the 20th pre-activation, forward pass in NumPy float64."""
    def last_rms(draw, activation):
        generator = torch.Generator().manual_seed(0)
        h = torch.randn(512, 256, generator=generator).double().numpy()
        for _ in range(20):
            pre = h @ draw(generator).double().numpy().T
            h = activation(pre)
        return float(np.sqrt((pre ** 2).mean()))
    normal = lambda std: lambda g: torch.empty(256, 256).normal_(0.0, std, generator=g)
    relu = lambda v: np.maximum(v, 0)
    return {"N(0, 0.01^2), tanh": last_rms(normal(0.01), np.tanh),
            "Xavier, tanh": last_rms(normal(5 / 3 * (2 / 512) ** 0.5), np.tanh),
            "PyTorch's default, ReLU": last_rms(lambda g: torch.empty(256, 256).uniform_(-1 / 16, 1 / 16, generator=g), relu),
            "Kaiming, ReLU": last_rms(normal((2 / 256) ** 0.5), relu)}


def softmax_regression_baseline():
    """08: softmax regression on the digits' training split (the chapter's seeded permutation,
    pixels / 16), from W = 0, b = 0, 200 full-batch gradient steps with lr 0.5 and the gradients
    X^T (Q - Y) / N and mean(Q - Y), in NumPy float64: the training loss, and the number of the
    300 validation images classified right."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    order = torch.randperm(len(digits.target), generator=torch.Generator().manual_seed(2021)).numpy()
    X, y = digits.data[order[:1197]] / 16, digits.target[order[:1197]]
    W, b = np.zeros((64, 10)), np.zeros(10)

    def log_probs(X):
        z = X @ W + b
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    for _ in range(200):
        g = np.exp(log_probs(X))
        g[np.arange(len(y)), y] -= 1
        W, b = W - 0.5 * X.T @ g / len(y), b - 0.5 * g.mean(axis=0)
    loss = -log_probs(X)[np.arange(len(y)), y].mean()
    validation = order[1197:1497]
    right = int((log_probs(digits.data[validation] / 16).argmax(axis=1) == digits.target[validation]).sum())
    return float(loss), right


def points_in_circle():
    """08: 400 points uniform in [-2, 2]^2 (a generator seeded 2021): how many lie within 1.2 of 0."""
    plane = torch.rand(400, 2, generator=torch.Generator().manual_seed(2021)).double().numpy() * 4 - 2
    return int((np.hypot(plane[:, 0], plane[:, 1]) < 1.2).sum())


NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def printed(fact, text, tolerance=0.0):
    """Does `text` print `fact`: exactly, or with each of its numbers within `tolerance`
    (relative to the number, absolute below 1), the words around them the same?"""
    if fact in text or not tolerance:
        return fact in text
    parts = re.split(f"({NUMBER})", fact)
    wanted = [float(n) for n in parts[1::2]]
    pattern = "".join(f"({NUMBER})" if i % 2 else re.escape(part) for i, part in enumerate(parts))
    return any(all(abs(float(got) - w) <= tolerance * max(1.0, abs(w)) for got, w in zip(m.groups(), wanted))
               for m in re.finditer(pattern, text))


_losses = line_fit_losses()
_sgd = widenet_sgd_losses(20_000)
_exact_log_prob, _rounded_log_prob = log_softmax_digits()
_largest, _expansion_error = expansion_errors()
_depth = depth_spread()
_baseline_loss, _baseline_right = softmax_regression_baseline()
DERIVED = {
    "00-tensors": [f"mean - 0.1:                {rounded_constant_column():.6e}",
                   "t.sum(dim=0): " + str([float(sum(range(j, 12, 4))) for j in range(4)]),
                   "A @ B: " + str((np.array([[1.0, 2], [3, 4], [5, 6]]) @ np.array([[1.0, 0, -1], [0, 1, 2]])).tolist()),
                   f"largest true squared distance:           {_largest:.2e}",
                   f"largest error of the clamped expansion:  {_expansion_error:.2g}"],
    "02-linear-regression": [f"loss before the first step: {_losses[0]:.4f}",
                             f"loss before the last step:  {_losses[-1]:.4f}",
                             f"(n - 2) / n * 1/12 = {(100 - 2) / 100 / 12:.4f}"],  # a fitted line's mean training MSE
    "05-nn-module": [f"first loss: {first_widenet_loss():.6f}", f"{sine_noise_mean_square():.4f}",
                     f"loss at epoch  1,847: {_sgd[1846]:.4f}", f"loss at epoch 20,000: {_sgd[-1]:.4f}",
                     *(f"{name:24} layer 1:" for name in _depth),
                     *(f"layer 20: {rms:9.3g}" for rms in _depth.values())],
    "08-classification": [f"'{_exact_log_prob:.7f}'", f"'{_rounded_log_prob:.7f}'",
                          f"points inside the circle: {points_in_circle()} of 400",
                          f"training accuracy {1 - points_in_circle() / 400:.3f}",  # the linear model: all "outside"
                          f"training loss after 200 steps: {_baseline_loss:.4f}", f"validation accuracy: {_baseline_right} of 300"],
    "06-optimizers-schedulers": ["first five values of x: [" + ", ".join(f"{x:g}" for x in cube_zero_path()) + ","],
}
FACTS = {
    "00-tensors": [
        "only Tensors of floating point dtype can require gradients",  # torch.tensor([10, 10]) is int64
        "Only Tensors of floating point and complex dtype can require gradients",  # the same at creation
        "torch.int64", "torch.float32", "torch.float64",
        "Using a target size",        # nn.MSELoss's warning about (N, 1) against (N,)
    ],
    "01-gradient-descent": [
        "1847",                      # Cauchy
        "201", "(14, 24)", "(8.6, 7.6)",
        "params argument given to the optimizer should be an iterable of Tensors or dicts",
        "(3.0807, -1.8616)", "8.0401", "69681", "inf", "(3.0000, -2.0000)",
    ],
    "02-linear-regression": [f"{_losses[0]:.4f}", f"{_losses[-1]:.4f}", f"{1 / 12:.4f}", "nn.Parameter"],
    "03-autograd": [
        "[[1.1667, 1.3333, 1.5000]", "[1.6667, 1.8333, 2.0000]]",
        "MulBackward0", "MeanBackward0", "AddBackward0", "0.2500", "0.5000", "Variable",
    ],
    "04-computational-graphs": ["49.0", "-14.0", "TanhBackward0"],
    "05-nn-module": ["1537", f"{first_widenet_loss():.6f}", "0.0673", f"{sine_noise_mean_square():.4f}"],
    "06-optimizers-schedulers": [
        "[" + ", ".join(f"{x:g}" for x in cube_zero_path()), "L1Loss((1,1,1), (1,2,3)) = 1.0", "4.000000e-01", "3.200000e-01",
        "all 151 rates match 0.5 * 0.8**k: True", "LBFGS", "LambdaLR", "MultiStepLR", "StepLR",
    ],
    "07-minibatches": ["1,537", "0.8889", "[10, 10, 10, 2]", "layers.0.weight", "True"],
    "08-classification": ["(1797, 64)", "load_digits", "AdamW", "weights_only=True", "map_location",
                          "clip_grad_norm_", "set_detect_anomaly", "isfinite"],
}
