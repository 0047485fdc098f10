"""Config validation: defaults, and errors that name the key at fault."""

import copy
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mfnpe.simulation import features, simulators
from mfnpe.plan import runs, shards
from mfnpe import names
from mfnpe.plan.config import MODEL_CHOICE, ConfigError, load_config, validate_config
from workflow_helpers import CONFIG_SCHEMA, SCHEMA_PATH
from mfnpe.hh.model import NAMES as MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]


def test_default_config_file_is_valid_and_complete():
    config = load_config(ROOT / "config" / "config.yaml", CONFIG_SCHEMA)
    assert list(config["prior"]) == ["gNa", "gK", "gL"]
    assert config["model"]["area"] == 100.0
    assert config["simulators"]["hf"]["name"] == "markov"
    # an empty config gets every default
    assert validate_config({}, CONFIG_SCHEMA)["budgets"] == config["budgets"]


def test_the_schema_has_one_source_beside_the_rules():
    tracked = subprocess.run(["git", "ls-files", "*.schema.*"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked == ["workflow/schemas/config.schema.yaml"] == [
        str(SCHEMA_PATH.relative_to(ROOT))]


def test_snakemakes_own_validate_reads_the_schema():
    """``snakemake.utils.validate``, as a Snakemake user calls it on the schema, fills the
    defaults the workflow fills (bar the neuron model's constants, which the workflow takes
    from the schema's x-model-defaults) and refuses an unknown key."""
    from snakemake.utils import validate

    filled = {}
    validate(filled, str(SCHEMA_PATH))
    ours = validate_config({}, CONFIG_SCHEMA)
    assert list(filled) == list(ours)
    assert [key for key in ours if filled[key] != ours[key]] == ["model"]
    with pytest.raises(Exception, match="'budgetz' was unexpected"):
        validate({"budgetz": {}}, str(SCHEMA_PATH))


def test_schema_enums_match_the_library():
    schema = CONFIG_SCHEMA
    props = schema["properties"]
    assert [key for key in props["model"]["properties"] if key not in MODEL_CHOICE] == list(
        MODEL_NAMES)
    assert props["features"]["items"]["enum"] == list(features.NAMES)
    simulator = schema["$defs"]["simulator"]["properties"]
    assert simulator["name"]["enum"] == list(names.SIMULATORS) == list(simulators.REGISTRY)
    options = {option for read in names.SIMULATOR_OPTIONS.values() for option in read}
    assert options == set(simulator) - {"name"}
    assert props["sequential"]["properties"]["methods"]["items"]["enum"] == list(
        names.SEQUENTIAL_METHODS)
    assert set(names.METHODS) | set(names.SEQUENTIAL_METHODS) == set(names.PRETRAINED)
    network = props["inference"]["properties"]["network"]["properties"]
    assert network["model"]["enum"] == list(names.DENSITY_ESTIMATORS)
    assert set(names.SPLINE_ESTIMATORS) <= set(names.DENSITY_ESTIMATORS)
    recording = props["observations"]["properties"]["examples"]["additionalProperties"]
    assert ["." + f for f in recording["properties"]["format"]["enum"]] == list(
        names.RECORDING_SUFFIXES)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"prior": {"gFoo": [1, 2]}}, r"prior/gFoo: not a constant of neuron model 'classic'"),
        ({"prior": {"gNa": [200.0, 50.0]}}, r"prior/gNa: low must be < high"),
        ({"prior": {"gNa": [50.0, 50.0]}}, r"prior/gNa: low must be < high"),
        ({"budgets": {"n_hf": [100, 0]}}, r"budgets/n_hf/1"),
        ({"budgets": {"n_lf": [-5]}}, r"budgets/n_lf/0"),
        ({"budgets": {"n_test": 0}}, r"budgets/n_test"),
        ({"shards": {"hf": 0}}, r"shards/hf"),
        ({"simulators": {"lf": {"name": "langevin"}}}, r"simulators/lf/name: 'langevin'"),
        ({"features": ["spike_count", "spike_rate"]}, r"features/1: 'spike_rate'"),
        ({"model": {"gCa": 1.0}}, r"model/gCa: not a constant of neuron model 'classic'"),
        ({"stimulus": {"t_on": 50.0, "t_off": 20.0}}, r"stimulus: need 0 <= t_on < t_off"),
        ({"simulators": {"hf": {"name": "markov", "dt": 0.03}}}, r"not a multiple of simulators/hf/dt"),
        ({"observations": {"examples": {"ex": {"theta": {"gNa": 100.0}}}}},
         r"observations/examples/ex/theta: names \['gNa'\], but the prior infers"),
        ({"observations": {"examples": {"ex": {"theta": {"gNa": 10.0, "gK": 30.0, "gL": 0.3}}}}},
         r"observations/examples/ex/theta/gNa=10.0 is outside the prior \[50.0, 200.0\]"),
        ({"observations": {"examples": {"ex 1": {"theta": {}}}}}, r"observations/examples"),
        ({"traces": {"pools": [], "dt": 0.015}},
         r"traces/dt=0.015 is not a multiple of simulators/hf/dt"),
        ({"evaluation": {"calibration_budgets": [100, 30]}},
         r"evaluation/calibration_budgets: 30 is not one of budgets/n_hf"),
        ({"evaluation": {"calibration_level": 0.0}}, r"evaluation/calibration_level"),
        ({"sequential": {"methods": ["snpe_c"]}}, r"sequential/methods/0: 'snpe_c'"),
        ({"sequential": {"ensemble_size": 1}}, r"sequential/ensemble_size"),
        ({"sequential": {"acquisition_fraction": 1.5}}, r"sequential/acquisition_fraction"),
        ({"sequential": {"truncation_quantile": 1e-4, "support_samples": 50_000}},
         r"sequential/support_samples=50000 is too few .* at least 100000"),
    ],
)
def test_bad_config_errors_name_the_key(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(copy.deepcopy(change), CONFIG_SCHEMA)


def test_calibration_budgets_default_to_the_smallest_and_largest():
    config = validate_config({"budgets": {"n_hf": [200, 50, 1000, 100]}}, CONFIG_SCHEMA)
    assert runs.calibration_budgets(config) == [50, 1000]
    config = validate_config({"budgets": {"n_hf": [50]}}, CONFIG_SCHEMA)
    assert runs.calibration_budgets(config) == [50]
    config = validate_config({"budgets": {"n_hf": [50, 100, 200]},
                              "evaluation": {"calibration_budgets": [200, 100]}}, CONFIG_SCHEMA)
    assert runs.calibration_budgets(config) == [100, 200]


def test_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"prior": {"gNa": [2.0, 1.0]}}))
    with pytest.raises(ConfigError, match=r"bad\.yaml: config key prior/gNa"):
        load_config(path, CONFIG_SCHEMA)


