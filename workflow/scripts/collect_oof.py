"""Gather the out-of-fold predictions of one stage and score them against the hard labels."""

import pandas as pd

from foldwise import artifacts, distill, manifest, scores

with artifacts.script_log(snakemake.log[0]) as log:
    oof = pd.concat([artifacts.read_table(path) for path in snakemake.input.oof], ignore_index=True)
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    score = {
        **scores.cv_score(oof, hard, snakemake.params.metric, snakemake.params.task),
        **distill.cv_caveat(snakemake.wildcards.stage, snakemake.params.teachers, snakemake.params.select),
    }
    log.info(
        "%s: CV %s %.4f, per fold %s",
        snakemake.wildcards.stage,
        score["metric"],
        score["cv"],
        [round(f, 4) for f in score["folds"]],
    )
    artifacts.write_table(oof.sort_values("id", ignore_index=True), snakemake.output.oof)
    artifacts.write_json(score, snakemake.output.score)
