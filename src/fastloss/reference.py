"""Plain NumPy twin of every public fastloss function.

This module is the oracle the compiled kernels are tested against and the
baseline they are benchmarked against.  It is written the way a careful user
would write it (CS231n's vectorised style): whole-array NumPy operations, no
Python loops over rows, no tricks.  It imports nothing but NumPy so that it
stays independent of the code it checks.

Every function has the same signature and the same semantics as its compiled
counterpart in :mod:`fastloss`; see those docstrings for the formulas.  The
reference computes in the dtype of ``scores`` and does only the argument
handling it needs to be correct; the error messages for bad input belong to
the compiled API.
"""

import numpy as np

__all__ = [
    "absolute_error",
    "adagrad_update",
    "adam_update",
    "binary_hinge",
    "huber",
    "log_softmax",
    "multiclass_hinge",
    "rmsprop_update",
    "sigmoid",
    "sigmoid_cross_entropy",
    "sgd_update",
    "smooth_l1",
    "softmax",
    "softmax_cross_entropy",
    "softmax_loss",
    "sparse_train_epoch",
    "squared_error",
    "svm_loss",
    "train_epoch",
]


def _reduce(per_row, grad_rows, denom, reduction, grad, out):
    """Apply a reduction to per-row losses and the matching gradient rows.

    ``per_row`` are the weighted row losses w_i L_i, ``grad_rows`` is the
    gradient of their sum (or None), ``denom`` the total weight Σ w_i.
    """
    if reduction == "none":
        loss = per_row
    elif reduction == "sum":
        loss = float(per_row.sum(dtype=np.float64))
    elif reduction == "mean":
        if denom == 0:
            loss = 0.0
            if grad_rows is not None:
                grad_rows[...] = 0
        else:
            loss = float(per_row.sum(dtype=np.float64) / denom)
            if grad_rows is not None:
                grad_rows /= grad_rows.dtype.type(denom)
    else:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not grad:
        return loss, None
    if out is not None:
        np.copyto(out, grad_rows)
        grad_rows = out
    return loss, grad_rows


def log_softmax(scores, *, out=None):
    """log softmax(s)_ij = s_ij - max_k s_ik - log Σ_k exp(s_ik - max_k s_ik)."""
    s = np.asarray(scores)
    shifted = s - s.max(axis=1, keepdims=True)
    result = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def softmax(scores, *, out=None):
    """softmax(s)_ij = exp(s_ij - max_k s_ik) / Σ_k exp(s_ik - max_k s_ik)."""
    s = np.asarray(scores)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    result = e / e.sum(axis=1, keepdims=True)
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def softmax_cross_entropy(
    scores,
    y,
    *,
    reduction="mean",
    class_weight=None,
    sample_weight=None,
    label_smoothing=0.0,
    ignore_index=None,
    grad=True,
    out=None,
):
    """Softmax cross-entropy and its gradient, torch.nn.functional.cross_entropy's semantics.

    Row loss (before the sample weight)::

        L_i = (1 - ε) · cw[y_i] · (-log p_{i,y_i}) + (ε / C) · Σ_k cw[k] · (-log p_ik)

    which is -Σ_k q_ik log p_ik with q_i = (1-ε)·onehot(y_i) + ε/C when there
    are no class weights.  The mean divides by Σ_i sw_i · cw[y_i] over the rows
    not ignored.
    """
    s = np.asarray(scores)
    n, c = s.shape
    y = np.asarray(y)
    if y.dtype.kind == "f":
        return _soft_cross_entropy(s, y, reduction, class_weight, sample_weight, label_smoothing, grad, out)
    rows = np.arange(n)
    eps = s.dtype.type(label_smoothing)
    valid = None if ignore_index is None else y != ignore_index
    yv = y if valid is None else np.where(valid, y, 0)

    # Row weights: u_i for the smoothing term, w_i = u_i cw[y_i] for the label term.
    weighted = sample_weight is not None or valid is not None or class_weight is not None
    u = np.ones(n, s.dtype) if sample_weight is None else np.asarray(sample_weight, s.dtype)
    if valid is not None:
        u = u * valid
    cw = None if class_weight is None else np.asarray(class_weight, s.dtype)
    w = u if cw is None else u * cw[yv]

    shifted = s - s.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sum_e = e.sum(axis=1)
    log_sum = np.log(sum_e)
    nll = log_sum - shifted[rows, yv]  # -log p_{i,y_i}
    row_loss = w * nll if weighted else nll
    if label_smoothing > 0:
        # Σ_k cw_k (-log p_ik) = W_c log Σ_k e^{shifted_ik} - Σ_k cw_k shifted_ik
        if cw is None:
            smooth = c * log_sum - shifted.sum(axis=1)
        else:
            smooth = cw.sum() * log_sum - shifted @ cw
        row_loss = (1 - eps) * row_loss + eps / c * u * smooth
    if valid is not None:
        row_loss = np.where(valid, row_loss, 0).astype(s.dtype)
    denom = float(w.sum(dtype=np.float64))

    g = None
    if grad:
        # d L_i / d s_ij = (1-ε) w_i (p_ij - [j = y_i]) + ε/C u_i (p_ij Σ_k cw_k - cw_j)
        g = e / sum_e[:, None]
        if label_smoothing > 0:
            wc_total = c if cw is None else cw.sum()
            g *= ((1 - eps) * w + eps / c * wc_total * u)[:, None]
            g -= eps / c * (u[:, None] if cw is None else u[:, None] * cw)
        elif weighted:
            g *= w[:, None]
        g[rows, yv] -= (1 - eps) * w if weighted else 1 - eps
        if valid is not None:
            g[~valid] = 0
    return _reduce(row_loss, g, denom, reduction, grad, out)


