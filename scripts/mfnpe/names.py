"""One source for every list of names the workflow and the library share.

Plain Python on purpose (no imports): the Snakefile, the config schema's tests, the
simulator registry, the tables and the figures all take their names from here, so adding
a simulator or a method is one edit here plus the code that implements it.
"""

SIMULATOR_OPTIONS = {
    "markov": ("dt",),
    "binomial": ("dt",),
    "deterministic": ("dt",),
    "current_noise": ("dt", "sigma"),
    "subunit_langevin": ("dt",),
    "edge_langevin": ("dt",),
}
"""Simulator name (config ``simulators.<fidelity>.name``) -> the settings it reads; others
are ignored and do not trigger re-runs."""
SIMULATORS = tuple(SIMULATOR_OPTIONS)
MARKOV_SIMULATORS = ("markov", "binomial")
"""Channel-number simulators (numba, ``mfnpe.hh.markov``): exact and per-step binomial."""
LF_SIMULATORS = tuple(name for name in SIMULATORS if name not in MARKOV_SIMULATORS)
"""Vectorised JAX simulators (``mfnpe.hh.langevin``): the deterministic ODE and the noisy
approximations."""

FIDELITY = {"lf": "lf", "hf": "hf", "test": "hf"}
"""Simulation pool -> the fidelity (``simulators.<fidelity>``) that fills it: the test set
is simulated at high fidelity."""

METHODS = ("lf_npe", "mf_npe", "npe")
"""Amortized methods: LF-pretrained NPE, MF-NPE (fine-tuned on HF) and HF-only NPE."""
SEQUENTIAL_METHODS = ("tsnpe", "mf_tsnpe", "a_mf_tsnpe", "lf_tsnpe")
"""Sequential per-recording methods: TSNPE (HF only), LF-TSNPE (rounds of LF simulations
from the LF-pretrained network), MF-TSNPE and active-learning MF-TSNPE (HF rounds from
the LF-pretrained network, or from LF-TSNPE's last round when it runs too). Appended in
this order: a method's index keys its seeds."""
PRETRAINED = {"lf_npe": False, "mf_npe": True, "npe": False,
              "tsnpe": False, "lf_tsnpe": True, "mf_tsnpe": True, "a_mf_tsnpe": True}
"""Method -> whether its network starts from the LF-pretrained one."""
SEQUENTIAL_FIDELITY = {"tsnpe": "hf", "lf_tsnpe": "lf", "mf_tsnpe": "hf", "a_mf_tsnpe": "hf"}
"""Sequential method -> the simulator of its rounds (``simulators.<fidelity>``)."""
SEQUENTIAL_STANDARDIZATION = {"tsnpe": "auto", "lf_tsnpe": "auto", "mf_tsnpe": "keep",
                              "a_mf_tsnpe": "keep"}
"""Sequential method -> what a warm-started round does with the z-scoring of the network it
starts from (``mfnpe.inference.networks.STANDARDIZATIONS``). The MF methods' HF rounds keep
it: they train only on HF simulations from the truncated prior, far narrower than the LF
data the start was z-scored on (a feature may even be constant there), so ``auto`` would
refit x's z-scoring to them and discard the input scale the start learned."""

DENSITY_ESTIMATORS = ("nsf", "maf", "mdn", "maf_rqs", "zuko_nsf", "zuko_ncsf", "zuko_maf")
"""sbi density estimators (``posterior_nn(model=...)``) the networks may use."""
SPLINE_ESTIMATORS = ("nsf", "maf_rqs", "zuko_nsf", "zuko_ncsf")
"""The spline flows among them: the ones that read ``num_bins``."""

RUN_KEYS = ("method", "n_lf", "n_hf", "seed")
"""What names one trained model: its columns in every table and its path in results/."""

RECORDING_SUFFIXES = (".h5", ".hdf5", ".csv")
"""File suffixes of recordings the observations folder may hold (lower case)."""
EPHYS_SUFFIXES = (".abf", ".nwb")
"""File suffixes of current-clamp files whose sweeps carry their protocol (lower case): a
recording stimulus and its further cells."""
FIGURE_FORMATS = ("png", "svg")
"""Every figure is written in these formats."""
