# Fold assignment of every training row.


rule split_folds:
    input:
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        duplicates=train_duplicates,
    output:
        folds="results/data/folds.parquet",
    log:
        "results/logs/split_folds.log",
    benchmark:
        "results/benchmarks/split_folds.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        k=config["folds"]["k"],
        seed=config["seed"],
        task=DATASET["task"],
        new_share=config["folds"]["new_share"],
        code=code_hash("folds", "manifest"),
    script:
        "../scripts/split_folds.py"