@pytest.mark.workflow
def test_snakemake_refuses_a_bad_config_before_running_anything(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"prior": {"gNa": [50.0, 200.0], "gXYZ": [0.0, 1.0]}}))
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "workflow" / "Snakefile"),
         "--configfile", str(path), "-n", "--cores", "1", "-d", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert run.returncode != 0
    assert "gXYZ" in run.stdout + run.stderr
    assert not (tmp_path / "results").exists()


def test_pools_round_up_to_whole_shards_and_grow_by_adding_shards():
    config = validate_config({"budgets": {"n_lf": [1000], "n_hf": [50, 120], "n_test": 30},
                              "shards": {"lf": 400, "hf": 50, "test": 30}}, CONFIG_SCHEMA)
    assert [shards.n_shards(config, p) for p in shards.POOLS] == [3, 3, 1]
    assert shards.pool_size(config, "hf") == 150
    before = [shards.shard_settings(config, "hf", k) for k in range(3)]
    config["budgets"]["n_hf"].append(400)
    assert shards.n_shards(config, "hf") == 8
    assert [shards.shard_settings(config, "hf", k) for k in range(3)] == before


def test_lf_tsnpe_rounds_are_lf_shards_and_start_the_mf_chains():
    """LF-TSNPE's rounds are LF simulations in LF shards on top of the pretraining; with it
    the MF chains count its LF simulations and start from its last round (the settings
    they check their start against are its last member's); without it, from LF-NPE."""
    from mfnpe.plan import sequential as chains

    section = {"methods": ["lf_tsnpe", "mf_tsnpe", "tsnpe"], "lf_rounds": 2,
               "lf_simulations_per_round": 900, "rounds": 3, "simulations_per_round": 60}
    config = validate_config({"budgets": {"n_lf": [500, 1000], "n_hf": [50], "n_test": 30},
                              "shards": {"lf": 400, "hf": 50, "test": 30},
                              "sequential": section}, CONFIG_SCHEMA)
    assert chains.shards_per_round(config, "lf_tsnpe") == 3  # 400 + 400 + 100
    assert chains.shard_rows(config, "lf_tsnpe", 2) == (800, 900)
    assert chains.shards_per_round(config, "mf_tsnpe") == 2  # 50 + 10
    lf_chain = chains.chain_settings(config, "cell", "lf_tsnpe", 0)
    assert lf_chain["simulation"] == shards.simulation_settings(config, "lf")
    assert lf_chain["training"] == config["inference"]["pretrain"]
    assert lf_chain["pretrained"] == runs.model_settings(config, "lf_npe", 1000, 0, 0)
    mf_chain = chains.chain_settings(config, "cell", "mf_tsnpe", 0)
    assert mf_chain["pretrained"] == chains.member_settings(lf_chain, 2, 0)
    assert mf_chain["simulation"] == shards.simulation_settings(config, "hf")
    # the HF rounds keep the z-scoring of the network they start from; the LF ones decide
    assert (mf_chain["standardization"], "standardization" in lf_chain) == ("keep", False)
    assert [(run["method"], run["n_lf"], run["n_hf"]) for run in
            chains.posterior_runs(config, "cell")] == [
        ("lf_tsnpe", 1900, 0), ("lf_tsnpe", 2800, 0),
        ("mf_tsnpe", 2800, 60), ("mf_tsnpe", 2800, 120), ("mf_tsnpe", 2800, 180),
        ("tsnpe", 0, 60), ("tsnpe", 0, 120), ("tsnpe", 0, 180)]
    assert chains.final_runs(config, "cell") == [
        {"method": "lf_tsnpe", "n_lf": 2800, "n_hf": 0, "seed": 0},
        {"method": "mf_tsnpe", "n_lf": 2800, "n_hf": 180, "seed": 0},
        {"method": "tsnpe", "n_lf": 0, "n_hf": 180, "seed": 0}]
    without = copy.deepcopy(config)
    without["sequential"]["methods"] = ["mf_tsnpe"]
    assert chains.chain_settings(without, "cell", "mf_tsnpe", 0)["pretrained"] == (
        runs.model_settings(without, "lf_npe", 1000, 0, 0))
    assert chains.budget(without, "mf_tsnpe", 3) == (1000, 180)
    only = copy.deepcopy(config)
    only["sequential"]["recordings"] = ["other"]
    assert chains.final_runs(only, "cell") == []


