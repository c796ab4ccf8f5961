"""Identities: the worst out-of-fold queries of one stage, each beside the nearest gallery images of its
top individuals (and of its truth), found with its fold model's embeddings in that fold's gallery."""

from foldwise import artifacts, cache, manifest, plots

with artifacts.script_log(snakemake.log[0]) as log:
    table = artifacts.read_table(snakemake.input.manifest)
    oof = artifacts.read_table(snakemake.input.oof)
    worst = plots.worst_queries(oof, snakemake.params.limit)
    log.info("%d worst of %d OOF queries", len(worst), oof.id.nunique())
    kept = artifacts.read_table(snakemake.input.external_kept).id if snakemake.input.external_kept else []
    # embeddings of every training-side row by fold f's model, only for the folds shown
    embeddings = {f: artifacts.read_table(snakemake.input.embeddings[f]) for f in set(worst.fold)}
    folds = artifacts.read_table(snakemake.input.folds)
    shown = snakemake.params.shown
    matches = plots.gallery_matches(worst, oof, embeddings, folds, table.set_index("id").identity, kept, shown)
    log.info(
        "recomputed against OOF similarities: max difference %.2g", (matches.similarity - matches.listed).abs().max()
    )
    images, index = cache.load(snakemake.input.images[0]), artifacts.read_table(snakemake.input.index[0])
    channels = manifest.channels(table)

    def image_of(sample_id):
        return plots.to_rgb(plots.pick(images, index, [sample_id])[0], channels)

    threshold = artifacts.read_json(snakemake.input.score)["threshold"]
    cells = plots.worst_query_cells(worst, matches, image_of, threshold, shown)
    title = f"{snakemake.wildcards.stage}: worst out-of-fold queries and their nearest gallery images"
    plots.save_figure(plots.image_grid(cells, shown + 2, title), snakemake.output.gallery)
