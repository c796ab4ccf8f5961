"""Near-duplicate pairs between external and train/test samples; the external rows kept."""

import pandas as pd

from foldwise import artifacts, dedup

with artifacts.script_log(snakemake.log[0]) as log:
    hashes = pd.concat([artifacts.read_table(path) for path in snakemake.input.hashes], ignore_index=True)
    pairs = dedup.find_duplicates(hashes, threshold=snakemake.params.threshold)
    kept = dedup.kept_external(hashes, pairs)
    log.info(
        "threshold %d: %d pair(s), %d of %d external sample(s) duplicated, %d kept",
        snakemake.params.threshold,
        len(pairs),
        pairs.external_id.nunique(),
        int((hashes.split == "external").sum()),
        len(kept),
    )
    artifacts.write_csv(pairs, snakemake.output.duplicates)
    artifacts.write_table(kept, snakemake.output.kept)
