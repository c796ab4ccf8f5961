# Test-time-augmented inference of every fold model on the test set.


rule predict_fold:
    input:
        model=rules.train_fold.output.model,
        images=expand(rules.cache_images.output.images, size=SIZE),
        index=expand(rules.cache_images.output.index, size=SIZE),
        external_kept=kept_external,
    output:
        predictions="results/predictions/{stage}/fold{fold}.parquet",
    log:
        "results/logs/predict_fold/{stage}/fold{fold}.log",
    benchmark:
        "results/benchmarks/predict_fold/{stage}/fold{fold}.tsv"
    params:
        predict=config["predict"],
        seed=config["seed"],
        lock_dir=config["devices"]["lock_dir"],
        code=code_hash("predict", "tta", "models", "devices", "cache"),
    threads: config["train"]["threads"]
    resources:
        gpu=1,
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/predict_fold.py"
