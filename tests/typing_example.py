"""A small typed program over the whole public API, checked by ``mypy --strict``.

Not a test module (pytest collects ``test_*.py`` only): tests/test_typing.py runs
mypy on this file, so a public function or class of fastloss without usable type
annotations, or a stub that does not describe it, fails the test.  It also runs
as a script (``python tests/typing_example.py``).

``fastloss.reference`` has no annotations of its own; its calls carry
``# type: ignore[no-untyped-call]`` (with ``--strict``'s ``warn_unused_ignores``,
they become errors to remove once it has).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

import fastloss as fl
import fastloss.reference as ref

Floats = npt.NDArray[np.floating[Any]]


def as_float(loss: float | Floats) -> float:
    """A reduced loss is a float; reduction="none" gives one loss per row."""
    if isinstance(loss, float):
        return loss
    return float(loss.sum())


def grad_norm(grad: Floats | None) -> float:
    """grad=False gives None instead of a gradient."""
    if grad is None:
        return 0.0
    return float(np.linalg.norm(grad))


def multiclass(rng: np.random.Generator, n: int, c: int) -> list[float]:
    scores = rng.standard_normal((n, c)).astype(np.float32)
    labels = rng.integers(0, c, n)
    soft = fl.softmax(scores)
    total: float = float(soft.sum())
    log_p: Floats = fl.log_softmax(scores, out=np.empty_like(scores))
    results = [total, float(log_p.max())]

    loss, grad = fl.softmax_cross_entropy(
        scores, labels, reduction="mean", class_weight=np.ones(c, np.float32),
        sample_weight=np.ones(n, np.float32), label_smoothing=0.1, ignore_index=-1,
    )
    results += [as_float(loss), grad_norm(grad)]
    per_row, no_grad = fl.softmax_cross_entropy(scores, soft, reduction="none", grad=False)
    results += [as_float(per_row), grad_norm(no_grad)]

    buf = np.empty_like(scores)
    loss, grad = fl.multiclass_hinge(
        scores, labels, margin=1.0, squared=True, reduction="sum", out=buf,
        variant="crammer_singer",
    )
    results += [as_float(loss), grad_norm(grad)]

    ref_loss, ref_grad = ref.softmax_cross_entropy(scores, labels)  # type: ignore[no-untyped-call]
    ref_hinge, _ = ref.multiclass_hinge(scores, labels, grad=False)  # type: ignore[no-untyped-call]
    ref_p = ref.softmax(scores)  # type: ignore[no-untyped-call]
    ref_logp = ref.log_softmax(scores)  # type: ignore[no-untyped-call]
    results += [float(ref_loss), float(ref_hinge), grad_norm(ref_grad), float(ref_p.sum()),
                float(ref_logp.max())]
    return results


def binary(rng: np.random.Generator, n: int) -> list[float]:
    scores = rng.standard_normal(n).astype(np.float32)
    signs = np.where(rng.random(n) < 0.5, -1, 1)
    targets = (signs > 0).astype(np.float32)
    p = fl.sigmoid(scores)
    loss, grad = fl.binary_hinge(scores, signs, margin=0.5, squared=False, reduction="mean",
                                 sample_weight=np.ones(n, np.float32))
    bce, bce_grad = fl.sigmoid_cross_entropy(scores, targets, reduction="none",
                                             pos_weight=2.0, grad=True)
    ref_hinge, _ = ref.binary_hinge(scores, signs)  # type: ignore[no-untyped-call]
    ref_bce, _ = ref.sigmoid_cross_entropy(scores, targets)  # type: ignore[no-untyped-call]
    ref_p = ref.sigmoid(scores)  # type: ignore[no-untyped-call]
    return [float(p.mean()), as_float(loss), grad_norm(grad), as_float(bce), grad_norm(bce_grad),
            float(ref_hinge), float(ref_bce), float(ref_p.mean())]


def linear(rng: np.random.Generator, n: int, d: int, c: int) -> list[float]:
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, c, n)
    W = (0.01 * rng.standard_normal((d, c))).astype(np.float32)
    svm, dW_svm = fl.svm_loss(W, X, y, 1e-3, margin=1.0)
    sm, dW = fl.softmax_loss(W, X, y, reg=1e-3)
    W64 = W.astype(np.float64)
    X64 = X.astype(np.float64)
    _, dW64 = fl.softmax_loss(W64, X64, y, reg=1e-3)
    err: float = fl.gradcheck(lambda w: fl.softmax_loss(w, X64, y, reg=1e-3), W64, dW64,
                              num_checks=5, h=1e-5, seed=0)
    ref_svm, _ = ref.svm_loss(W, X, y, 1e-3)  # type: ignore[no-untyped-call]
    ref_sm, _ = ref.softmax_loss(W, X, y, 1e-3)  # type: ignore[no-untyped-call]

    # a few steps of SGD on the softmax loss, the optimiser and the bare update
    opt = fl.SGD([W], lr=fl.StepLR(0.5, step_size=2, gamma=0.5), momentum=0.9, nesterov=True)
    for _ in range(3):
        _, g = fl.softmax_loss(W, X, y, reg=1e-3)
        opt.step([g])
    lr_now: float = opt.lr
    state = opt.state_dict()
    opt.load_state_dict(state)
    velocity = opt.velocity
    opt.zero_velocity()
    opt.lr = 0.1
    has_schedule = opt.schedule is not None
    v = np.zeros_like(W)
    fl.sgd_update(W, dW, lr=0.1, momentum=0.9, velocity=v, dampening=0.0, weight_decay=1e-4,
                  nesterov=False, maximize=False)
    W_ref, v_ref = W.copy(), np.zeros_like(W)
    ref.sgd_update(W_ref, dW, lr=0.1, momentum=0.9, velocity=v_ref)  # type: ignore[no-untyped-call]

    schedules: list[fl.LRSchedule] = [
        fl.ConstantLR(0.1), fl.StepLR(0.1, 10), fl.InverseScalingLR(0.1, power=0.5),
        fl.InverseTimeLR(0.1, decay_steps=100), fl.CosineLR(0.1, total_steps=100, min_lr=0.0),
    ]
    rates = [s(10) for s in schedules]
    return [svm, grad_norm(dW_svm), sm, err, float(ref_svm), float(ref_sm), lr_now,
            float(len(velocity or [])), float(has_schedule), sum(rates), float(W.sum())]


def classifier(rng: np.random.Generator) -> list[float]:
    X = np.r_[rng.normal(-2, 1, (60, 3)), rng.normal(2, 1, (60, 3))].astype(np.float32)
    y = np.repeat(np.array(["neg", "pos"]), 60)
    clf = fl.LinearClassifier("softmax", reg=1e-4, learning_rate=fl.CosineLR(0.5, 200),
                              batch_size=20, epochs=5, random_state=0, dtype="float32")
    clf = clf.fit(X, y).partial_fit(X, y).set_params(epochs=2)
    params: dict[str, Any] = clf.get_params()
    proba = clf.predict_proba(X)
    scores = clf.decision_function(X)
    labels = clf.predict(X)
    accuracy: float = clf.score(X, y)
    weighted = fl.LinearClassifier(class_weight={"neg": 2.0}, early_stopping=True, tol=1e-3,
                                   n_iter_no_change=2, validation_fraction=0.2, warm_start=True,
                                   verbose=0, random_state=0)
    weighted.fit(X, y, sample_weight=np.ones(120)).partial_fit(X, y, sample_weight=np.ones(120))
    log_proba = weighted.predict_log_proba(X)
    accuracy += weighted.score(X, y, sample_weight=np.ones(120)) * 0.0 + float(log_proba.max()) * 0.0
    try:
        fl.LinearClassifier(loss="hinge").predict(X)
    except fl.NotFittedError as e:
        message: str = str(e)
    return [accuracy, float(proba.sum()), float(scores.max()), float(len(labels)),
            float(len(params)), float(len(message) > 0)]


def adaptive_and_distance(rng: np.random.Generator) -> list[float]:
    """The adaptive optimisers and the distance-based losses (issue 20)."""
    w = rng.standard_normal(10).astype(np.float32)
    g = rng.standard_normal(10).astype(np.float32)
    m, v, vmax = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    fl.adam_update(w, g, m, v, step=1, lr=1e-3, betas=(0.9, 0.999), amsgrad=True, v_max=vmax)
    s, buf = np.zeros_like(w), np.zeros_like(w)
    fl.rmsprop_update(w, g, s, lr=1e-3, momentum=0.9, momentum_buffer=buf)
    fl.adagrad_update(w, g, np.zeros_like(w), step=1, lr=1e-2, lr_decay=0.1)
    optimisers: list[fl.Adam | fl.RMSprop | fl.Adagrad] = [
        fl.Adam([w], 1e-3), fl.AdamW([w], fl.StepLR(1e-3, 10, 0.5)),
        fl.RMSprop([w], centered=True), fl.Adagrad([w], initial_accumulator_value=0.1)]
    for opt in optimisers:
        opt.step([g])
        opt.load_state_dict(opt.state_dict())
    pred = rng.standard_normal((4, 3))
    target = np.zeros((4, 3))
    losses = [fl.squared_error(pred, target)[0], fl.absolute_error(pred, target, reduction="sum")[0],
              fl.huber(pred, target, delta=0.5)[0], fl.smooth_l1(pred, target, beta=0.0)[0]]
    per_element, grad = fl.huber(pred, target, reduction="none", sample_weight=np.ones(4))
    assert isinstance(per_element, np.ndarray) and grad is not None
    return [float(w.sum()), *(float(x) for x in losses), float(per_element.sum())]


def main() -> None:
    rng = np.random.default_rng(0)
    version: str = fl.__version__
    isa: str = fl.kernel_isa()
    info = fl.show_config("dicts")
    assert info is not None and info["kernel_isa"] == isa
    fl.show_config()
    values = multiclass(rng, 8, 4) + binary(rng, 16) + linear(rng, 32, 5, 3) + classifier(rng)
    values += adaptive_and_distance(rng)
    assert all(np.isfinite(values)), values
    print(f"fastloss {version} ({isa}): {len(values)} values, all finite")


if __name__ == "__main__":
    main()
