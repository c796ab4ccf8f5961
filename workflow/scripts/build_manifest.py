"""Validate one side of the dataset (headers read over the rule's threads): the train and external
rows, or a test set's rows against the training side; index every sample."""

from foldwise import artifacts, boxes, manifest

with artifacts.script_log(snakemake.log[0]):
    spec = manifest.Dataset(**snakemake.params.dataset)
    options = dict(
        drop_bad_rows=snakemake.params.drop_bad_rows,
        convert_channels=snakemake.params.convert_channels,
        threads=snakemake.threads,
    )
    if snakemake.wildcards.split == "train":
        table = manifest.build_train_side(spec, **options)
    else:
        train_side = artifacts.read_table(snakemake.input.train_side)
        table = manifest.build_test_side(spec, train_side, **options)
        if snakemake.input.get("boxes"):
            known = set(train_side.id) | set(table.id)
            boxes.check_known(boxes.read(snakemake.input.boxes, spec.id_column), known, snakemake.input.boxes)
    artifacts.write_table(table, snakemake.output.manifest)
