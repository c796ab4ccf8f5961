# Identities (Happywhale 2022): the fold models embed every image (rule predict_fold, on the
# "train" split for the gallery and the out-of-fold queries, on a test set for its queries), a
# faiss kNN ranks the individuals per query, new_individual goes before the first one below a
# threshold fitted out of fold, and the second stage retrains with confident test predictions as
# labels. Where a classification rule's file stands in the contract (scores, OOF, submissions),
# the identity rule of the same name writes it; the other task's twin is not defined.

if IDENTITY:

    # table steps on the submitting host, as the classification twins
    localrules:
        rank_test,
        make_pseudo_labels,

    rule collect_oof:
        input:
            # the pseudo stage's scores tell how many test images it took
            unpack(
                lambda wildcards: (
                    {"pseudo": "results/scores/pseudo_labels.json"} if wildcards.stage == "pseudo" else {}
                )
            ),
            embeddings=lambda wildcards: expand(
                rules.predict_fold.output.predictions, experiment="", split="train", stage=wildcards.stage, fold=FOLDS
            ),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            folds=rules.split_folds.output.folds,
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
            retrieval=config["retrieval"],
            select=config["train"]["select"],
            code=code_hash("retrieval", "metrics", "scores", "distill"),
        script:
            "../scripts/rank_oof.py"

    rule rank_test:
        input:
            embeddings=lambda wildcards: expand(
                rules.predict_fold.output.predictions,
                experiment="",
                split=wildcards.split,
                stage=wildcards.stage,
                fold=FOLDS,
            ),
            gallery=lambda wildcards: expand(
                rules.predict_fold.output.predictions, experiment="", split="train", stage=wildcards.stage, fold=FOLDS
            ),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            external_kept=kept_external,
        output:
            ranks="results/ranks/{split}/{stage}.parquet",
        log:
            "results/logs/rank_test/{split}/{stage}.log",
        benchmark:
            "results/benchmarks/rank_test/{split}/{stage}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            retrieval=config["retrieval"],
            code=code_hash("retrieval", "metrics"),
        script:
            "../scripts/rank_test.py"

    rule make_pseudo_labels:
        input:
            ranks=filled(rules.rank_test.output.ranks, split="test", stage="base"),
            oof=filled(rules.collect_oof.output.oof, stage="base"),
        output:
            labels="results/pseudo_labels.parquet",
            summary="results/scores/pseudo_labels.json",
        log:
            "results/logs/make_pseudo_labels.log",
        benchmark:
            "results/benchmarks/make_pseudo_labels.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            pseudo=config["pseudo"],
            code=code_hash("retrieval", "metrics"),
        script:
            "../scripts/make_pseudo_labels.py"

    rule write_submission:
        input:
            ranks=lambda wildcards: expand(
                rules.rank_test.output.ranks, split=test_split(wildcards), stage=STAGE_OF[wildcards.suffix]
            ),
            score=lambda wildcards: filled(rules.collect_oof.output.score, stage=STAGE_OF[wildcards.suffix]),
            test=lambda wildcards: test_set(test_split(wildcards))["test"],
        output:
            submission="results/{setdir}submission{suffix}.csv",
        log:
            "results/logs/write_submission/{setdir}submission{suffix}.log",
        benchmark:
            "results/benchmarks/write_submission/{setdir}submission{suffix}.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            code=code_hash("retrieval", "metrics"),
        script:
            "../scripts/write_identity_submission.py"

    # the mix: each query's similarity to each individual, averaged over both stages
    rule mix_oof:
        input:
            oof=expand(rules.collect_oof.output.oof, stage=STAGES),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
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
            retrieval=config["retrieval"],
            select=config["train"]["select"],
            code=code_hash("retrieval", "metrics", "distill"),
        script:
            "../scripts/mix_ranks.py"

    rule mix_submissions:
        input:
            ranks=lambda wildcards: expand(rules.rank_test.output.ranks, split=test_split(wildcards), stage=STAGES),
            score=rules.mix_oof.output.score,
            test=lambda wildcards: test_set(test_split(wildcards))["test"],
        output:
            submission="results/{setdir}submission_mix.csv",
        log:
            "results/logs/mix_submissions/{setdir}submission_mix.log",
        benchmark:
            "results/benchmarks/mix_submissions/{setdir}submission_mix.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            code=code_hash("retrieval", "metrics"),
        script:
            "../scripts/write_identity_submission.py"

    # what the embeddings are worth: new_individual first for every image, and a kNN on raw pixels
    # of the cached crops, on the same folds and gallery
    rule score_baselines:
        input:
            images=expand(rules.cache_images.output.images, size=SIZE, split="train"),
            index=expand(rules.cache_images.output.index, size=SIZE, split="train"),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            folds=rules.split_folds.output.folds,
            external_kept=kept_external,
        output:
            score="results/scores/baselines.json",
        log:
            "results/logs/score_baselines.log",
        benchmark:
            "results/benchmarks/score_baselines.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            retrieval=config["retrieval"],
            code=code_hash("retrieval", "metrics"),
        script:
            "../scripts/score_baselines.py"
