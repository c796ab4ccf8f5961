"""Out-of-fold retrieval of one stage: each fold's validation images against the gallery its model
trained on; the new_individual threshold fitted on them, and the stage's MAP@5."""

import pandas as pd

from foldwise import artifacts, distill, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    identities = table.set_index("id").identity
    kept = artifacts.read_table(snakemake.input.external_kept).id if snakemake.input.external_kept else []
    embeddings = [artifacts.read_table(path) for path in snakemake.input.embeddings]
    settings = snakemake.params.retrieval
    ranked, truth = retrieval.oof_ranking(
        embeddings, identities, artifacts.read_table(snakemake.input.folds), kept, settings["neighbours"]
    )
    stage = snakemake.wildcards.stage
    score = {
        **retrieval.score(ranked, truth, settings["threshold"]),
        **distill.cv_caveat(stage, select=snakemake.params.select),
    }
    if snakemake.input.get("pseudo"):
        score["pseudo_labels"] = artifacts.read_json(snakemake.input.pseudo)
    log.info(
        "%s: OOF MAP@5 %.4f (folds %s), threshold %.4f, top-1 on known individuals %.4f, %.0f%% new",
        *(stage, score["cv"], [round(f, 4) for f in score["folds"]], score["threshold"]),
        *(score["top1_known"], 100 * score["new_share"]),
    )
    truth_table = pd.DataFrame({"id": truth.index, "truth": truth.to_numpy()})
    artifacts.write_table(ranked.merge(truth_table, on="id"), snakemake.output.oof)
    artifacts.write_json(score, snakemake.output.score)
