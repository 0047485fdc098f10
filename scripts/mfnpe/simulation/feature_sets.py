"""Named sets of summary features: the config's ``features`` is a list of names or one of
these names (docs/method.md, "Features").

Plain Python on purpose (no numba, no numpy): the planning layer (``mfnpe.plan.config``,
which the Snakefile imports before any rule environment exists) expands a set name with
:func:`resolve_features`. The names themselves, with units and definitions, are
``mfnpe.simulation.features.FEATURES`` (tests/test_ephys_features.py checks every set's
names are there).
"""

from __future__ import annotations

from collections.abc import Sequence

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "goncalves": (
        "spike_count", "rest_mean", "rest_std", "stim_mean", "stim_var", "stim_skew",
        "stim_kurtosis", "isi_mean", "isi_cv", "first_spike_latency",
    ),
    "ephys": (
        "spike_count", "rest_mean", "ap_peak", "ap_threshold", "ap_half_width", "ahp_depth",
        "adaptation_index", "first_isi", "input_resistance", "membrane_tau", "sag_ratio",
    ),
    "ephys_firing": (
        "spike_count", "rest_mean", "ap_peak", "adaptation_index", "first_isi",
        "input_resistance", "membrane_tau", "sag_ratio",
    ),
}
"""Set name -> its feature names, in column order. ``goncalves``: the default ten (the seven
of Gonçalves et al. 2020 and the three spike-timing ones); ``ephys``: what an
electrophysiologist reads (spike count, rest, AP shape, AHP, adaptation, first ISI and the
passive properties of a hyperpolarising epoch); ``ephys_firing``: ``ephys`` without the
spike's threshold, half-width and AHP, which the shipped models do not reach on real cells
and which then pull the posterior away from the firing (docs/results.md, "What the model
reaches")."""
DEFAULT_SET = "goncalves"


def resolve_features(features: str | Sequence[str]) -> list[str]:
    """The feature names of a config's ``features``: a set name (:data:`FEATURE_SETS`)
    gives its list, a list of names is returned as a list. ``ValueError`` for an unknown
    set name."""
    if isinstance(features, str):
        if features not in FEATURE_SETS:
            raise ValueError(f"unknown feature set {features!r}; the sets: "
                             f"{list(FEATURE_SETS)} (or give a list of feature names)")
        return list(FEATURE_SETS[features])
    return list(features)
