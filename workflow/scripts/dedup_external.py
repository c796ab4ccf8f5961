"""Near-duplicate pairs between external and train/test samples; the external rows kept."""

from foldwise import artifacts, dedup

with artifacts.script_log(snakemake.log[0]) as log:
    hashes = artifacts.read_table(snakemake.input.hashes)
    pairs = dedup.find_duplicates(hashes, threshold=snakemake.params.threshold)
    kept = dedup.kept_external(hashes, pairs)
    log.info("threshold %d: %d pair(s), %d of %d external sample(s) duplicated, %d kept", snakemake.params.threshold,
             len(pairs), pairs.external_id.nunique(), int((hashes.split == "external").sum()), len(kept))
    artifacts.write_csv(pairs, snakemake.output.duplicates)
    artifacts.write_table(kept, snakemake.output.kept)
