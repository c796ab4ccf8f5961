"""Decode every sample once (its detector box crop, where it has one), resize it into a uint8 memmap."""

from foldwise import artifacts, boxes, cache, manifest

with artifacts.script_log(snakemake.log[0]):
    table = artifacts.read_table(snakemake.input.manifest)
    size = tuple(int(s) for s in snakemake.wildcards.size.split("x"))
    cache.build(
        table,
        len(manifest.channels(table)),
        size,
        snakemake.output.images,
        snakemake.output.index,
        threads=snakemake.threads,
        transpose_portrait=snakemake.params.transpose_portrait,
        resize=snakemake.params.resize,
        boxes=boxes.read(snakemake.input.boxes, snakemake.params.id_column) if snakemake.input.get("boxes") else None,
        margin=snakemake.params.box_margin,
    )
