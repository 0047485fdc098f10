"""The counter-based noise of the JAX models: Threefry-2x32 and the normals it gives.

Normal ``j`` of step ``k`` of the simulation with seed ``s`` is a pure function of
``(s, k, j)`` (:func:`chunk_normals`), so a trace does not depend on its batch, its position
in it, nor the thread that runs it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_THREEFRY_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry_2x32(k0, k1, x0, x1):
    """Threefry-2x32, 20 rounds (Salmon et al. 2011), the generator of ``jax.random``.

    Key ``(k0, k1)``, counter ``(x0, x1)``: uint32 arrays (broadcast); returns two uint32
    words. Written out because ``jax.random`` lowers it as a rolled loop on CPU (~10x slower).
    """
    rotl = lambda x, r: (x << jnp.uint32(r)) | (x >> jnp.uint32(32 - r))  # noqa: E731
    ks = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
    x0, x1 = x0 + ks[0], x1 + ks[1]
    for block in range(5):
        for r in _THREEFRY_ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = rotl(x1, r) ^ x0
        x0 = x0 + ks[(block + 1) % 3]
        x1 = x1 + ks[(block + 2) % 3] + jnp.uint32(block + 1)
    return x0, x1


def _uniform_symmetric(bits):
    """uint32 -> float32 uniform on (-1, 1): the 2^24 odd multiples of 2^-24, never ±1."""
    odd = ((bits >> 8) * jnp.uint32(2) + jnp.uint32(1)).astype(jnp.int32) - (1 << 24)
    return odd.astype(jnp.float32) * 2.0**-24  # exact: |odd| < 2^24


def chunk_normals(seeds, first_step, n_steps: int, n_normals: int):
    """(n_steps, n_normals, n) float32 standard normals of steps ``first_step + [0, n_steps)``.

    ``seeds`` (n,) uint32, ``first_step`` uint32. Normal ``j`` of step ``k`` of the
    simulation with seed ``s`` is ``√2 erfinv(u)`` (as in ``jax.random.normal``) of the first
    word of ``threefry_2x32(key=(0, s), counter=(k, j))``, a pure function of ``(s, k, j)``.
    (Using both words needs an interleave that XLA:CPU does not vectorise: 7x slower.)
    """
    steps = first_step + jnp.arange(n_steps, dtype=jnp.uint32)[:, None, None]
    sources = jnp.arange(n_normals, dtype=jnp.uint32)[None, :, None]
    bits, _ = threefry_2x32(jnp.uint32(0), seeds[None, None, :], steps, sources)
    return np.sqrt(2.0) * jax.lax.erf_inv(_uniform_symmetric(bits))
