"""Validate one side of the dataset (headers read over the rule's threads): the train and external
rows, or a test set's rows against the training side; index every sample."""

from foldwise import artifacts, manifest

with artifacts.script_log(snakemake.log[0]):
    spec = manifest.Dataset(**snakemake.params.dataset)
    options = dict(drop_bad_rows=snakemake.params.drop_bad_rows, threads=snakemake.threads)
    if snakemake.wildcards.split == "train":
        table = manifest.build_train_side(spec, **options)
    else:
        table = manifest.build_test_side(spec, artifacts.read_table(snakemake.input.train_side), **options)
    artifacts.write_table(table, snakemake.output.manifest)
