# Sequential inference: paths and input functions of rules/sequential.smk.
from mfnpe.plan import sequential as sequential_runs

SEQ_THETA = "results/sequential/{recording}/{seq_method}/seed-{seed}/round-{round}/theta/shard-{shard}.h5"
SEQ_SIMS = "results/sequential/{recording}/{seq_method}/seed-{seed}/round-{round}/sims/shard-{shard}.h5"
SEQ_MEMBER = "results/sequential/{recording}/{seq_method}/seed-{seed}/round-{round}/member-{member}.pt"


def chain_of(wildcards):
    return sequential_runs.chain_settings(
        config, wildcards.recording, wildcards.seq_method, int(wildcards.seed)
    )


def chain_path(pattern, wildcards, **fields):
    """``pattern`` for the chain the wildcards name, with ``fields`` (round, shard...)."""
    return pattern.format(
        recording=wildcards.recording,
        seq_method=wildcards.seq_method,
        seed=wildcards.seed,
        **fields,
    )


def pretrained_model(seed):
    return run_path(MODEL, sequential_runs.pretrained_run(config, seed))


def proposal_start(wildcards):
    """Networks a round's proposal truncates with: the previous round's members, or the
    pretrained network before round 1 of an MF method (TSNPE's round 1: the prior)."""
    round_ = int(wildcards.round)
    if round_ > 1:
        members = sequential_runs.members(config, wildcards.seq_method)
        return [
            chain_path(SEQ_MEMBER, wildcards, round=round_ - 1, member=e)
            for e in range(members)
        ]
    if sequential_runs.PRETRAINED[wildcards.seq_method]:
        return [pretrained_model(wildcards.seed)]
    return []


def train_start(wildcards):
    """The network a member continues: itself after the previous round, the pretrained
    one before round 1 (MF methods) or none (TSNPE's round 1)."""
    round_ = int(wildcards.round)
    if round_ > 1:
        return [
            chain_path(SEQ_MEMBER, wildcards, round=round_ - 1, member=wildcards.member)
        ]
    if sequential_runs.PRETRAINED[wildcards.seq_method]:
        return [pretrained_model(wildcards.seed)]
    return []


def rounds_so_far(wildcards):
    """(round, shard) of every simulation shard of rounds 1..round."""
    return [
        (r, k)
        for r in range(1, int(wildcards.round) + 1)
        for k in range(sequential_runs.shards_per_round(config))
    ]


def sequential_models(wildcards):
    """Every member after every round of the recording's chains, in the order of
    ``sequential_runs.posterior_runs``."""
    return [
        SEQ_MEMBER.format(
            recording=wildcards.recording,
            seq_method=run["method"],
            seed=run["seed"],
            round=run["round"],
            member=e,
        )
        for run in sequential_runs.posterior_runs(config, wildcards.recording)
        for e in range(sequential_runs.members(config, run["method"]))
    ]
