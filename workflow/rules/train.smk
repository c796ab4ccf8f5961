# Training: pretrained weights, base models per fold, their out-of-fold predictions and CV
# score, soft labels, and distilled models per fold trained on them.


# a local rule: the submitting host has internet, cluster nodes may not. No params.code: the
# file holds timm's published weights, and an edit of ours must not refetch them offline.
rule fetch_weights:
    output:
        weights="resources/weights/{model}.safetensors",
    log:
        "results/logs/fetch_weights/{model}.log",
    benchmark:
        "results/benchmarks/fetch_weights/{model}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/fetch_weights.py"


rule train_fold:
    input:
        unpack(training_inputs),
        unpack(pretrained_weights),
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        images=expand(rules.cache_images.output.images, size=SIZE, split="train"),
        index=expand(rules.cache_images.output.index, size=SIZE, split="train"),
        stats=rules.compute_stats.output.stats,
        # a plain path, not an input function: a function's input counts as updated when the duplicates
        # checkpoint reruns, even where the folds stayed the same (the groups' folds: training_inputs)
        folds=rules.split_folds.output.folds,
    output:
        model="results/models/{stage}/fold{fold}/model.pt",
        history="results/models/{stage}/fold{fold}/history.csv",
    log:
        "results/logs/train_fold/{stage}/fold{fold}.log",
    benchmark:
        "results/benchmarks/train_fold/{stage}/fold{fold}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=1,
    params:
        train=stage_recipe,
        seed=config["seed"],
        task=stage_task,
        lock_dir=config["devices"]["lock_dir"],
        # outside the outputs: Snakemake deletes those when a job fails
        checkpoint="results/checkpoints/{stage}/fold{fold}/last.pt",
        code=code_hash("train", "models", "losses", "augment", "predict", "tta", "metrics", "devices", "cache"),
    script:
        "../scripts/train_fold.py"


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule collect_oof:
        input:
            oof=lambda wildcards: expand(rules.predict_oof.output.oof, stage=wildcards.stage, fold=FOLDS),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            external_kept=kept_external,
        output:
            oof="results/oof/{stage}.parquet",
            score="results/scores/{stage}.json",
        log:
            "results/logs/collect_oof/{stage}.log",
        benchmark:
            "results/benchmarks/collect_oof/{stage}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            metric=config["train"]["metric"],
            task=DATASET["task"],
            teachers=config["distill"]["teachers"],
            select=config["train"]["select"],
            code=code_hash("metrics", "scores", "distill"),
        script:
            "../scripts/collect_oof.py"


rule make_soft_labels:
    input:
        oof=["results/oof/base.parquet"],  # rule collect_oof; a path: for identities that rule comes later (identity.smk)
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        external_kept=kept_external,
    output:
        labels="results/soft_labels.parquet",
    log:
        "results/logs/make_soft_labels.log",
    benchmark:
        "results/benchmarks/make_soft_labels.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        alpha=config["distill"]["alpha"],
        code=code_hash("distill", "manifest"),
    script:
        "../scripts/make_soft_labels.py"


# distill.teachers: nested. K(K-1) more models: each fold's distilled model learns from teachers
# that never saw its validation labels, so the distilled CV is not optimistic.
rule make_nested_soft_labels:
    input:
        oof=nested_teacher_oof,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        folds=rules.split_folds.output.folds,
        external_kept=kept_external,
    output:
        labels="results/soft_labels/fold{fold}.parquet",
    log:
        "results/logs/make_nested_soft_labels/fold{fold}.log",
    benchmark:
        "results/benchmarks/make_nested_soft_labels/fold{fold}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        alpha=config["distill"]["alpha"],
        code=code_hash("distill", "manifest"),
    script:
        "../scripts/make_soft_labels.py"