def _soft_cross_entropy(s, t, reduction, class_weight, sample_weight, label_smoothing, grad, out):
    """Cross-entropy with soft targets t (N, C): L_i = -Σ_k cw_k t'_ik log p_ik, t' = (1-ε)t + ε/C.

    The mean divides by Σ_i sw_i (N without sample weights), as torch does.
    """
    n, c = s.shape
    t = np.asarray(t, s.dtype)
    if label_smoothing > 0:
        eps = s.dtype.type(label_smoothing)
        t = (1 - eps) * t + eps / c
    a = t if class_weight is None else t * np.asarray(class_weight, s.dtype)
    shifted = s - s.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sum_e = e.sum(axis=1, keepdims=True)
    log_p = shifted - np.log(sum_e)
    # a term with a_ik = 0 counts 0, even where log p_ik = -inf
    row_loss = -np.multiply(a, log_p, out=np.zeros_like(s), where=a != 0).sum(axis=1)
    g = None
    if grad:
        g = e / sum_e * a.sum(axis=1, keepdims=True) - a  # p_ij Σ_k a_ik - a_ij
    if sample_weight is not None:
        u = np.asarray(sample_weight, s.dtype)
        row_loss = u * row_loss
        if g is not None:
            g *= u[:, None]
        denom = float(u.sum(dtype=np.float64))
    else:
        denom = n
    return _reduce(row_loss, g, denom, reduction, grad, out)


def multiclass_hinge(scores, y, *, margin=1.0, squared=False, reduction="mean", class_weight=None,
                     sample_weight=None, grad=True, out=None, variant="weston_watkins"):
    """Multiclass hinge and its gradient: Weston–Watkins (CS231n's SVM loss) or Crammer–Singer.

    weston_watkins: L_i = Σ_{j≠y_i} max(0, s_ij - s_{i,y_i} + Δ)    (each term squared if ``squared``)
    crammer_singer: L_i = max(0, max_{j≠y_i} s_ij - s_{i,y_i} + Δ)  (squared if ``squared``)
    """
    if variant == "crammer_singer":
        return _crammer_singer(scores, y, margin, squared, reduction, class_weight, sample_weight, grad, out)
    s = np.asarray(scores)
    n, c = s.shape
    y = np.asarray(y)
    rows = np.arange(n)
    weighted = class_weight is not None or sample_weight is not None
    w = np.ones(n, s.dtype)
    if class_weight is not None:
        w = w * np.asarray(class_weight, s.dtype)[y]
    if sample_weight is not None:
        w = w * np.asarray(sample_weight, s.dtype)

    margins = np.maximum(0, s - s[rows, y][:, None] + s.dtype.type(margin))
    margins[rows, y] = 0
    row_loss = (margins * margins).sum(axis=1) if squared else margins.sum(axis=1)
    if weighted:
        row_loss = w * row_loss
    denom = float(w.sum(dtype=np.float64))

    g = None
    if grad:
        # the subgradient [margin > 0]; NaN stays NaN (and so poisons the label's entry)
        g = 2 * margins if squared else np.where(np.isnan(margins), margins, margins > 0).astype(s.dtype)
        g[rows, y] = -g.sum(axis=1)
        if weighted:
            g *= w[:, None]
    return _reduce(row_loss, g, denom, reduction, grad, out)


