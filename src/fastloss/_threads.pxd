# The thread policy of every kernel build, for `cimport` (see _threads.pyx).

cdef enum:
    # Problems smaller than this many elements (rows x classes) run on one thread:
    # starting a thread team would cost more than it saves.
    PARALLEL_MIN = 1 << 14
    # sgd_update does little work per element (it is memory-bound): it needs more.
    SGD_PARALLEL_MIN = 1 << 17
    # The training engine: multiply-adds of one product of a step (batch x features x
    # classes); below this a step's two phases of tasks cost more than a thread saves.
    TRAIN_PARALLEL_MIN = 1 << 20
    # The adaptive optimizers (Adam, RMSprop, Adagrad): a square root and a division
    # per element, more work than SGD's but still memory-bound on large arrays.
    ADAPTIVE_PARALLEL_MIN = 1 << 15

cdef int threads_for(Py_ssize_t elements, Py_ssize_t minimum) noexcept nogil
