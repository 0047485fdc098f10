"""A neuron model as data: its constants, its channels and its gate rates.

(docs/method.md, "The neuron" and "Adding a model".) A :class:`NeuronModel` is a
single-compartment membrane with voltage-gated channels and a leak. Each
:class:`Channel` is a product of independent gates, e.g. Na ``m³h`` is
``gates=(("m", 3), ("h", 1))``; its Markov states are the products of the gate-count
states, the first gate varying fastest (Na ``m{i}h{j}`` has index ``4 j + i``), the open
state has every gate open. Every gate type belongs to one channel and has two rates,
``α`` (opening) and ``β`` (closing) [1/ms], written once over an array namespace ``xp``
by the model's ``make_rates(xp, jit)``; rate id ``2 g`` is ``α`` and ``2 g + 1`` is ``β``
of gate type ``g`` (order :attr:`NeuronModel.gate_names`). Rates take V [mV] and the
model's *kinetic* constants (e.g. ``VT`` [mV], ``tau_max`` [ms]), in the order of
:attr:`NeuronModel.kinetic`, and hold at the model's reference temperature
(:attr:`NeuronModel.reference_temperature`). At the constant ``temperature`` T [°C] every
rate of a channel's gates is multiplied by ``Q10^((T − T_ref)/10)``, the channel's
:attr:`Channel.q10` (:meth:`NeuronModel.rate_factors`): time constants shrink by that
factor, steady states ``α/(α + β)``, and so the resting potential, do not change. At
``T = T_ref`` the factor is exactly 1.0 and the simulators skip it (bit-identical).

No JAX or numba here: every simulator builds its tables from these.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from math import comb

import numpy as np

SINGLE_CHANNEL_PS = 20.0
"""Default single-channel conductance [pS] (docs/method.md, "The neuron")."""
TEMPERATURE = "temperature"
"""The constant holding the temperature [°C] of a model with a reference temperature."""


@dataclass(frozen=True)
class Channel:
    """One voltage-gated channel type: ``I = g · Π x_gate^power · (V − E)``.

    Attributes
    ----------
    name : e.g. "Na".
    gates : ((gate name, power), ...), the first gate varying fastest in the state index.
    conductance : the constant holding its maximal conductance density [mS/cm²].
    reversal : the constant holding its reversal potential [mV].
    single_pS : single-channel conductance [pS]; N = round(ḡ · area · 10 / single_pS).
    q10 : the factor by which all its gates' rates grow per 10 °C (1.0: none).
    """

    name: str
    gates: tuple[tuple[str, int], ...]
    conductance: str
    reversal: str
    single_pS: float = SINGLE_CHANNEL_PS
    q10: float = 1.0

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of count states per gate, ``(power + 1, ...)`` in gate order."""
        return tuple(power + 1 for _, power in self.gates)

    @property
    def counts(self) -> tuple[tuple[int, ...], ...]:
        """Per state (index order): the number of open gates of each gate type."""
        reverse = itertools.product(*(range(n) for n in reversed(self.shape)))
        return tuple(tuple(reversed(c)) for c in reverse)  # first gate fastest

    @property
    def n_states(self) -> int:
        return int(np.prod(self.shape))

    @property
    def states(self) -> tuple[str, ...]:
        """State names, e.g. ``m3h1``."""
        return tuple("".join(f"{g}{c}" for (g, _), c in zip(self.gates, counts, strict=True))
                     for counts in self.counts)

    def index(self, counts) -> int:
        """State index of the gate counts ``counts`` (first gate fastest)."""
        index, stride = 0, 1
        for c, n in zip(counts, self.shape, strict=True):
            index += c * stride
            stride *= n
        return index

    @property
    def open_state(self) -> int:
        return self.index([power for _, power in self.gates])

    def state_probs(self, gate_inf: Mapping[str, float]) -> np.ndarray:
        """(states,) stationary (product-binomial) state probabilities for gate values."""
        probs = np.ones(self.n_states)
        for s, counts in enumerate(self.counts):
            for (g, k), c in zip(self.gates, counts, strict=True):
                x = gate_inf[g]
                probs[s] *= comb(k, c) * x**c * (1.0 - x) ** (k - c)
        return probs

    def channel_count(self, g, area):
        """Channel numbers ``round(g · area · 10 / single_pS)``; ``g`` [mS/cm²], ``area`` [µm²]."""
        per_um2 = 10.0 / self.single_pS  # 1 mS/cm² = 10 pS/µm²
        counts = np.rint(np.asarray(g, dtype=float) * per_um2 * np.asarray(area, dtype=float))
        return counts.astype(np.int64)