def _row_weights(s, y, class_weight, sample_weight):
    w = np.ones(len(s), s.dtype)
    if class_weight is not None:
        w = w * np.asarray(class_weight, s.dtype)[y]
    if sample_weight is not None:
        w = w * np.asarray(sample_weight, s.dtype)
    return w


def _crammer_singer(scores, y, margin, squared, reduction, class_weight, sample_weight, grad, out):
    """Crammer–Singer: only the most violating wrong class j* (the lowest index on ties) counts.

    d L_i / d s_{i,j*} = +1 and d L_i / d s_{i,y_i} = -1 where the hinge is active
    (±2h if squared); a NaN row loss gives a NaN gradient row.
    """
    s = np.asarray(scores)
    n, c = s.shape
    y = np.asarray(y)
    rows = np.arange(n)
    others = s.copy()
    others[rows, y] = -np.inf
    j = others.argmax(axis=1)  # the first maximum
    h = np.maximum(0, (others[rows, j] - s[rows, y]) + s.dtype.type(margin))
    row_loss = h * h if squared else h
    w = _row_weights(s, y, class_weight, sample_weight)
    weighted = class_weight is not None or sample_weight is not None
    if weighted:
        row_loss = w * row_loss
    g = None
    if grad:
        coef = 2 * h if squared else (h > 0).astype(s.dtype)
        if weighted:
            coef = coef * w
        g = np.zeros_like(s)
        g[rows, j] += coef
        g[rows, y] -= coef
        g[np.isnan(h)] = np.nan
    return _reduce(row_loss, g, float(w.sum(dtype=np.float64)), reduction, grad, out)


def sigmoid(x, *, out=None):
    """σ(x) = 1 / (1 + exp(-x)), via σ(-|x|) = exp(-|x|) / (1 + exp(-|x|)) so nothing overflows."""
    x = np.asarray(x)
    small = np.exp(-np.abs(x))
    small /= 1 + small  # σ(-|x|)
    result = np.where(x >= 0, 1 - small, small)
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def binary_hinge(scores, y, *, margin=1.0, squared=False, reduction="mean", sample_weight=None,
                 grad=True, out=None):
    """Binary hinge with labels ±1: L_i = max(0, Δ - y_i s_i)   (squared if ``squared``)."""
    s = np.asarray(scores)
    y = np.asarray(y).astype(s.dtype)
    h = np.maximum(0, s.dtype.type(margin) - y * s)
    row_loss = h * h if squared else h
    g = None
    if grad:
        g = -2 * y * h if squared else np.where(np.isnan(h), h, -y * (h > 0))
    denom = len(s)
    if sample_weight is not None:
        w = np.asarray(sample_weight, s.dtype)
        row_loss = w * row_loss
        if g is not None:
            g *= w
        denom = float(w.sum(dtype=np.float64))
    return _reduce(row_loss, g, denom, reduction, grad, out)


def sigmoid_cross_entropy(
    logits,
    y,
    *,
    reduction="mean",
    pos_weight=None,
    sample_weight=None,
    grad=True,
    out=None,
):
    """Sigmoid cross-entropy on logits x (N,) or (N, K), targets y in [0, 1], pos weight p per column.

    L = -[p y log σ(x) + (1-y) log(1-σ(x))] = (1 + (p-1) y) log(1 + e^{-|x|}) + |x| q,
    q = 1-y where x >= 0, else p y  (|x| q taken as 0 where q = 0, so x = ±inf gives the limit).
    dL/dx = (1-y) σ(x) - p y (1 - σ(x)).  The mean divides by the total weight of the elements.
    """
    x = np.asarray(logits)
    y = np.asarray(y).astype(x.dtype)
    py = y if pos_weight is None else np.asarray(pos_weight, x.dtype) * y
    ax = np.abs(x)
    e = np.exp(-ax)
    q = np.where(x >= 0, 1 - y, py)
    loss = (py + (1 - y)) * np.log1p(e) + np.multiply(ax, q, out=np.zeros_like(x), where=q != 0)
    g = None
    if grad:
        sig = np.where(x >= 0, 1, e) / (1 + e)
        sig_c = np.where(x >= 0, e, 1) / (1 + e)  # 1 - σ(x), without cancellation
        g = (1 - y) * sig - py * sig_c
    denom = x.size
    if sample_weight is not None:
        w = np.asarray(sample_weight, x.dtype)
        if w.shape != x.shape:
            w = w.reshape((-1,) + (1,) * (x.ndim - 1))  # one weight per row
        loss = w * loss
        if g is not None:
            g *= w
        denom = float(np.broadcast_to(w, x.shape).sum(dtype=np.float64))
    return _reduce(loss, g, denom, reduction, grad, out)
