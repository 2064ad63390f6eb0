"""How the network's logits and the n-gram model's scores are weighed: ``scale * network + weight * n-gram
scores``, the two numbers fitted on dev by likelihood."""

from __future__ import annotations

import numpy as np

RIDGE = 1e-3  # fit_weight's penalty


def fit_weight(network: np.ndarray, naive_bayes: np.ndarray, targets: np.ndarray, *, steps: int = 50) -> tuple[float, float]:
    """The (scale, weight) >= 0 that minimise the mean negative log-likelihood of ``targets`` under
    ``scale * network + weight * naive_bayes`` (softmax; multi-label: one sigmoid per label).

    Stacking by likelihood: the network's and the Naive Bayes' scores are both over-confident in
    their own ways, and the likelihood is convex in the two numbers (Newton's method with a
    backtracking step, kept within [0, 100]). Only their ratio decides predictions. A small ridge
    penalty, ``RIDGE / 2 * ((scale - 1)**2 + weight**2)``, keeps them finite on a dev set that the
    scores separate perfectly (where the likelihood alone grows without bound).

    Args:
        network, naive_bayes: (num_texts, num_outputs) dev scores.
        targets: class ids (num_texts,) or multi-hot rows (num_texts, num_outputs).
    """
    x, y = network.astype(np.float64), naive_bayes.astype(np.float64)
    params = np.array([1.0, 0.0])
    loss, grad, hess = _likelihood(params, x, y, targets)
    for _ in range(steps):
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        for _ in range(30):  # backtrack until the loss falls
            trial = np.clip(params - step, [1e-3, 0.0], [100.0, 100.0])
            trial_loss, trial_grad, trial_hess = _likelihood(trial, x, y, targets)
            if trial_loss <= loss:
                break
            step /= 2
        else:
            break
        converged = loss - trial_loss < 1e-10
        params, loss, grad, hess = trial, trial_loss, trial_grad, trial_hess
        if converged:
            break
    return float(params[0]), float(params[1])


def _likelihood(params: np.ndarray, x: np.ndarray, y: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean negative log-likelihood of ``params[0] * x + params[1] * y``, its gradient and Hessian."""
    scores = params[0] * x + params[1] * y  # (num_texts, num_outputs)
    count = max(1, len(scores))
    if targets.ndim == 1:  # softmax over the classes
        scores = scores - scores.max(axis=1, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        p = np.exp(log_p)
        rows = np.arange(len(targets))
        loss = -log_p[rows, targets].sum() / count
        mean_x, mean_y = (p * x).sum(axis=1), (p * y).sum(axis=1)  # (num_texts,) expectations under p
        grad = np.array([(mean_x - x[rows, targets]).sum(), (mean_y - y[rows, targets]).sum()]) / count
        var_x = (p * x * x).sum(axis=1) - mean_x**2
        var_y = (p * y * y).sum(axis=1) - mean_y**2
        cov = (p * x * y).sum(axis=1) - mean_x * mean_y
    else:  # one sigmoid per label
        t = targets.astype(np.float64)
        loss = (np.logaddexp(0.0, scores) - t * scores).sum() / count
        p = 1.0 / (1.0 + np.exp(-scores))
        grad = np.array([((p - t) * x).sum(), ((p - t) * y).sum()]) / count
        w = p * (1.0 - p)
        var_x, var_y, cov = w * x * x, w * y * y, w * x * y
    hess = np.array([[var_x.sum(), cov.sum()], [cov.sum(), var_y.sum()]]) / count
    shift = params - np.array([1.0, 0.0])  # the ridge pulls towards the network alone
    return float(loss + RIDGE / 2 * shift @ shift), grad + RIDGE * shift, hess + RIDGE * np.eye(2)
