"""An identity submission in the test CSV's form (image,predictions): five ids per image, new_individual
inserted at the stage's OOF threshold; the mix averages the stages' similarities first."""

import pandas as pd

from foldwise import artifacts, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    ranks = [artifacts.read_table(path) for path in snakemake.input.ranks]
    ranked = retrieval.combine(ranks) if len(ranks) > 1 else ranks[0]
    threshold = artifacts.read_json(snakemake.input.score)["threshold"]
    test = pd.read_csv(snakemake.input.test, dtype=str, keep_default_na=False)
    submission = retrieval.submission(ranked, threshold, test, snakemake.params.id_column)
    new_first = submission.iloc[:, 1].str.startswith(retrieval.NEW).mean()
    log.info("%d images, new_individual first for %.1f%% (threshold %.4f)", len(submission), 100 * new_first, threshold)
    artifacts.write_csv(submission, snakemake.output.submission)
