"""The classifier's labels replaced by the nearest sample's where it is similar enough: the threshold
fitted out of fold (or a share of the test replaced), the OOF macro F1 with and without, the submissions."""

import numpy as np
import pandas as pd

from foldwise import artifacts, manifest, neighbours, thresholds

with artifacts.script_log(snakemake.log[0]) as log:
    read, inputs, id_column = artifacts.read_table, snakemake.input, snakemake.params.id_column
    table = read(inputs.manifest)
    labels = pd.concat([manifest.label_table(table, split) for split in ("train", "external")]).set_index("id")
    classes, cut = list(labels.columns), np.asarray(artifacts.read_json(inputs.thresholds)["thresholds"])

    def decide(scores):  # the classifier's labels, as write_labels decides them
        return thresholds.decide(scores[classes].to_numpy(), cut, snakemake.params.at_least_one)

    oof = read(inputs.oof).merge(read(inputs.oof_neighbours), on="id")
    truth, near = labels.loc[oof.id].to_numpy(), labels.loc[oof.neighbour].to_numpy()
    submission, test = pd.read_csv(inputs.submission, dtype={id_column: str}), read(inputs.neighbours)
    # a share of the OOF rows stands in for test samples of groups not in train
    other = (labels.reindex(oof.other_neighbour).fillna(0).to_numpy(), oof.other_similarity.to_numpy())
    new_share = snakemake.params.replacement["new_share"]
    if new_share == "auto":
        new_share = neighbours.estimate_new_share(test.similarity, oof.similarity, oof.other_similarity.dropna())
    fitted = neighbours.fit(
        truth, decide(oof), near, oof.similarity.to_numpy(), oof.fold.to_numpy(), other=other, new_share=new_share
    )
    threshold = neighbours.choose_threshold(fitted, snakemake.params.replacement, test.similarity.to_numpy())
    predicted, probabilities, taken = neighbours.submissions(
        submission, decide(submission), test, labels, threshold, id_column
    )
    score = {**fitted, "metric": "macro_f1", "threshold": threshold, "replaced_share": float(taken.mean())}
    score["new_share"] = new_share  # of the test, from groups not in train (the fit's stand-ins)
    score |= {
        "top1": artifacts.read_json(inputs.groups)["top1"],
        "biased": artifacts.read_json(inputs.mix_score)["biased"],
    }
    log.info(
        "OOF macro F1 %.4f with replacement (%.4f without), %.0f%% of its rows standing in for new groups; "
        "%.1f%% of the test replaced at similarity >= %.4f",
        *(score["cv"], score["cv_without"], 100 * new_share, 100 * score["replaced_share"], threshold),
    )
    artifacts.write_json(score, snakemake.output.score)
    artifacts.write_csv(predicted, snakemake.output.labels)
    artifacts.write_csv(probabilities, snakemake.output.probabilities)  # the form the ensemble can take
