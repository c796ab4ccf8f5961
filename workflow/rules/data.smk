# Data stages: demo generation, manifest, perceptual hashes, dedup of external data,
# the decoded image cache and its channel statistics.


rule make_demo:
    output:
        train="resources/demo/train.csv",
        test="resources/demo/test.csv",
        external="resources/demo/external.csv",
        planted="resources/demo/external_duplicates.csv",
        images=directory("resources/demo/images"),
    log:
        "results/logs/make_demo.log",
    benchmark:
        "results/benchmarks/make_demo.tsv"
    params:
        demo=config["demo"],
        seed=config["seed"],
        code=code_hash("demo"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/make_demo.py"


rule build_manifest:
    input:
        unpack(dataset_csvs),
    output:
        manifest="results/data/manifest.parquet",
    log:
        "results/logs/build_manifest.log",
    benchmark:
        "results/benchmarks/build_manifest.tsv"
    params:
        dataset=DATASET,
        drop_bad_rows=config["manifest"]["drop_bad_rows"],
        code=code_hash("manifest", "images"),
    threads: config["threads"]
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/build_manifest.py"


rule hash_images:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        hashes="results/data/hashes.parquet",
    log:
        "results/logs/hash_images.log",
    benchmark:
        "results/benchmarks/hash_images.tsv"
    params:
        code=code_hash("phash", "images", "manifest"),
    threads: config["threads"]
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/hash_images.py"


checkpoint dedup_external:
    input:
        hashes=rules.hash_images.output.hashes,
    output:
        duplicates="results/data/duplicates.csv",
        kept="results/data/external_kept.parquet",
        train_duplicates="results/data/train_duplicates.parquet",
    log:
        "results/logs/dedup_external.log",
    benchmark:
        "results/benchmarks/dedup_external.tsv"
    params:
        threshold=config["dedup"]["threshold"],
        code=code_hash("dedup", "phash"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/dedup_external.py"


rule cache_images:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        images="results/cache/{size}/images.npy",
        index="results/cache/{size}/index.parquet",
    log:
        "results/logs/cache_images/{size}.log",
    benchmark:
        "results/benchmarks/cache_images/{size}.tsv"
    params:
        transpose_portrait=config["cache"]["transpose_portrait"],
        code=code_hash("cache", "images", "manifest"),
    threads: config["threads"]
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/cache_images.py"


rule compute_stats:
    input:
        images=expand(rules.cache_images.output.images, size=SIZE),
        index=expand(rules.cache_images.output.index, size=SIZE),
    output:
        stats="results/data/stats.json",
    log:
        "results/logs/compute_stats.log",
    benchmark:
        "results/benchmarks/compute_stats.tsv"
    params:
        code=code_hash("stats", "cache"),
    resources:
        # measured ~370 MB: the interpreter (~180 MB) and three 64 MB blocks of stats.CHUNK_BYTES,
        # whatever the cache size (its memmapped pages are clean and reclaimable)
        mem_mb=1000,
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/compute_stats.py"
