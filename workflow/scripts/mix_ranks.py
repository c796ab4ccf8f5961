"""The mix of both stages out of fold: each query's similarity to each individual averaged over the
base and pseudo stages, its threshold fitted and MAP@5 scored as a stage's."""

from foldwise import artifacts, distill, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    oofs = [artifacts.read_table(path) for path in snakemake.input.oof]
    keys = oofs[0].drop_duplicates("id")[["id", "fold", "truth"]]
    mixed = retrieval.combine([oof.drop(columns=["fold", "truth"]) for oof in oofs]).merge(keys, on="id")
    score = {
        **retrieval.score(mixed, keys.set_index("id").truth, snakemake.params.retrieval["threshold"]),
        **distill.cv_caveat("pseudo", select=snakemake.params.select),
    }
    log.info("mix: OOF MAP@5 %.4f, threshold %.4f", score["cv"], score["threshold"])
    artifacts.write_table(mixed, snakemake.output.oof)
    artifacts.write_json(score, snakemake.output.score)
