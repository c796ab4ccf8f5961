"""A test set's retrieval by one stage: every fold model's kNN over the whole gallery (train plus
kept external rows), the folds' similarities averaged."""

from foldwise import artifacts, retrieval

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    kept = artifacts.read_table(snakemake.input.external_kept).id if snakemake.input.external_kept else []
    gallery_ids = [*table.id[table.split == "train"], *kept]
    ranked = retrieval.test_ranking(
        [artifacts.read_table(path) for path in snakemake.input.embeddings],
        [artifacts.read_table(path) for path in snakemake.input.gallery],
        table.set_index("id").identity,
        gallery_ids,
        snakemake.params.retrieval["neighbours"],
    )
    log.info("%d test images ranked against %d gallery images", ranked.id.nunique(), len(gallery_ids))
    artifacts.write_table(ranked, snakemake.output.ranks)
