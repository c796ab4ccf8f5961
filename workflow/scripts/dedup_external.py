"""Near-duplicate pairs between external and train/test samples, the external rows kept, and
near-duplicate pairs among the training rows (which split_folds keeps in one fold)."""

from foldwise import artifacts, dedup

with artifacts.script_log(snakemake.log[0]) as log:
    hashes = artifacts.read_table(snakemake.input.hashes)
    threshold = snakemake.params.threshold
    pairs = dedup.find_duplicates(hashes, threshold=threshold)
    kept = dedup.kept_external(hashes, pairs)
    train_pairs = dedup.train_duplicates(hashes, threshold=threshold)
    log.info("threshold %d: %d pair(s), %d of %d external sample(s) duplicated, %d kept; %d pair(s) of training rows",
             threshold, len(pairs), pairs.external_id.nunique(), int((hashes.split == "external").sum()), len(kept),
             len(train_pairs))
    artifacts.write_csv(pairs, snakemake.output.duplicates)
    artifacts.write_table(kept, snakemake.output.kept)
    artifacts.write_table(train_pairs, snakemake.output.train_duplicates)
