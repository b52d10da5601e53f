"""Mini-batch SGD over CSR data: the loop of :class:`fastloss.LinearClassifier` on sparse X.

:class:`SparseMiniBatchSGD` is :class:`fastloss._training.MiniBatchSGD` with
the CSR variant of the training engine (``sparse_train_epoch``,
kernels/sparse.pxi and simd/sparse.h): a step reads the non-zeros of its
batch's rows, touches only the rows of W named by their columns, and decays
every weight through a scale factor (W = α·V) instead of a sweep of W.

Semantics against the dense engine on the same data densified:

- without momentum, the same model up to rounding (weight decay ``2·reg``
  applied to every weight at every step, exactly as torch.optim.SGD does);
- with momentum, *lazy* momentum: the velocity of feature j's weights holds
  only the data gradient and is updated (``v = μ·v + g``) and applied
  (``W -= lr·v``, or ``lr·(g + μ·v)`` with Nesterov) only at the steps whose
  batch stores an entry in column j -- explicit zeros count as entries; the
  weight decay shrinks every weight at every step, outside the velocity.  A
  feature absent from a batch keeps its velocity unchanged and unapplied.
  The intercept, present in every step, follows the dense rule.

The NumPy twin of exactly this is :func:`fastloss.reference.sparse_train_epoch`.
"""

from . import _dispatch, _sparse
from ._training import MiniBatchSGD


class SparseMiniBatchSGD(MiniBatchSGD):
    """The state of one mini-batch SGD run on a CSR matrix X (checked by
    :func:`fastloss._sparse.check_X`), its values read as W's dtype.

    The engine works on W (D, C) as it is laid out (a column's C weights
    contiguous: ``transposed = False``); an epoch copies W's first D rows in at
    its start and out at its end, so that a diverged epoch leaves W as it was.
    """

    transposed = False

    def __init__(self, X, yc, W, **kwargs):
        super().__init__(X, yc, W, **kwargs)
        self.data, self.indices, self.indptr = _sparse.arrays(X, W.dtype, check=False)

    def _engine(self, order, lr, history, start, stop):
        return _dispatch.kernels.sparse_train_epoch(
            self.data, self.indices, self.indptr, self.yc, self.Wt, order, lr, history,
            loss=self.loss, batch_size=self.batch_size, b=self.b, V=self.Vt, Vb=self.Vb,
            sample_weight=self.sample_weight, margin=self.margin, reg=self.reg,
            momentum=self.momentum, nesterov=self.nesterov, start=start, stop=stop,
        )
