"""The stochastic Hodgkin–Huxley neuron: kinetics, constants, stimulus and simulators.

- ``kinetics``: the six gate rates and the Na/K Markov schemes (shared by all simulators);
- ``model``, ``stimulus``, ``output``: the constants table, the current step, the result;
- ``rest``: the resting potential every simulation starts from;
- ``membrane``: per-simulation constants and the exponential-Euler voltage step;
- ``gates``, ``schemes``: how the JAX models' channel states advance (HH gates with
  subunit noise; Markov state fractions with drift and edge noise);
- ``threefry``: the counter-based normals of the JAX models;
- ``langevin``: the JAX time loop and the four low-fidelity ``simulate_*`` functions;
- ``markov``: the numba exact (Gillespie) and binomial (exact per-step moves) simulators;
- ``regimes``: warnings for configs where a simulator is known to fail.
"""
