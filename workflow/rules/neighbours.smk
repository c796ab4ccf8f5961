# HPA 2018's nearest-neighbour label replacement (label_replacement): an ArcFace embedding of the
# antibody (dataset.group_column) trained through train_fold as stage "groups", each fold validating
# one sample of a group against the rest; every test sample's nearest train or external sample;
# its labels replace the classifier's where their similarity clears a threshold fitted out of fold.

if REPLACE_LABELS:

    localrules:
        split_group_folds,
        find_neighbours,
        replace_labels,

    rule split_group_folds:
        input:
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
        output:
            folds="results/data/group_folds.parquet",
        log:
            "results/logs/split_group_folds.log",
        benchmark:
            "results/benchmarks/split_group_folds.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            k=config["folds"]["k"],
            seed=config["seed"],
            code=code_hash("folds"),
        script:
            "../scripts/split_group_folds.py"

    rule find_neighbours:
        input:
            train=expand(
                rules.predict_fold.output.predictions, experiment="", split="train", stage="groups", fold=FOLDS
            ),
            test=expand(rules.predict_fold.output.predictions, experiment="", split="test", stage="groups", fold=FOLDS),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
            folds=rules.split_group_folds.output.folds,
            external_kept=kept_external,
        output:
            neighbours="results/neighbours.parquet",
            oof="results/oof/neighbours.parquet",
            score="results/scores/groups.json",
        log:
            "results/logs/find_neighbours.log",
        benchmark:
            "results/benchmarks/find_neighbours.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            neighbours=config["label_replacement"]["neighbours"],
            code=code_hash("retrieval", "neighbours", "manifest", "metrics"),
        script:
            "../scripts/find_neighbours.py"

    rule replace_labels:
        input:
            neighbours=rules.find_neighbours.output.neighbours,
            oof_neighbours=rules.find_neighbours.output.oof,
            groups=rules.find_neighbours.output.score,
            oof=top(rules.mix_oof.output.oof),
            mix_score=top(rules.mix_oof.output.score),
            thresholds=top(rules.write_labels.output.thresholds),
            submission=filled(rules.mix_submissions.output.submission, setdir="", experiment=""),
            manifest=filled(rules.build_manifest.output.manifest, split="train"),
        output:
            score="results/scores/nn.json",
            labels="results/submission_labels_nn.csv",
            probabilities="results/probabilities/submission_nn.csv",
        log:
            "results/logs/replace_labels.log",
        benchmark:
            "results/benchmarks/replace_labels.tsv"
        conda:
            "../../envs/foldwise.yaml"
        params:
            id_column=DATASET["id_column"],
            replacement={
                k: v for k, v in config["label_replacement"].items() if k in ("threshold", "share", "new_share")
            },
            at_least_one=config["thresholds"]["at_least_one"],
            code=code_hash("neighbours", "thresholds", "metrics", "manifest"),
        script:
            "../scripts/replace_labels.py"
