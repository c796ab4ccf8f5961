"""The same mix of the base and distilled out-of-fold predictions, and its CV score."""

from foldwise import artifacts, distill, ensemble, manifest, scores

with artifacts.script_log(snakemake.log[0]) as log:
    method, weights = snakemake.params.ensemble["method"], snakemake.params.ensemble["weights"]
    oofs = [artifacts.read_table(path) for path in snakemake.input.oof]
    mixed = ensemble.mix([oof.drop(columns="fold") for oof in oofs], "id", method, weights)
    mixed = mixed.merge(oofs[0][["id", "fold"]], on="id")
    artifacts.write_table(mixed, snakemake.output.oof)
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    score = {
        **scores.cv_score(mixed, hard, snakemake.params.metric, snakemake.params.task),
        **distill.cv_caveat("mix", snakemake.params.teachers, snakemake.params.select),
    }
    log.info("mix (%s): CV %s %.4f", method, score["metric"], score["cv"])
    artifacts.write_json(score, snakemake.output.score)
