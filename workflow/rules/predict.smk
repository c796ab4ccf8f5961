# Test-time-augmented inference of every fold model: on a test set (the dataset's, "test", or a
# predict set; from the models and that set's cache only), and on its own validation rows (the
# out-of-fold predictions), the same way, so that what is fitted on the one fits the other.


rule predict_fold:
    input:
        unpack(lambda wildcards: xp_cache(wildcards, split=None)),
        model=rules.train_fold.output.model,
        external_kept=kept_external,
    output:
        predictions="results/{experiment}predictions/{split}/{stage}/fold{fold}.parquet",
    log:
        "results/{experiment}logs/predict_fold/{split}/{stage}/fold{fold}.log",
    benchmark:
        "results/{experiment}benchmarks/predict_fold/{split}/{stage}/fold{fold}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
    params:
        # batch_size cannot change a score: the scripts read it from the config, no rerun trigger
        predict=lambda wildcards: {k: v for k, v in xp(wildcards)["predict"].items() if k != "batch_size"},
        seed=config["seed"],
        lock_dir=config["devices"]["lock_dir"],
        code=code_hash("predict", "tta", "models", "devices", "cache"),
    script:
        "../scripts/predict_fold.py"


rule predict_oof:
    input:
        unpack(xp_cache),
        model=rules.train_fold.output.model,
        folds=rules.split_folds.output.folds,
        external_kept=kept_external,
    output:
        oof="results/{experiment}oof/{stage}/fold{fold}.parquet",
    log:
        "results/{experiment}logs/predict_oof/{stage}/fold{fold}.log",
    benchmark:
        "results/{experiment}benchmarks/predict_oof/{stage}/fold{fold}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
    params:
        # batch_size cannot change a score: the scripts read it from the config, no rerun trigger
        predict=lambda wildcards: {k: v for k, v in xp(wildcards)["predict"].items() if k != "batch_size"},
        seed=config["seed"],
        lock_dir=config["devices"]["lock_dir"],
        code=code_hash("predict", "tta", "models", "devices", "cache"),
    script:
        "../scripts/predict_oof.py"
