"""HPA's label replacement: out-of-fold macro F1 against the similarity threshold, and replaced test
samples beside the nearest samples whose labels they took."""

import pandas as pd

from foldwise import artifacts, cache, manifest, plots

with artifacts.script_log(snakemake.log[0]) as log:
    score, test = artifacts.read_json(snakemake.input.score), artifacts.read_table(snakemake.input.neighbours)
    figure = plots.replacement_curve(score, test.similarity.to_numpy(), "label replacement: macro F1 and threshold")
    plots.save_figure(figure, snakemake.output.curve)
    id_column = snakemake.params.id_column
    classifier = pd.read_csv(snakemake.input.labels, dtype=str, keep_default_na=False).set_index(id_column)
    examples = plots.replaced_examples(test, classifier.Predicted, score["threshold"], snakemake.params.limit)
    replaced = int((test.similarity >= score["threshold"]).sum())
    log.info("%d of %d test samples replaced; %d shown", replaced, len(test), len(examples))
    channels = manifest.channels(artifacts.read_table(snakemake.input.manifest))
    inputs = zip(snakemake.input.images, snakemake.input.index)
    caches = [(cache.load(images), artifacts.read_table(index)) for images, index in inputs]
    cells = plots.replaced_cells(examples, plots.image_lookup(caches, channels))
    title = "replaced test samples (classifier's labels) beside their nearest samples (labels taken)"
    plots.save_figure(plots.image_grid(cells, 4, title), snakemake.output.gallery)
