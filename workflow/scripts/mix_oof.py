"""The blend of the members' out-of-fold predictions (an experiment's stages, or every experiment's and
the extras'), its out-of-fold CV score, and what the test's blend takes: fitted weights, thresholds."""

from foldwise import artifacts, configs, ensemble, manifest, scores

with artifacts.script_log(snakemake.log[0]) as log:
    params, inputs = snakemake.params, snakemake.input
    members, extras = params.members, [name for name, has_oof in params.extra.items() if has_oof]
    tables = [artifacts.read_table(path) for path in inputs.oof]
    for name, path in zip(extras, inputs.extra):
        extra = ensemble.read_member(path, params.id_column, f"ensemble.extra.{name}.oof")
        tables.append(extra.rename(columns={params.id_column: "id"}))
    rows, classes = tables[0][["id", "fold"]], [c for c in tables[0].columns if c not in ("id", "fold")]
    stack = ensemble.aligned(tables, "id", [*members, *extras])
    hard = manifest.label_table(artifacts.read_table(inputs.manifest), "train")
    truth = hard.set_index("id").loc[rows.id, classes].to_numpy()
    # extras without an OOF table weigh in on the test's blend only
    weights = configs.member_weights(params.weights, [*members, *params.extra])
    if isinstance(weights, list):
        weights = [w for w, name in zip(weights, [*members, *params.extra]) if name in members or name in extras]
    blended, state = ensemble.blend_oof(stack, truth, rows.fold.to_numpy(), params.method, weights, params.metric)
    mixed = rows.assign(**dict(zip(classes, blended.T)))
    score = {
        **scores.cv_score(mixed, hard, params.metric, params.task),
        "members": [*members, *extras],
        "method": params.method,
        **state,
        **scores.blend_caveat(dict(zip(members, map(artifacts.read_json, inputs.scores))), extras),
    }
    if len(extras) < len(params.extra):
        score["cv_leaves_out"] = [name for name in params.extra if name not in extras]
    log.info(
        "blend of %s (%s, weights %s): CV %s %.4f out of fold",
        *(score["members"], params.method, state.get("weights"), score["metric"], score["cv"]),
    )
    artifacts.write_table(mixed, snakemake.output.oof)
    artifacts.write_json(score, snakemake.output.score)
