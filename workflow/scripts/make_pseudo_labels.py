"""Pseudo-labels: the test images whose top-1 known individual is similar enough join training as it;
the threshold given, or learnt from the base OOF (the lowest similarity whose top-1 is right often enough)."""

from foldwise import artifacts, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    ranks, oof, settings = (
        artifacts.read_table(snakemake.input.ranks),
        artifacts.read_table(snakemake.input.oof),
        snakemake.params.pseudo,
    )
    threshold = settings["threshold"]
    if threshold is None:
        truth = oof.drop_duplicates("id").set_index("id").truth
        threshold = retrieval.confident_threshold(oof.drop(columns="truth"), truth, settings["precision"])
    labels = retrieval.pseudo_labels(ranks, threshold).rename(columns={"individual": "identity"})
    summary = {"threshold": threshold, "taken": len(labels), "share": len(labels) / ranks.id.nunique()}
    log.info("pseudo-labels: %d of %d test images at similarity >= %.4f", len(labels), ranks.id.nunique(), threshold)
    artifacts.write_table(labels, snakemake.output.labels)
    artifacts.write_json(summary, snakemake.output.summary)