def test_shard_settings_hold_only_what_the_shard_depends_on():
    config = validate_config({}, CONFIG_SCHEMA)
    lf = shards.simulation_settings(config, "lf")
    assert "sigma" not in lf["simulator"]  # edge_langevin does not read it
    assert "gNa" not in lf["model"]  # inferred, so set by the prior
    assert shards.simulation_settings(config, "test")["simulator"]["name"] == "markov"
    changed = copy.deepcopy(config)
    changed["simulators"]["lf"]["dt"] = 0.02
    assert shards.shard_settings(changed, "hf", 0) == shards.shard_settings(config, "hf", 0)
    assert shards.shard_settings(changed, "lf", 0) != shards.shard_settings(config, "lf", 0)


def test_training_settings_hold_only_what_the_weights_depend_on():
    config = validate_config({}, CONFIG_SCHEMA)
    mf = runs.model_settings(config, "mf_npe", 10000, 50, 0)
    assert mf["training"]["validate_start"] is True
    assert mf["training"]["learning_rate"] == 1e-4  # fine-tuning's own default
    # a cold start does not depend on validate_start: toggling it retrains only fine-tunings
    assert "validate_start" not in mf["pretrained"]["training"]
    npe = runs.model_settings(config, "npe", 0, 50, 0)
    assert "validate_start" not in npe["training"] and npe["training"]["learning_rate"] == 5e-4


def test_only_fine_tuning_may_choose_its_learning_rate():
    """inference.finetune.learning_rate takes "auto" (the library's TrainingSettings too);
    pretrain and npe take a number only."""
    from mfnpe.inference import TrainingSettings

    config = validate_config({"inference": {"finetune": {"learning_rate": "auto"}}},
                             CONFIG_SCHEMA)
    mf = runs.model_settings(config, "mf_npe", 10000, 50, 0)
    assert TrainingSettings.from_dict(mf["training"]).learning_rate == "auto"
    for section in ("pretrain", "npe"):
        with pytest.raises(Exception, match="auto"):
            validate_config({"inference": {section: {"learning_rate": "auto"}}}, CONFIG_SCHEMA)


