# The report's plots (snakemake plots --report results/report.html): each an artifact of its
# own rule under results/plots/, so that a new report redraws only what changed. Grouped in
# the report by category (what) and subcategory (which stage). Identities (Happywhale) draw the
# retrieval plots (plot_identity_thresholds, plot_worst_queries) in place of ROC, confusion,
# F1 thresholds and Grad-CAM (report_plots chooses); HPA's label replacement adds its own two.

# what every plot job runs: foldwise.plots and the modules it imports
PLOT_CODE = ("plots", "thresholds", "retrieval", "metrics")


rule tabulate_scores:
    input:
        scores=list(scores_of_run().values()),
        baselines=[rules.score_baselines.output.score] if IDENTITY else [],
        thresholds=[top(rules.write_labels.output.thresholds)] if DATASET["task"] == "multilabel" else [],
    output:
        table=report("results/plots/scores.html", caption="../report/scores.rst", category="Scores"),
    log:
        "results/logs/tabulate_scores.log",
    benchmark:
        "results/benchmarks/tabulate_scores.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        names=list(scores_of_run()),
        code=code_hash(*PLOT_CODE),
    script:
        "../scripts/tabulate_scores.py"


rule plot_training_curves:
    input:
        histories=lambda wildcards: expand(
            rules.train_fold.output.history, experiment=wildcards.experiment, stage=wildcards.stage, fold=FOLDS
        ),
    output:
        curves=report(
            "results/{experiment}plots/{stage}/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            subcategory="{experiment}{stage}",
        ),
    log:
        "results/{experiment}logs/plot_training_curves/{stage}.log",
    benchmark:
        "results/{experiment}benchmarks/plot_training_curves/{stage}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        metric=lambda wildcards: xp(wildcards)["train"]["metric"],
        code=code_hash(*PLOT_CODE),
    script:
        "../scripts/plot_training_curves.py"


rule plot_roc:
    input:
        oof=oof_predictions,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        figure=report(
            "results/{experiment}plots/{oof}/roc.png",
            caption="../report/roc.rst",
            category="Out-of-fold",
            subcategory="{experiment}{oof}",
        ),
    log:
        "results/{experiment}logs/plot_roc/{oof}.log",
    benchmark:
        "results/{experiment}benchmarks/plot_roc/{oof}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        code=code_hash(*PLOT_CODE, "manifest"),
    script:
        "../scripts/plot_oof.py"


rule plot_confusion:
    input:
        oof=oof_predictions,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        figure=report(
            "results/{experiment}plots/{oof}/confusion.png",
            caption="../report/confusion.rst",
            category="Out-of-fold",
            subcategory="{experiment}{oof}",
        ),
    log:
        "results/{experiment}logs/plot_confusion/{oof}.log",
    benchmark:
        "results/{experiment}benchmarks/plot_confusion/{oof}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        code=code_hash(*PLOT_CODE, "manifest"),
    script:
        "../scripts/plot_oof.py"


rule plot_thresholds:
    input:
        oof=top(rules.mix_oof.output.oof),
        thresholds=top(rules.write_labels.output.thresholds),
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        figure=report(
            "results/plots/mix/f1_thresholds.png",
            caption="../report/f1_thresholds.rst",
            category="Out-of-fold",
            subcategory="mix",
        ),
    log:
        "results/logs/plot_thresholds.log",
    benchmark:
        "results/benchmarks/plot_thresholds.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        code=code_hash(*PLOT_CODE, "manifest"),
    script:
        "../scripts/plot_thresholds.py"


rule plot_worst_samples:
    input:
        unpack(xp_cache),
        oof=rules.collect_oof.output.oof,
        models=lambda wildcards: expand(
            rules.train_fold.output.model, experiment=wildcards.experiment, stage=wildcards.stage, fold=FOLDS
        ),
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
    output:
        gallery=report(
            "results/{experiment}plots/{stage}/worst_samples.png",
            caption="../report/worst_samples.rst",
            category="Worst samples (Grad-CAM)",
            subcategory="{experiment}{stage}",
        ),
    log:
        "results/{experiment}logs/plot_worst_samples/{stage}.log",
    benchmark:
        "results/{experiment}benchmarks/plot_worst_samples/{stage}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    threads: config["train"]["threads"]
    params:
        task=DATASET["task"],
        limit=config["report"]["worst_samples"],
        code=code_hash(*PLOT_CODE, "gradcam", "models", "predict", "manifest", "cache"),
    script:
        "../scripts/plot_worst_samples.py"


