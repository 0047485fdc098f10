"""The stochastic Hodgkin–Huxley neuron: kinetics, constants and simulators.

- ``channels``: a neuron model as data (constants, channels of gates, rate functions);
- ``models``: the registry of models, one module each (``classic``: squid-axon HH;
  ``pospischil``: the Pospischil et al. 2008 RS and FS cortical neurons);
- ``kinetics``: the classic model's six gate rates and its Na/K Markov schemes;
- ``model``, ``output``: the constants table, the result (the stimulus the simulators
  take: :mod:`mfnpe.stimulus`);
- ``rest``: the resting potential every simulation starts from;
- ``membrane``: per-simulation constants and the exponential-Euler voltage step;
- ``gates``, ``schemes``: how the JAX models' channel states advance (HH gates with
  subunit noise; Markov state fractions with drift and edge noise);
- ``threefry``: the counter-based normals of the JAX models;
- ``langevin``: the JAX time loop and the four low-fidelity ``simulate_*`` functions;
- ``markov``: the numba exact (Gillespie) and binomial (exact per-step moves) simulators.

Where a simulator is known to fail is checked above the physics, with the prior:
:mod:`mfnpe.simulation.regimes`.
"""