def sgd_update(param, grad, *, lr, momentum=0.0, velocity=None, dampening=0.0,
               weight_decay=0.0, nesterov=False, maximize=False):
    """One in-place SGD step, torch.optim.SGD's rule with a caller-owned velocity.

    g = ±grad (+ weight_decay · param); with momentum v = μ v + (1 − dampening) g,
    then g = g + μ v (nesterov) or g = v; param −= lr · g.
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        velocity *= momentum
        velocity += (1 - dampening) * g
        g = g + momentum * velocity if nesterov else velocity
    param -= lr * g


def _lerp_(a, b, w):
    """a ← a + w (b − a) in place, as torch's lerp: from b when w ≥ 1/2, so that w near 1 is exact."""
    t = a.dtype.type
    if abs(w) < 0.5:
        a += t(w) * (b - a)
    else:
        a[...] = b - (b - a) * (t(1) - t(w))


def adam_update(param, grad, m, v, *, step, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                decoupled=False, amsgrad=False, v_max=None, maximize=False):
    """One in-place Adam / AdamW step, torch.optim.Adam's rule with caller-owned moments.

    g = ±grad (+ weight_decay · param, or param *= 1 − lr · weight_decay if decoupled);
    m = lerp(m, g, 1 − β1); v = β2 v + (1 − β2) g²; v̂ = max(v_max, v) with amsgrad, else v;
    param −= lr / (1 − β1^t) · m / (sqrt(v̂) / sqrt(1 − β2^t) + eps).
    """
    beta1, beta2 = betas
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= t(1 - lr * weight_decay)
        else:
            g = g + t(weight_decay) * param
    _lerp_(m, g, 1 - beta1)
    v *= t(beta2)
    v += t(1 - beta2) * g * g
    if amsgrad:
        np.maximum(v_max, v, out=v_max)
        vhat = v_max
    else:
        vhat = v
    denom = np.sqrt(vhat) / t(np.sqrt(1 - beta2**step)) + t(eps)
    param -= t(lr / (1 - beta1**step)) * m / denom