rule plot_identity_thresholds:
    input:
        oof=[*expand(rules.collect_oof.output.oof, stage=STAGES, experiment=""), top(rules.mix_oof.output.oof)],
        scores=[*expand(rules.collect_oof.output.score, stage=STAGES, experiment=""), top(rules.mix_oof.output.score)],
    output:
        figure=report(
            "results/plots/identity/map5_thresholds.png",
            caption="../report/map5_thresholds.rst",
            category="Out-of-fold",
            subcategory="new_individual threshold",
        ),
    log:
        "results/logs/plot_identity_thresholds.log",
    benchmark:
        "results/benchmarks/plot_identity_thresholds.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        code=code_hash(*PLOT_CODE),
    script:
        "../scripts/plot_identity_thresholds.py"


rule plot_worst_queries:
    input:
        oof=top(rules.collect_oof.output.oof),
        score=top(rules.collect_oof.output.score),
        embeddings=lambda wildcards: expand(
            rules.predict_fold.output.predictions, experiment="", split="train", stage=wildcards.stage, fold=FOLDS
        ),
        folds=rules.split_folds.output.folds,
        external_kept=kept_external,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        images=expand(rules.cache_images.output.images, size=SIZE, split="train"),
        index=expand(rules.cache_images.output.index, size=SIZE, split="train"),
    output:
        gallery=report(
            "results/plots/{stage}/worst_queries.png",
            caption="../report/worst_queries.rst",
            category="Worst queries",
            subcategory="{stage}",
        ),
    log:
        "results/logs/plot_worst_queries/{stage}.log",
    benchmark:
        "results/benchmarks/plot_worst_queries/{stage}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        limit=config["report"]["worst_samples"],
        shown=3,  # top individuals shown beside each query
        code=code_hash(*PLOT_CODE, "manifest", "cache"),
    script:
        "../scripts/plot_worst_queries.py"


if REPLACE_LABELS:

    rule plot_label_replacement:
        input:
            score=rules.replace_labels.output.score,
            neighbours=rules.find_neighbours.output.neighbours,
            labels=top(rules.write_labels.output.labels),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            images=expand(rules.cache_images.output.images, size=SIZE, split=["train", "test"]),
            index=expand(rules.cache_images.output.index, size=SIZE, split=["train", "test"]),
        output:
            curve=report(
                "results/plots/nn/f1_thresholds.png",
                caption="../report/replacement_f1.rst",
                category="Label replacement",
            ),
            gallery=report(
                "results/plots/nn/replaced_samples.png",
                caption="../report/replaced_samples.rst",
                category="Label replacement",
            ),
        log:
            "results/logs/plot_label_replacement.log",
        benchmark:
            "results/benchmarks/plot_label_replacement.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            limit=config["report"]["gallery_size"],
            code=code_hash(*PLOT_CODE, "manifest", "cache"),
        script:
            "../scripts/plot_label_replacement.py"


rule plot_duplicates:
    input:
        duplicates=rules.dedup_external.output.duplicates,
        manifest=filled(rules.build_manifest.output.manifest, split="train"),
        images=expand(rules.cache_images.output.images, size=SIZE, split=["train", "test"]),
        index=expand(rules.cache_images.output.index, size=SIZE, split=["train", "test"]),
    output:
        pairs=report(
            "results/plots/dedup/closest_pairs.png",
            caption="../report/closest_pairs.rst",
            category="Dedup",
        ),
        dropped=report(
            "results/plots/dedup/dropped_external.png",
            caption="../report/dropped_external.rst",
            category="Dedup",
        ),
    log:
        "results/logs/plot_duplicates.log",
    benchmark:
        "results/benchmarks/plot_duplicates.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        limit=config["report"]["gallery_size"],
        code=code_hash(*PLOT_CODE, "manifest", "cache"),
    script:
        "../scripts/plot_duplicates.py"


rule tabulate_submission:
    input:
        submission="results/{submission}.csv",
    output:
        table=report(
            "results/plots/submissions/{submission}.html",
            caption="../report/submission.rst",
            category="Submissions",
        ),
    log:
        "results/logs/tabulate_submission/{submission}.log",
    benchmark:
        "results/benchmarks/tabulate_submission/{submission}.tsv"
    conda:
        "../../envs/foldwise.yaml"
    params:
        rows=config["report"]["submission_rows"],
        code=code_hash(*PLOT_CODE),
    script:
        "../scripts/tabulate_submission.py"
