# Submissions of a test set (the dataset's, into results/, or a predict set's, into
# results/predict/{name}/): the fold mean of each stage, then the mix of both stages, each a
# probability table (results/probabilities/), then in the sample submission's form
# (submission.format). The same mix of the out-of-fold predictions gives the mix's CV score.


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule write_submission:
        input:
            predictions=lambda wildcards: expand(
                rules.predict_fold.output.predictions,
                split=test_split(wildcards),
                stage=STAGE_OF[wildcards.suffix],
                fold=FOLDS,
            ),
            external_kept=kept_external,
        output:
            submission="results/{setdir}probabilities/submission{suffix}.csv",
        log:
            "results/logs/write_submission/{setdir}submission{suffix}.log",
        benchmark:
            "results/benchmarks/write_submission/{setdir}submission{suffix}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            code=code_hash("ensemble"),
        script:
            "../scripts/write_submission.py"


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule mix_submissions:
        input:
            submissions=expand(rules.write_submission.output.submission, suffix=list(STAGE_OF), allow_missing=True),
            external_kept=kept_external,
        output:
            submission="results/{setdir}probabilities/submission_mix.csv",
        log:
            "results/logs/mix_submissions/{setdir}submission_mix.log",
        benchmark:
            "results/benchmarks/mix_submissions/{setdir}submission_mix.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            ensemble=config["ensemble"],
            code=code_hash("ensemble"),
        script:
            "../scripts/mix_submissions.py"

    rule format_submission:
        input:
            probabilities="results/{setdir}probabilities/submission{of}.csv",
            test=lambda wildcards: test_set(test_split(wildcards))["test"],
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            thresholds=lambda wildcards: (
                [rules.write_labels.output.thresholds] if DATASET["task"] == "multilabel" else []
            ),
        output:
            submission="results/{setdir}submission{of}.csv",
        log:
            "results/logs/format_submission/{setdir}submission{of}.log",
        benchmark:
            "results/benchmarks/format_submission/{setdir}submission{of}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            test_id_column=DATASET.get("test_id_column"),
            task=DATASET["task"],
            format=config["submission"]["format"],
            at_least_one=config["thresholds"]["at_least_one"],
            code=code_hash("submission", "manifest", "thresholds"),
        script:
            "../scripts/format_submission.py"


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule mix_oof:
        input:
            oof=expand(rules.collect_oof.output.oof, stage=STAGES),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            external_kept=kept_external,
        output:
            oof="results/oof/mix.parquet",
            score="results/scores/mix.json",
        log:
            "results/logs/mix_oof.log",
        benchmark:
            "results/benchmarks/mix_oof.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            ensemble=config["ensemble"],
            metric=config["train"]["metric"],
            task=DATASET["task"],
            teachers=config["distill"]["teachers"],
            select=config["train"]["select"],
            code=code_hash("ensemble", "metrics", "scores", "distill"),
        script:
            "../scripts/mix_oof.py"


rule write_labels:
    input:
        submission=filled(rules.mix_submissions.output.submission, setdir=""),
        oof=rules.mix_oof.output.oof,
        mix_score=rules.mix_oof.output.score,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        thresholds="results/thresholds.json",
        labels="results/submission_labels.csv",
    log:
        "results/logs/write_labels.log",
    benchmark:
        "results/benchmarks/write_labels.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        id_column=DATASET["id_column"],
        thresholds=config["thresholds"],
        code=code_hash("thresholds", "metrics", "manifest"),
    script:
        "../scripts/write_labels.py"