def rmsprop_update(param, grad, square_avg, *, lr, alpha=0.99, eps=1e-8, weight_decay=0.0,
                   momentum=0.0, momentum_buffer=None, centered=False, grad_avg=None,
                   maximize=False):
    """One in-place RMSprop step, torch.optim.RMSprop's rule with caller-owned state.

    g = ±grad (+ weight_decay · param); s = α s + (1 − α) g²; centered: ḡ = lerp(ḡ, g, 1 − α),
    a = sqrt(s − ḡ²) + eps, else a = sqrt(s) + eps; momentum: b = μ b + g / a, param −= lr b;
    else param −= lr g / a.
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    square_avg *= t(alpha)
    square_avg += t(1 - alpha) * g * g
    if centered:
        _lerp_(grad_avg, g, 1 - alpha)
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + t(eps)
    else:
        avg = np.sqrt(square_avg) + t(eps)
    if momentum > 0:
        momentum_buffer *= t(momentum)
        momentum_buffer += g / avg
        param -= t(lr) * momentum_buffer
    else:
        param -= t(lr) * g / avg


def adagrad_update(param, grad, state_sum, *, step, lr, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                   maximize=False):
    """One in-place Adagrad step, torch.optim.Adagrad's rule with a caller-owned sum.

    g = ±grad (+ weight_decay · param); s += g²; param −= lr / (1 + (t − 1) lr_decay) · g / (sqrt(s) + eps).
    """
    t = param.dtype.type
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + t(weight_decay) * param
    state_sum += g * g
    param -= t(lr / (1 + (step - 1) * lr_decay)) * g / (np.sqrt(state_sum) + t(eps))


def _distance(pred, target, loss_and_grad, reduction, sample_weight, grad, out):
    """A distance loss of d = pred − target: elementwise (L, dL/dpred), weights, the reduction."""
    x = np.asarray(pred)
    d = x - np.asarray(target).astype(x.dtype)
    loss, g = loss_and_grad(d)
    denom = x.size
    if sample_weight is not None:
        w = np.asarray(sample_weight, x.dtype)
        if w.shape != x.shape:
            w = w.reshape((-1,) + (1,) * (x.ndim - 1))  # one weight per row
        loss = w * loss
        g = g * w
        denom = float(np.broadcast_to(w, x.shape).sum(dtype=np.float64))
    return _reduce(loss, g if grad else None, denom, reduction, grad, out)


def squared_error(pred, target, *, reduction="mean", sample_weight=None, grad=True, out=None):
    """L = d², dL/dpred = 2 d, d = pred − target (torch's mse_loss)."""
    return _distance(pred, target, lambda d: (d * d, 2 * d), reduction, sample_weight, grad, out)


def absolute_error(pred, target, *, reduction="mean", sample_weight=None, grad=True, out=None):
    """L = |d|, dL/dpred = sign(d), 0 at d = 0 and for NaN (torch's l1_loss)."""
    return _distance(pred, target, lambda d: (np.abs(d), np.nan_to_num(np.sign(d), nan=0.0)),
                     reduction, sample_weight, grad, out)


def huber(pred, target, *, delta=1.0, reduction="mean", sample_weight=None, grad=True, out=None):
    """L = d²/2 if |d| < δ else δ (|d| − δ/2), dL/dpred = clip(d, −δ, δ) (torch's huber_loss)."""
    def f(d):
        t = d.dtype.type
        a = np.abs(d)
        loss = np.where(a < delta, t(0.5) * d * d, t(delta) * (a - t(0.5 * delta)))
        return loss, np.where(d < -delta, t(-delta), np.where(d > delta, t(delta), d))

    return _distance(pred, target, f, reduction, sample_weight, grad, out)


def smooth_l1(pred, target, *, beta=1.0, reduction="mean", sample_weight=None, grad=True, out=None):
    """L = d²/(2β) if |d| < β else |d| − β/2, dL/dpred = clip(d/β, −1, 1); β = 0: |d| (torch's smooth_l1_loss)."""
    if beta == 0:
        return absolute_error(pred, target, reduction=reduction, sample_weight=sample_weight,
                              grad=grad, out=out)

    def f(d):
        t = d.dtype.type
        a = np.abs(d)
        loss = np.where(a < beta, (t(0.5) * d * d) / t(beta), a - t(0.5 * beta))
        return loss, np.where(d <= -beta, t(-1), np.where(d >= beta, t(1), d / t(beta)))

    return _distance(pred, target, f, reduction, sample_weight, grad, out)


def svm_loss(W, X, y, reg=0.0, *, margin=1.0):
    """CS231n's svm_loss_vectorized: mean multiclass hinge of X·W + reg·ΣW², and dW."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    correct = scores[rows, y][:, None]
    margins = np.maximum(0, scores - correct + margin)
    margins[rows, y] = 0
    loss = margins.sum() / num_train + reg * np.sum(W * W)
    dscores = (margins > 0).astype(W.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores /= num_train
    dW = X.T.dot(dscores) + 2 * reg * W
    return float(loss), dW


def softmax_loss(W, X, y, reg=0.0):
    """CS231n's softmax_loss_vectorized: mean cross-entropy of X·W + reg·ΣW², and dW."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    scores -= scores.max(axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    probs = exp_scores / exp_scores.sum(axis=1, keepdims=True)
    loss = -np.log(probs[rows, y]).sum() / num_train + reg * np.sum(W * W)
    dscores = probs
    dscores[rows, y] -= 1
    dscores /= num_train
    dW = X.T.dot(dscores) + 2 * reg * W
    return float(loss), dW


def _batch_loss(Xb, yb, swb, W, b, loss, margin, reg):
    """A batch's loss (the mean of ``loss`` over the scores ``Xb·W + b``, plus ``reg·ΣW²``)
    and the gradient of its data term with respect to the scores."""
    S = Xb @ W
    if b is not None:
        S += b
    if loss == "softmax":
        value, dS = softmax_cross_entropy(S, yb, sample_weight=swb)
    else:
        value, dS = multiclass_hinge(S, yb, margin=margin, sample_weight=swb)
    return value + reg * float(np.sum(W.astype(np.float64) ** 2)), dS


def train_epoch(X, y, W, order, lr, *, loss, batch_size, b=None, V=None, Vb=None,
                sample_weight=None, margin=1.0, reg=0.0, momentum=0.0, nesterov=False):
    """One epoch of mini-batch SGD of a linear classifier, a step at a time: the
    twin of the training engine (``fastloss._training``).

    Batch k is ``X[order[k·B:(k+1)·B]]``.  Its loss is the (weighted) mean of
    ``loss`` ("softmax" or "hinge") over the scores ``Xb·W + b`` plus
    ``reg·ΣW²``; then W and b take an SGD step with ``lr[k]`` (torch's rule,
    weight decay ``2·reg`` on W only, velocities V and Vb updated in place: pass
    zeros before the first step).  W is (D, C).  Returns each step's loss.
    """
    n = X.shape[0]
    history = []
    for k, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        Xb, yb = X[idx], y[idx]
        swb = None if sample_weight is None else sample_weight[idx]
        value, dS = _batch_loss(Xb, yb, swb, W, b, loss, margin, reg)
        history.append(value)
        sgd_update(W, Xb.T @ dS, lr=lr[k], momentum=momentum, velocity=V,
                   weight_decay=2 * reg, nesterov=nesterov)
        if b is not None:
            sgd_update(b, dS.sum(axis=0), lr=lr[k], momentum=momentum, velocity=Vb,
                       nesterov=nesterov)
    return np.array(history)


def sparse_train_epoch(data, indices, indptr, shape, y, W, order, lr, *, loss, batch_size,
                       b=None, V=None, Vb=None, sample_weight=None, margin=1.0, reg=0.0,
                       momentum=0.0, nesterov=False):
    """One epoch of mini-batch SGD on CSR data ``(data, indices, indptr)`` of ``shape``:
    the twin of the sparse training engine (``fastloss._sparse_training``).

    The batch's loss is that of :func:`train_epoch` on the batch's rows densified
    (duplicate entries summed).  The update, with T the columns the batch stores
    an entry in (explicit zeros included) and g the data gradient ``Xbᵀ·dS``::

        W *= 1 - lr·2·reg                       every weight, every step
        without momentum:  W[T] -= lr·g[T]      (= the dense rule; g is 0 outside T)
        with momentum:     V[T] = μ·V[T] + g[T]
                           W[T] -= lr·(g[T] + μ·V[T]) with Nesterov, else lr·V[T]

    (lazy momentum: the velocity of a column absent from the batch is neither
    updated nor applied; the decay is outside it).  The intercept b takes the
    dense rule (no decay).  W is (D, C); V, Vb are updated in place (pass zeros
    before the first step).  Returns each step's loss (``reg·ΣW²`` included,
    before the update).
    """
    n, d = shape
    history = []
    for k, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        Xb = np.zeros((idx.shape[0], d), W.dtype)
        cols = []
        for r, i in enumerate(idx):
            lo, hi = indptr[i], indptr[i + 1]
            np.add.at(Xb[r], indices[lo:hi], data[lo:hi])
            cols.append(indices[lo:hi])
        T = np.unique(np.concatenate(cols)) if cols else np.zeros(0, np.int64)
        yb = y[idx]
        swb = None if sample_weight is None else sample_weight[idx]
        value, dS = _batch_loss(Xb, yb, swb, W, b, loss, margin, reg)
        history.append(value)
        g = (Xb.T @ dS)[T]
        W *= W.dtype.type(1 - lr[k] * 2 * reg)
        if momentum == 0:
            W[T] -= W.dtype.type(lr[k]) * g
        else:
            V[T] = momentum * V[T] + g
            W[T] -= W.dtype.type(lr[k]) * (g + momentum * V[T] if nesterov else V[T])
        if b is not None:
            sgd_update(b, dS.sum(axis=0), lr=lr[k], momentum=momentum, velocity=Vb,
                       nesterov=nesterov)
    return np.array(history)
