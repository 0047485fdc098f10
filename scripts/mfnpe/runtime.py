"""Make a job use exactly its ``threads`` (numba, XLA, BLAS/OpenMP, torch), and keep JAX's
compiled programs on disk between processes (:func:`use_jax_cache`)."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path

THREADS_VAR = "MFNPE_THREADS"
"""Environment variable holding the job's thread count (set by :func:`limit_threads`)."""
JAX_CACHE_VAR = "MFNPE_JAX_CACHE"
"""Environment variable naming the folder of JAX's disk cache (``off``: no disk cache)."""
JAX_CACHE_BYTES = 512 * 2**20
"""The most the JAX disk cache holds; the least recently used programs go first."""


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


def cpu_key() -> str:
    """12 hex digits naming this machine's CPU (architecture, model, instruction-set
    flags): XLA compiles for the CPU it runs on, so each kind of node of a cluster whose
    home folder is shared keeps its own programs."""
    described = [platform.machine(), platform.processor()]
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    for key in ("model name", "flags", "Features"):  # x86 and ARM name them differently
        described += [line for line in lines if line.startswith(key)][:1]
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:12]


def jax_cache_dir() -> Path | None:
    """The folder of JAX's disk cache: ``$MFNPE_JAX_CACHE`` (None when ``off``), else
    ``$XDG_CACHE_HOME/mfnpe/jax/<cpu_key()>`` (``~/.cache`` without the variable)."""
    chosen = os.environ.get(JAX_CACHE_VAR)
    if chosen is not None:
        return None if chosen.strip().lower() in ("off", "0", "") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mfnpe" / "jax" / cpu_key()


def use_jax_cache() -> Path | None:
    """Keep JAX's compiled programs in :func:`jax_cache_dir` so that a process compiling a
    simulator that another has compiled reads it from disk (0.2–0.4 s instead of 1–2.5 s
    per model and simulator; results bit-identical). Every program is kept, however quick
    its compilation, up to :data:`JAX_CACHE_BYTES`. A cache the user configured for JAX
    itself (``JAX_COMPILATION_CACHE_DIR``) is left as it is, and a folder that cannot be
    made means no disk cache. Call after importing JAX, before it compiles; returns the
    folder in use (None: none)."""
    import filelock  # noqa: F401  (JAX's size-limited cache locks its folder with it)
    import jax

    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    folder = jax_cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_BYTES)
    return folder
