"""Make a job use exactly its ``threads`` (numba, XLA, BLAS/OpenMP, torch)."""

from __future__ import annotations

import os
import sys

_XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def limit_threads(threads: int) -> None:
    """Tell every numeric library to use ``threads`` threads; call before importing them.

    XLA runs each computation on one thread (the caller parallelises over batches with a
    pool of ``threads`` workers); numba's and OpenMP/BLAS pools get ``threads`` threads.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if "jax" in sys.modules:
        raise RuntimeError("limit_threads() must run before jax is imported")
    value = str(threads)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = value
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_XLA_ONE_THREAD}".strip()
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
