"""Store a model's default pretrained weights once, through timm's hub (run on the submitting host)."""

from foldwise import artifacts, weights

with artifacts.script_log(snakemake.log[0]) as log:
    weights.fetch(snakemake.wildcards.model, snakemake.output.weights)
    log.info("%s: stored the default pretrained weights of %s", snakemake.output.weights, snakemake.wildcards.model)