def test_an_overlay_section_gives_the_same_settings_as_the_defaults():
    # Snakemake merges --configfile overlays; a section the overlay creates is filled with
    # defaults after its own keys, and params are compared as written: the order must not
    # depend on where a value came from
    base = validate_config({}, CONFIG_SCHEMA)
    overlay = validate_config({"inference": {"finetune": {"learning_rate": 0.0001}},
                               "model": {"area": 100.0, "gNa": 120.0}}, CONFIG_SCHEMA)
    for method, n_lf, n_hf in (("mf_npe", 10000, 50), ("lf_npe", 10000, 0)):
        assert repr(runs.model_settings(overlay, method, n_lf, n_hf, 0)) == \
            repr(runs.model_settings(base, method, n_lf, n_hf, 0))
    assert list(overlay["prior"]) == ["gNa", "gK", "gL"]  # a map keeps the user's order
    assert list(validate_config({"prior": {"gL": [0.1, 1.0], "gNa": [50.0, 200.0]}}, CONFIG_SCHEMA)["prior"]) \
        == ["gL", "gNa"]


def test_the_library_defaults_are_the_workflows():
    from mfnpe.inference import NetworkSettings, TrainingSettings
    from mfnpe.inference.train import FINETUNING

    inference = validate_config({}, CONFIG_SCHEMA)["inference"]
    assert NetworkSettings.from_dict(inference["network"]) == NetworkSettings()
    assert TrainingSettings.from_dict(inference["pretrain"]) == TrainingSettings()
    assert TrainingSettings.from_dict(inference["npe"]) == TrainingSettings()
    assert TrainingSettings.from_dict(inference["finetune"]) == FINETUNING


# ---- channel numbers: round(g · area · 10 / 20 pS) per channel type ----

def test_the_schemas_channels_are_the_models():
    from mfnpe.hh.models import MODELS

    channels = CONFIG_SCHEMA["properties"]["model"]["x-model-channels"]
    assert channels == {name: {c.name: [c.conductance, c.single_pS] for c in model.channels}
                        for name, model in MODELS.items()}


