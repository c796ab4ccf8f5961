"""Generate the embedded demo dataset (Plant Pathology 2020 layout) from the config's seed."""

from pathlib import Path

from foldwise import artifacts, demo

with artifacts.script_log(snakemake.log[0]) as log:
    settings = dict(snakemake.params.demo, image_size=tuple(snakemake.params.demo["image_size"]))
    spec = demo.DemoSpec(**settings, seed=snakemake.params.seed)
    log.info("generating the demo dataset: %s", spec)
    demo.generate(Path(snakemake.output.train).parent, spec)
