"""Perceptual hash (phash) of every channel of every sample, over the rule's threads."""

from foldwise import artifacts, manifest, phash

with artifacts.script_log(snakemake.log[0]):
    table = artifacts.read_table(snakemake.input.manifest)
    channels = manifest.channels(table)
    artifacts.write_table(phash.hash_manifest(table, channels, threads=snakemake.threads), snakemake.output.hashes)
