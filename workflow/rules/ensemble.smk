# Submissions of a test set (the dataset's, into results/, or a predict set's, into
# results/predict/{name}/): the fold mean of each stage, then the mix of both stages, each a
# probability table (results/probabilities/), then in the sample submission's form
# (submission.format). With experiments, each experiment's own under results/experiments/{name}/,
# and at the top the blend of every experiment's stages (and ensemble.extra). The same blend of the
# out-of-fold predictions gives its CV score, and fits what the test's blend weighs them by.


# classes (identity.smk holds the identity twin)
if not IDENTITY:

    rule write_submission:
        input:
            predictions=lambda wildcards: expand(
                rules.predict_fold.output.predictions,
                experiment=wildcards.experiment,
                split=test_split(wildcards),
                stage=STAGE_OF[wildcards.suffix],
                fold=FOLDS,
            ),
            external_kept=kept_external,
        output:
            submission="results/{setdir}{experiment}probabilities/submission{suffix}.csv",
        log:
            "results/{setdir}{experiment}logs/write_submission/submission{suffix}.log",
        benchmark:
            "results/{setdir}{experiment}benchmarks/write_submission/submission{suffix}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            code=code_hash("ensemble"),
        script:
            "../scripts/write_submission.py"

    rule mix_submissions:
        input:
            submissions=lambda wildcards: [
                filled(
                    rules.write_submission.output.submission,
                    setdir=wildcards.setdir,
                    experiment=folder,
                    suffix=SUFFIX[stage],
                )
                for folder, stage in blend_members(wildcards).values()
            ],
            extra=lambda wildcards: (
                [] if wildcards.setdir else [e["submission"] for e in blend_extras(wildcards).values()]
            ),
            # the blend's fitted weights or members' thresholds (ensemble.weights: fit, method: or): its OOF blend
            score=lambda wildcards: (
                [filled(rules.mix_oof.output.score, experiment=wildcards.experiment)] if BLEND_FITTED else []
            ),
            external_kept=kept_external,
        output:
            submission="results/{setdir}{experiment}probabilities/submission_mix.csv",
        log:
            "results/{setdir}{experiment}logs/mix_submissions/submission_mix.log",
        benchmark:
            "results/{setdir}{experiment}benchmarks/mix_submissions/submission_mix.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            members=lambda wildcards: [
                *blend_members(wildcards),
                *([] if wildcards.setdir else blend_extras(wildcards)),
            ],
            weighed=lambda wildcards: [*blend_members(wildcards), *blend_extras(wildcards)],  # all the weights name
            method=config["ensemble"]["method"],
            weights=blend_weights,
            code=code_hash("ensemble"),
        script:
            "../scripts/mix_submissions.py"

    rule format_submission:
        input:
            probabilities="results/{setdir}{experiment}probabilities/submission{of}.csv",
            test=lambda wildcards: test_set(test_split(wildcards))["test"],
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            thresholds=lambda wildcards: (
                [filled(rules.write_labels.output.thresholds, experiment=wildcards.experiment)]
                if DATASET["task"] == "multilabel"
                else []
            ),
        output:
            submission="results/{setdir}{experiment}submission{of}.csv",
        log:
            "results/{setdir}{experiment}logs/format_submission/submission{of}.log",
        benchmark:
            "results/{setdir}{experiment}benchmarks/format_submission/submission{of}.tsv"
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

    rule mix_oof:
        input:
            oof=lambda wildcards: [
                filled(rules.collect_oof.output.oof, experiment=folder, stage=stage)
                for folder, stage in blend_members(wildcards).values()
            ],
            scores=lambda wildcards: [
                filled(rules.collect_oof.output.score, experiment=folder, stage=stage)
                for folder, stage in blend_members(wildcards).values()
            ],
            extra=lambda wildcards: [extra["oof"] for extra in blend_extras(wildcards).values() if extra["oof"]],
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            external_kept=kept_external,
        output:
            oof="results/{experiment}oof/mix.parquet",
            score="results/{experiment}scores/mix.json",
        log:
            "results/{experiment}logs/mix_oof.log",
        benchmark:
            "results/{experiment}benchmarks/mix_oof.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            members=lambda wildcards: list(blend_members(wildcards)),
            extra=lambda wildcards: {name: bool(extra["oof"]) for name, extra in blend_extras(wildcards).items()},
            id_column=DATASET["id_column"],
            method=config["ensemble"]["method"],
            weights=blend_weights,
            metric=lambda wildcards: xp(wildcards)["train"]["metric"],
            task=DATASET["task"],
            code=code_hash("ensemble", "metrics", "scores", "thresholds"),
        script:
            "../scripts/mix_oof.py"


rule write_labels:
    input:
        submission=lambda wildcards: filled(
            rules.mix_submissions.output.submission, setdir="", experiment=wildcards.experiment
        ),
        oof=lambda wildcards: filled(rules.mix_oof.output.oof, experiment=wildcards.experiment),
        mix_score=lambda wildcards: filled(rules.mix_oof.output.score, experiment=wildcards.experiment),
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        thresholds="results/{experiment}thresholds.json",
        labels="results/{experiment}submission_labels.csv",
    log:
        "results/{experiment}logs/write_labels.log",
    benchmark:
        "results/{experiment}benchmarks/write_labels.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        id_column=DATASET["id_column"],
        # the OR of members' labels lies at 0.5 of its mix (foldwise.ensemble.at_threshold): no new fit
        thresholds={**config["thresholds"], **({"method": "or"} if config["ensemble"]["method"] == "or" else {})},
        code=code_hash("thresholds", "metrics", "manifest"),
    script:
        "../scripts/write_labels.py"
