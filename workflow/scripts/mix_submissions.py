"""The blend of a test set's member submissions (probability tables), as its OOF blend fitted it: the
weights or members' thresholds of results/{experiment}scores/mix.json, taken by member name (a predict
set's blend has no extras: its weights are the others', renormalised)."""

from foldwise import FoldwiseError, artifacts, configs, ensemble

with artifacts.script_log(snakemake.log[0]):
    params, inputs = snakemake.params, snakemake.input
    paths = [*inputs.submissions, *inputs.extra]
    tables = [ensemble.read_member(path, params.id_column, name) for path, name in zip(paths, params.members)]
    fitted = artifacts.read_json(inputs.score[0]) if inputs.score else {}  # fit or or: what the OOF blend fitted
    if params.weights == "fit":
        weight_of = dict(zip(fitted["members"], fitted["weights"]))
    else:
        weights = configs.member_weights(params.weights, params.weighed)
        weight_of = dict(zip(params.weighed, weights)) if weights else None
    weights = [weight_of[name] for name in params.members] if weight_of else None
    if weights is not None and not any(weights):
        extras = params.weighed[len(params.members) :]
        raise FoldwiseError(f"ensemble.weights weigh only the extras {extras}, which a predict set's blend leaves out")
    cuts = [dict(zip(fitted["members"], fitted["cuts"]))[name] for name in params.members] if "cuts" in fitted else None
    mixed = ensemble.mix(tables, params.id_column, params.method, weights, cuts, params.members)
    artifacts.write_csv(mixed, snakemake.output.submission)
