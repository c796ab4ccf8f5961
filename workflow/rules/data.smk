# Data stages: demo generation, manifest, perceptual hashes, dedup of external data,
# the decoded image cache and its channel statistics.
# Manifest, hashes and cache are per split: {split} "train" holds the train and external rows,
# "test" the dataset's test rows, and a predict set's name its rows; so a new test set rebuilds
# only its own split, and training reads only the "train" artifacts.


rule make_demo:
    output:
        **demo_outputs(),
    log:
        "results/logs/make_demo.log",
    benchmark:
        "results/benchmarks/make_demo.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        demo=config["demo"],
        seed=config["seed"],
        code=code_hash("demo"),
    script:
        "../scripts/make_demo.py"


rule build_manifest:
    input:
        unpack(manifest_inputs),
    output:
        manifest="results/data/manifest/{split}.parquet",
    log:
        "results/logs/build_manifest/{split}.log",
    benchmark:
        "results/benchmarks/build_manifest/{split}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["threads"]
    params:
        dataset=manifest_spec,
        drop_bad_rows=config["manifest"]["drop_bad_rows"],
        convert_channels=config["manifest"]["convert_channels"],
        code=code_hash("manifest", "images"),
    script:
        "../scripts/build_manifest.py"


rule hash_images:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        hashes="results/data/hashes/{split}.parquet",
    log:
        "results/logs/hash_images/{split}.log",
    benchmark:
        "results/benchmarks/hash_images/{split}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["threads"]
    params:
        code=code_hash("phash", "images", "manifest"),
    script:
        "../scripts/hash_images.py"


# external rows against the train rows and the dataset's test rows (not the predict sets')
checkpoint dedup_external:
    input:
        hashes=expand(rules.hash_images.output.hashes, split=["train", "test"]),
    output:
        duplicates="results/data/duplicates.csv",
        kept="results/data/external_kept.parquet",
    log:
        "results/logs/dedup_external.log",
    benchmark:
        "results/benchmarks/dedup_external.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        threshold=config["dedup"]["threshold"],
        code=code_hash("dedup", "phash"),
    script:
        "../scripts/dedup_external.py"


# near-duplicates among the training rows (they share a fold): the training side only, so that a
# new test set leaves them, and the folds, alone
checkpoint find_train_duplicates:
    input:
        hashes=filled(rules.hash_images.output.hashes, split="train"),
    output:
        duplicates="results/data/train_duplicates.parquet",
    log:
        "results/logs/find_train_duplicates.log",
    benchmark:
        "results/benchmarks/find_train_duplicates.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        threshold=config["dedup"]["threshold"],
        code=code_hash("dedup", "phash"),
    script:
        "../scripts/find_train_duplicates.py"


rule cache_images:
    input:
        unpack(boxes_input),
        manifest=rules.build_manifest.output.manifest,
    output:
        images="results/cache/{size}/{split}/images.npy",
        index="results/cache/{size}/{split}/index.parquet",
    log:
        "results/logs/cache_images/{size}/{split}.log",
    benchmark:
        "results/benchmarks/cache_images/{size}/{split}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["threads"]
    params:
        transpose_portrait=config["cache"]["transpose_portrait"],
        resize=config["cache"]["resize"],
        box_margin=config["cache"]["box_margin"],
        id_column=DATASET["id_column"],
        code=code_hash("cache", "images", "manifest", "boxes"),
    script:
        "../scripts/cache_images.py"


rule compute_stats:
    input:
        unpack(stats_inputs),
    output:
        stats="results/data/stats.json",
    log:
        "results/logs/compute_stats.log",
    benchmark:
        "results/benchmarks/compute_stats.tsv"
    conda:
        "../../envs/foldwise.yaml"
    resources:
        # measured ~370 MB: the interpreter (~180 MB) and three 64 MB blocks of stats.CHUNK_BYTES,
        # whatever the cache size (its memmapped pages are clean and reclaimable)
        mem_mb=1000,
    params:
        over=config["stats"]["over"],
        code=code_hash("stats", "cache"),
    script:
        "../scripts/compute_stats.py"
