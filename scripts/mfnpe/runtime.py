"""Make a job use exactly its ``threads`` (numba, XLA, BLAS/OpenMP, torch)."""

from __future__ import annotations

import os
import sys

THREADS_VAR = "MFNPE_THREADS"
"""Environment variable holding the job's thread count (set by :func:`limit_threads`)."""


def limit_threads(threads: int, torch: bool = False) -> None:
    """Tell every numeric library to use ``threads`` threads; call before importing them.

    numba's, OpenMP's and BLAS's pools get ``threads`` threads now; XLA's when JAX's
    backend starts (:func:`start_jax`); torch at once if already imported or if ``torch``
    (then it is imported here, with one inter-op thread).
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if "jax" in sys.modules:
        raise RuntimeError("limit_threads() must run before jax is imported")
    value = str(threads)
    for var in (THREADS_VAR, "NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "OPENBLAS_NUM_THREADS"):
        os.environ[var] = value
    if torch or "torch" in sys.modules:
        import torch as torch_module

        torch_module.set_num_threads(threads)
        if torch:
            torch_module.set_num_interop_threads(1)


def start_jax() -> None:
    """Start JAX's CPU backend with an XLA thread pool of the job's threads.

    XLA ignores thread flags and sizes its pool by the CPU affinity mask, so the backend
    is created while this thread may run on only ``threads`` CPUs; then every thread of
    the process gets the full mask back, so no thread stays pinned to a core another job
    may be using. Without :func:`limit_threads` the backend starts as JAX's default.
    """
    import jax

    threads = os.environ.get(THREADS_VAR)
    mask = os.sched_getaffinity(0)
    if threads is None or int(threads) >= len(mask):
        jax.devices()
        return
    os.sched_setaffinity(0, sorted(mask)[: int(threads)])
    try:
        jax.devices()
    finally:
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), mask)
            except OSError:  # the thread has exited meanwhile
                pass


def start_job(log_path, threads: int = 1, torch: bool = False) -> None:
    """Begin a workflow job: its stdout and stderr go to ``log_path``, every numeric
    library uses ``threads`` threads (:func:`limit_threads`; torch is imported and told
    when ``torch``) and ``logging`` writes time-stamped INFO lines to the log.

    Call it first, before importing numba, JAX or torch.
    """
    import logging

    sys.stdout = sys.stderr = open(log_path, "w", buffering=1)
    limit_threads(threads, torch=torch)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s",
                        force=True)
