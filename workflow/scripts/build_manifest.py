"""Validate the dataset's CSVs and images (headers read over the rule's threads); index every sample."""

from foldwise import artifacts, manifest

with artifacts.script_log(snakemake.log[0]):
    spec = manifest.Dataset(**snakemake.params.dataset)
    table = manifest.build(spec, drop_bad_rows=snakemake.params.drop_bad_rows, threads=snakemake.threads)
    artifacts.write_table(table, snakemake.output.manifest)