@pytest.mark.parametrize("change, message", [
    ({"model": {"area": 0.0001}},
     (r"config key model/area=0.0001: leaves neuron model 'classic' with no Na channel for "
      r"every draw of the prior: .* is 0.01 rounded to 0 .* so markov \(simulators/hf\)")),
    ({"model": {"gK": 0.001}, "prior": {"gNa": [50.0, 200.0]}},
     (r"config key model/gK=0.001: leaves neuron model 'classic' with no K channel: "
      r".*gK=0.001 mS/cm² and area=100 µm²")),
    ({"prior": {"gNa": [50.0, 200.0], "area": [1e-5, 1e-4]}},
     r"config key prior/area=\[1e-05, 0.0001\]: leaves .* no Na channel for every draw"),
])
def test_a_channel_type_with_no_channel_is_refused_naming_the_constant(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config({**change, "observations": {"examples": {}}}, CONFIG_SCHEMA)


def test_a_conductance_fixed_at_zero_or_no_channel_simulator_is_not_refused():
    from mfnpe.plan.config import channel_warnings

    # a channel left out on purpose, as tests/test_pipeline.py does
    config = validate_config({"model": {"gNa": 0.0, "gK": 0.0}, "prior": {"gL": [0.1, 1.0]},
                              "observations": {"examples": {}}}, CONFIG_SCHEMA)
    assert channel_warnings(config, CONFIG_SCHEMA) == []
    # the Langevin and ODE simulators keep the conductance whatever the channel number
    deterministic = {"name": "deterministic", "dt": 0.01}
    assert validate_config({"model": {"area": 0.0001}, "simulators": {
        "lf": deterministic, "hf": deterministic}}, CONFIG_SCHEMA)["model"]["area"] == 0.0001


@pytest.mark.parametrize("prior, share", [
    ({"gM": [0.0, 0.6]}, "1.7%"),  # gM ≤ 1 / 100 µm²: 0.01 / 0.6
    ({"gM": {"low": 0.001, "high": 1.0, "scale": "log"}}, "33%"),  # log(10) / log(1000)
    ({"gM": [0.0, 1.0], "area": [1.0, 2.0]}, "69%"),  # P(gM · area ≤ 1) = E[1 / area] = ln 2
])
def test_a_prior_with_some_draws_at_no_channel_gets_a_warning_with_their_share(prior, share):
    from mfnpe.plan.config import channel_warnings

    config = validate_config({"model": {"name": "pospischil_rs"}, "prior": prior,
                              "observations": {"examples": {}}}, CONFIG_SCHEMA)
    (message,) = channel_warnings(config, CONFIG_SCHEMA)
    assert message.startswith(f"prior: {share} of the prior's draws leave neuron model "
                              "'pospischil_rs' with no M channel"), message


def test_the_shipped_default_config_gets_no_channel_warning():
    from mfnpe.plan.config import channel_warnings

    assert channel_warnings(load_config(ROOT / "config" / "config.yaml", CONFIG_SCHEMA), CONFIG_SCHEMA) == []


# ---- simulate jobs' resources and the simulated-time ceiling ----

def test_the_resource_model_batches_as_the_simulators_do():
    from mfnpe.plan import resources
    from mfnpe.simulation.simulators import BATCH_SIZE, REGISTRY

    assert resources.FIDELITY == shards.FIDELITY
    assert {name: resources.batch_size(name) for name in REGISTRY} == {
        name: spec.batch_size for name, spec in REGISTRY.items()}
    assert resources.BATCH == BATCH_SIZE
    assert set(resources.STEPS_PER_S) == set(names.LF_SIMULATORS)


def test_simulate_resources_keep_the_defaults_and_scale_with_the_simulated_time():
    from mfnpe.plan import resources

    config = validate_config({}, CONFIG_SCHEMA)
    requests = {pool: (resources.simulate_mem_mb(config, pool),
                       resources.simulate_runtime(config, pool)) for pool in shards.POOLS}
    assert requests == {"lf": (1500, 60), "hf": (600, 120), "test": (600, 120)}
    base = resources.simulate_peak_mb(config, "lf")
    long = validate_config({"stimulus": {"duration": 12000.0, "t_on": 10.0, "t_off": 110.0}}, CONFIG_SCHEMA)
    # 100x the steps of a batch of 500 JAX simulations held whole
    grown = resources.simulate_peak_mb(long, "lf") - resources.BASE_MB["jax"]
    assert grown == pytest.approx(100 * (base - resources.BASE_MB["jax"]))
    assert resources.simulate_mem_mb(long, "lf") == math.ceil(3 * resources.simulate_peak_mb(
        long, "lf"))
    assert resources.simulate_peak_mb(long, "lf", threads=2) > resources.simulate_peak_mb(
        long, "lf")
    def work(c):  # the simulations' part of a job's minutes
        return resources.simulate_minutes(c, "hf") - resources.STARTUP_S / 60

    assert work(long) == pytest.approx(100 * work(config))


def test_a_recordings_simulated_time_is_every_sweeps():
    from mfnpe.plan import resources

    config = validate_config({}, CONFIG_SCHEMA)
    config["stimulus"]["protocols"] = [{"sweep": 2, "duration": 700.0},
                                       {"sweep": 3, "duration": 700.0}]
    config["stimulus"]["recording"] = "cell.abf"
    assert resources.simulated_ms(config) == 1400.0
    one = copy.deepcopy(config)
    one["stimulus"]["protocols"] = one["stimulus"]["protocols"][:1]
    assert resources.simulate_peak_mb(config, "lf") > resources.simulate_peak_mb(one, "lf")
    del config["stimulus"]["protocols"]
    assert resources.simulated_ms(config) is None  # not read yet: no estimate, no refusal


@pytest.mark.parametrize("change, message", [
    ({"stimulus": {"duration": 1e7}},
     (r"config key stimulus/duration=1e\+07: a simulate job of pool lf would need about "
      r"1,800,467 MB .* more than the ceiling of 16,000 MB")),
    ({"stimulus": {"duration": 12000.0, "t_on": 10.0, "t_off": 110.0},
      "shards": {"test": 100_000}, "budgets": {"n_test": 100_000}},
     r"config key shards/test=100000: a simulate job of pool test would need .* kept traces"),
])
def test_a_simulated_time_beyond_the_memory_ceiling_is_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(change, CONFIG_SCHEMA)


def test_only_the_area_prior_comes_from_a_recording(tmp_path):
    from mfnpe.plan.config import ConfigError, resolve_area_prior

    def measure(path, factor):
        return 1000.0 / factor, 3000.0 * factor

    def config_file(prior):
        config = {"stimulus": {"recording": "cell.abf"}, "prior": prior}
        (tmp_path / "a.yaml").write_text(yaml.safe_dump(config))
        return config, [tmp_path / "a.yaml"]

    config, files = config_file({"area": {"from_recording": 2}})
    line = resolve_area_prior(config, files, measure)
    assert config["prior"]["area"] == {"low": 500.0, "high": 6000.0, "scale": "log"}
    assert line.startswith("prior: area log-uniform on [500, 6000] µm², from the passive card "
                           "of cell.abf")
    assert resolve_area_prior(config, files, measure) is None  # already resolved
    for prior, message in (({"gNa": {"from_recording": 2}}, "a.yaml: config key prior/gNa/"
                            "from_recording: only the area's prior"),
                           ({"area": {"from_recording": 0.5}}, "a.yaml: config key prior/area/"
                            "from_recording: the margin factor must be a number of at least 1")):
        with pytest.raises(ConfigError, match=message):
            resolve_area_prior(*config_file(prior), measure)
