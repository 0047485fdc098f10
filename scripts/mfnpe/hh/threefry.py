"""The counter-based noise of the JAX models: Threefry-2x32 and the normals it gives.

Normal pair ``j`` of step ``k`` of the simulation with seed ``s`` is a pure function of
``(s, k, j)`` (:func:`chunk_normal_pairs`), so a trace does not depend on its batch, its
position in it, nor the thread that runs it. Both words of a Threefry call are used, by
the Box–Muller transform, with a polynomial sine and cosine (XLA:CPU calls a scalar libm
for ``sin``/``cos`` and its inverse error function costs a logarithm per normal).
"""

from __future__ import annotations

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


def _unit_open(bits):
    """uint32 -> float32 uniform on (0, 1): the 2^23 odd multiples of 2^-24 (exact)."""
    return ((bits >> 9) * jnp.uint32(2) + jnp.uint32(1)).astype(jnp.int32).astype(
        jnp.float32) * 2.0**-24


_SIN = (1.0, -1.0 / 6, 1.0 / 120, -1.0 / 5040, 1.0 / 362880)  # sin(φ)/φ in powers of φ²
_COS = (1.0, -1.0 / 2, 1.0 / 24, -1.0 / 720, 1.0 / 40320)  # cos(φ) in powers of φ²


def _polynomial(coefficients, z):
    """Horner's rule, lowest degree first."""
    total = coefficients[-1]
    for c in coefficients[-2::-1]:
        total = total * z + c
    return total


def _unit_circle(bits):
    """uint32 -> (cos θ, sin θ), θ uniform on the circle: the top 2 bits pick the quadrant
    q, the next 22 an angle φ in [−π/4, π/4) (centred in its 2^-22 bin), θ = q π/2 + π/4 + φ.
    Taylor polynomials on |φ| ≤ π/4 (truncation below 3e-8), no trigonometric call."""
    quadrant = bits >> 30
    bin_ = ((bits >> 8) & jnp.uint32(0x3FFFFF)).astype(jnp.int32).astype(jnp.float32)
    phi = (bin_ + 0.5) * np.float32(0.5 * np.pi * 2.0**-22) - np.float32(0.25 * np.pi)
    phi2 = phi * phi
    sin_phi, cos_phi = phi * _polynomial(_SIN, phi2), _polynomial(_COS, phi2)
    half = np.float32(np.sqrt(0.5))
    c, s = (cos_phi - sin_phi) * half, (sin_phi + cos_phi) * half  # angle π/4 + φ
    odd = (quadrant & jnp.uint32(1)) == 1
    c, s = jnp.where(odd, -s, c), jnp.where(odd, c, s)  # + π/2 where q is odd
    flip = quadrant >= 2  # + π
    return jnp.where(flip, -c, c), jnp.where(flip, -s, s)


def chunk_normal_pairs(seeds, first_step, n_steps: int, n_pairs: int):
    """Two (n_steps, n_pairs, n) float32 arrays of standard normals, all independent, of
    steps ``first_step + [0, n_steps)``: pair ``j`` of step ``k`` of the simulation with
    seed ``s`` is the Box–Muller transform ``r (cos θ, sin θ)``, ``r = √(−2 ln u)``, of the
    two words of ``threefry_2x32(key=(0, s), counter=(k, j))`` (``u`` from the first,
    :func:`_unit_open`; θ from the second, :func:`_unit_circle`): a pure function of
    ``(s, k, j)``, two normals per Threefry call and one logarithm per two normals.
    ``seeds`` (n,) uint32, ``first_step`` uint32.
    """
    steps = first_step + jnp.arange(n_steps, dtype=jnp.uint32)[:, None, None]
    pairs = jnp.arange(n_pairs, dtype=jnp.uint32)[None, :, None]
    radius_bits, angle_bits = threefry_2x32(jnp.uint32(0), seeds[None, None, :], steps, pairs)
    radius = jnp.sqrt(-2.0 * jnp.log(_unit_open(radius_bits)))
    cos, sin = _unit_circle(angle_bits)
    return radius * cos, radius * sin