@dataclass(frozen=True, eq=False)
class NeuronModel:
    """A single-compartment neuron: constants, channels (then a leak ``gL``, ``EL``), rates.

    Attributes
    ----------
    name : registry name (``mfnpe.hh.models.MODELS``).
    constants : name -> (default, unit, description); must hold every channel's
        conductance and reversal, ``gL, EL, C, area, amplitude`` and the kinetic constants.
    channels : the gated channels, in the order their currents are summed.
    kinetic : constants the rates take after V, e.g. ("VT", "tau_max").
    make_rates : ``(xp, jit) -> namespace`` of rate functions ``f(v, *kinetic)``.
    rate_names : names of the rate functions, ordered ``alpha_g, beta_g`` per gate type.
    reference : where the equations come from.
    reference_temperature : the temperature [°C] the rates hold at; with it the model has
        the constant ``temperature`` [°C] and the channels' ``q10`` apply. None: the rates
        do not depend on temperature.
    """

    name: str
    constants: Mapping[str, tuple[float, str, str]]
    channels: tuple[Channel, ...]
    kinetic: tuple[str, ...]
    make_rates: Callable
    rate_names: tuple[str, ...]
    reference: str = ""
    reference_temperature: float | None = None
    _rates_np: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        gates = [g for channel in self.channels for g, _ in channel.gates]
        if len(set(gates)) != len(gates):
            raise ValueError(f"model {self.name}: a gate type belongs to one channel, got {gates}")
        expected = tuple(f"{kind}_{g}" for g in gates for kind in ("alpha", "beta"))
        if tuple(self.rate_names) != expected:
            raise ValueError(f"model {self.name}: rate_names must be {expected}")
        needed = [c.conductance for c in self.channels] + [c.reversal for c in self.channels]
        needed += ["gL", "EL", "C", "area", "amplitude", *self.kinetic]
        if self.reference_temperature is not None:
            needed.append(TEMPERATURE)
        missing = [name for name in needed if name not in self.constants]
        if missing:
            raise ValueError(f"model {self.name}: constants lack {missing}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.constants)

    @property
    def defaults(self) -> dict[str, float]:
        return {name: value for name, (value, _, _) in self.constants.items()}

    @property
    def gate_names(self) -> tuple[str, ...]:
        """Gate types in rate-id order (gate ``g`` has rates ``2 g``, ``2 g + 1``)."""
        return tuple(g for channel in self.channels for g, _ in channel.gates)

    def gate_index(self, gate: str) -> int:
        return self.gate_names.index(gate)

    def gate_channel(self, gate: str) -> int:
        """Index of the channel the gate type belongs to."""
        return next(i for i, c in enumerate(self.channels) if gate in dict(c.gates))

    @property
    def rates_np(self):
        """The NumPy rate functions (built once)."""
        if "np" not in self._rates_np:
            self._rates_np["np"] = self.make_rates(np)
        return self._rates_np["np"]

    def rate_factors(self, temperature) -> np.ndarray:
        """``(G,) + shape(temperature)`` float64 factors of each gate type's rates (order
        :attr:`gate_names`) at ``temperature`` [°C]: ``q10^((T − T_ref)/10)`` of the gate's
        channel; exactly 1.0 at ``T = T_ref`` (and for a model without temperature).
        """
        t = np.asarray(temperature, dtype=np.float64)
        if self.reference_temperature is None:
            return np.ones((len(self.gate_names), *t.shape))
        exponent = (t - self.reference_temperature) / 10.0
        return np.stack([np.power(self.channels[self.gate_channel(g)].q10, exponent)
                         for g in self.gate_names])

    def factors_of(self, constants: Mapping[str, np.ndarray]) -> np.ndarray:
        """(G, n) :meth:`rate_factors` of a constants table (all 1.0 for a model without
        temperature or a table without it)."""
        n = len(np.atleast_1d(constants[self.names[0]]))
        if self.reference_temperature is None or TEMPERATURE not in constants:
            return np.ones((len(self.gate_names), n))
        return self.rate_factors(np.broadcast_to(constants[TEMPERATURE], (n,)))

    def rate_vector(self, v, kinetic=(), temperature=None) -> np.ndarray:
        """All rates at ``v`` [mV]: ``(2 G,) + shape(v)`` [1/ms], order :attr:`rate_names`;
        at ``temperature`` [°C] (None: the reference temperature, the rates as written),
        a scalar or an array that broadcasts with ``v``."""
        v = np.asarray(v, dtype=float)
        rates = np.stack([np.broadcast_to(getattr(self.rates_np, name)(v, *kinetic), v.shape)
                          for name in self.rate_names])
        if temperature is None:
            return rates
        factors = np.repeat(self.rate_factors(temperature), 2, axis=0)  # (2 G,) + shape(T)
        extra = max(v.ndim - (factors.ndim - 1), 0)
        return rates * factors.reshape(factors.shape[0], *(1,) * extra, *factors.shape[1:])

    def steady_gates(self, v, kinetic=()) -> dict[str, np.ndarray]:
        """Gate steady states ``{gate: α / (α + β)}`` at ``v`` [mV] (at any temperature:
        the Q10 factor scales ``α`` and ``β`` alike)."""
        r = self.rate_vector(v, kinetic)
        return {g: r[2 * i] / (r[2 * i] + r[2 * i + 1]) for i, g in enumerate(self.gate_names)}

    def kinetic_of(self, constants: Mapping[str, np.ndarray]) -> tuple:
        """The kinetic constants' columns of a constants table, order :attr:`kinetic`."""
        return tuple(np.asarray(constants[name], dtype=np.float64) for name in self.kinetic)

    def transitions(self, channel: Channel) -> np.ndarray:
        """(E, 4) int64 rows (from_state, to_state, rate_id, multiplier) of a channel.

        Per gate (in order), per state of the other gates (index order), per count ``c``:
        the opening ``c → c + 1`` (rate ``(k − c) α``) then the closing ``c + 1 → c``
        (rate ``(c + 1) β``). For the classic Na channel this is the 20-row table
        ``mfnpe.hh.kinetics.NA_TRANSITIONS``.
        """
        rows = []
        for slot, (gate, power) in enumerate(channel.gates):
            rate = 2 * self.gate_index(gate)
            others = [range(n) for i, n in enumerate(channel.shape) if i != slot]
            for rest in itertools.product(*reversed(others)):
                rest = list(reversed(rest))
                for c in range(power):
                    low = channel.index(rest[:slot] + [c] + rest[slot:])
                    high = channel.index(rest[:slot] + [c + 1] + rest[slot:])
                    rows.append((low, high, rate, power - c))
                    rows.append((high, low, rate + 1, c + 1))
        return np.array(rows, dtype=np.int64).reshape(-1, 4)

    def channel_counts(self, constants: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Channel numbers (n,) int64 per channel for a constants table."""
        return [c.channel_count(constants[c.conductance], constants["area"])
                for c in self.channels]


def make_vtrap(xp, wrap):
    """``vtrap(x) = x / (1 − exp(−x))`` over ``xp``, continuous through ``x = 0``."""

    @wrap
    def vtrap(x):
        small = xp.abs(x) < 1e-6
        x_safe = xp.where(small, 1.0, x)
        return xp.where(small, 1.0 + 0.5 * x, x_safe / -xp.expm1(-x_safe))

    return vtrap
