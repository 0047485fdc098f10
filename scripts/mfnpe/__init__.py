"""mfnpe: multifidelity simulation-based inference for stochastic Hodgkin–Huxley neurons."""

__version__ = "0.1.0"
