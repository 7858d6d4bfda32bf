"""The exercise contract of ../shared/syllabus.md: names and exact signatures.

Each exercise is one solution cell whose grade_id is its name, followed by at least one
graded check cell `test_<name>` with visible and hidden checks.
"""
EXERCISES = {
    "00-tensors": {
        "standardize": "def standardize(x): ...",
        "pairwise_sq_dists": "def pairwise_sq_dists(a, b): ...",
    },
    "01-gradient-descent": {
        "fun_dz": "def fun_dz(x, y): ...",
        "gradient_descent": "def gradient_descent(loss_fn, start, lr, n_steps): ...",
    },
    "02-linear-regression": {
        "mse": "def mse(y, y_hat): ...",
        "update": "def update(X, y, a, lr): ...",
    },
    "03-autograd": {
        "numerical_grad": "def numerical_grad(f, x, h=1e-4): ...",
        "grad_of": "def grad_of(f, x): ...",
    },
    "04-computational-graphs": {
        "SimpleGraph": "class SimpleGraph:\n    def __init__(self, w, b): ...\n    def forward(self, x): ...",
        "sq_loss": "def sq_loss(y_true, y_prediction): ...",
        "analytic_grads": "def analytic_grads(x, y_true, w, b): ...",
    },
    "05-nn-module": {
        "train": "def train(features, labels, model, loss_fun, optimizer, n_epochs): ...",
    },
    "06-optimizers-schedulers": {
        "find_zero": "def find_zero(f, x0, lr, n_iter): ...",
        "lr_history": "def lr_history(optimizer, scheduler, n_steps): ...",
    },
    "07-minibatches": {
        "train_epoch": "def train_epoch(model, loss_fun, optimizer, loader): ...",
        "evaluate": "def evaluate(model, loss_fun, loader): ...",
    },
    "08-classification": {
        "cross_entropy": "def cross_entropy(logits, labels): ...",
        "accuracy": "def accuracy(logits, labels): ...",
    },
}
