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
        unpack(xp_cache),
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        stats=rules.compute_stats.output.stats,
        # a plain path, not an input function: a function's input counts as updated when the duplicates
        # checkpoint reruns, even where the folds stayed the same (the groups' folds: training_inputs)
        folds=rules.split_folds.output.folds,
    output:
        model="results/{experiment}models/{stage}/fold{fold}/model.pt",
        history="results/{experiment}models/{stage}/fold{fold}/history.csv",
    log:
        "results/{experiment}logs/train_fold/{stage}/fold{fold}.log",
    benchmark:
        "results/{experiment}benchmarks/train_fold/{stage}/fold{fold}.tsv"
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
        checkpoint="results/{experiment}checkpoints/{stage}/fold{fold}/last.pt",
        code=code_hash("train", "models", "losses", "augment", "predict", "tta", "metrics", "devices", "cache"),
    script:
        "../scripts/train_fold.py"


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule collect_oof:
        input:
            oof=lambda wildcards: expand(
                rules.predict_oof.output.oof, experiment=wildcards.experiment, stage=wildcards.stage, fold=FOLDS
            ),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            external_kept=kept_external,
        output:
            oof="results/{experiment}oof/{stage}.parquet",
            score="results/{experiment}scores/{stage}.json",
        log:
            "results/{experiment}logs/collect_oof/{stage}.log",
        benchmark:
            "results/{experiment}benchmarks/collect_oof/{stage}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            metric=lambda wildcards: xp(wildcards)["train"]["metric"],
            task=DATASET["task"],
            teachers=lambda wildcards: xp(wildcards)["distill"]["teachers"],
            select=lambda wildcards: xp(wildcards)["train"]["select"],
            code=code_hash("metrics", "scores", "distill"),
        script:
            "../scripts/collect_oof.py"


rule make_soft_labels:
    input:
        oof=["results/{experiment}oof/base.parquet"],  # rule collect_oof; a path: for identities that rule comes later
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        external_kept=kept_external,
    output:
        labels="results/{experiment}soft_labels.parquet",
    log:
        "results/{experiment}logs/make_soft_labels.log",
    benchmark:
        "results/{experiment}benchmarks/make_soft_labels.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        alpha=lambda wildcards: xp(wildcards)["distill"]["alpha"],
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
        labels="results/{experiment}soft_labels/fold{fold}.parquet",
    log:
        "results/{experiment}logs/make_nested_soft_labels/fold{fold}.log",
    benchmark:
        "results/{experiment}benchmarks/make_nested_soft_labels/fold{fold}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        alpha=lambda wildcards: xp(wildcards)["distill"]["alpha"],
        code=code_hash("distill", "manifest"),
    script:
        "../scripts/make_soft_labels.py"
