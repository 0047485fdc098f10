"""The stochastic Hodgkin–Huxley neuron: kinetics, constants, stimulus and simulators."""
