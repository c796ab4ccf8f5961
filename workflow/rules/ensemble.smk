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
        score="results/scores/mix.json",
    log:
        "results/logs/mix_submissions.log",
    benchmark:
        "results/benchmarks/mix_submissions.tsv"
    params:
        id_column=DATASET["id_column"],
        ensemble=config["ensemble"],
        metric=config["train"]["metric"],
        code=code_hash("ensemble", "metrics", "scores"),
    conda:
        "../../envs/foldwise.yaml"
    script:
        "../scripts/mix_submissions.py"
