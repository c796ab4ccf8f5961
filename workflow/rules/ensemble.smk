# Submissions: the fold mean of each stage, then the mix of both stages.


rule write_submission:
    input:
        predictions=lambda wildcards: expand(
            rules.predict_fold.output.predictions, stage=STAGE_OF[wildcards.suffix], fold=FOLDS
        ),
        external_kept=kept_external,
    output:
        submission="results/submission{suffix}.csv",
    log:
        "results/logs/write_submission/submission{suffix}.log",
    benchmark:
        "results/benchmarks/write_submission/submission{suffix}.tsv"
    params:
        id_column=DATASET["id_column"],
        code=code_hash("ensemble"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/write_submission.py"


rule mix_submissions:
    input:
        submissions=[SUBMISSION[stage] for stage in STAGES],
        oof=expand(rules.collect_oof.output.oof, stage=STAGES),
        manifest=rules.build_manifest.output.manifest,
        external_kept=kept_external,
    output:
        submission="results/submission_mix.csv",
        oof="results/oof/mix.parquet",
        score="results/scores/mix.json",
    log:
        "results/logs/mix_submissions.log",
    benchmark:
        "results/benchmarks/mix_submissions.tsv"
    params:
        id_column=DATASET["id_column"],
        ensemble=config["ensemble"],
        metric=config["train"]["metric"],
        teachers=config["distill"]["teachers"],
        code=code_hash("ensemble", "metrics", "scores", "distill"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/mix_submissions.py"


rule write_labels:
    input:
        submission=rules.mix_submissions.output.submission,
        oof=rules.mix_submissions.output.oof,
        manifest=rules.build_manifest.output.manifest,
    output:
        thresholds="results/thresholds.json",
        labels="results/submission_labels.csv",
    log:
        "results/logs/write_labels.log",
    benchmark:
        "results/benchmarks/write_labels.tsv"
    params:
        id_column=DATASET["id_column"],
        thresholds=config["thresholds"],
        code=code_hash("thresholds", "metrics", "manifest"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/write_labels.py"
