"""Multi-label decisions: thresholds (fitted on the mixed OOF, or matching label rates) and the
HPA-format submission (id, space-separated class indices)."""

import pandas as pd

from foldwise import artifacts, manifest, metrics, thresholds

with artifacts.script_log(snakemake.log[0]) as log:
    settings, id_column = snakemake.params.thresholds, snakemake.params.id_column
    hard = manifest.label_table(artifacts.read_table(snakemake.input.manifest), "train")
    classes = [c for c in hard.columns if c != "id"]
    oof = hard[["id"]].merge(artifacts.read_table(snakemake.input.oof), on="id")
    truth, oof_scores = hard.set_index("id").loc[oof.id, classes].to_numpy(), oof[classes].to_numpy()
    submission = pd.read_csv(snakemake.input.submission, dtype={id_column: str})
    test_scores = submission[classes].to_numpy()
    fitted = thresholds.choose(settings["method"], truth, oof_scores, test_scores, settings["rates"])
    in_sample = thresholds.decide(oof_scores, fitted, settings["at_least_one"])
    out_of_fold = thresholds.out_of_fold_f1(
        settings["method"], truth, oof_scores, oof.fold.to_numpy(), settings["rates"], settings["at_least_one"]
    )
    # "out_of_fold": thresholds chosen without the scored fold's labels; "in_sample": fitted and
    # scored on the same rows (optimistic). Both inherit the mixed OOF's own bias (distilled OOF)
    mix = artifacts.read_json(snakemake.input.mix_score)
    report = {
        "method": settings["method"],
        "classes": classes,
        "thresholds": fitted.tolist(),
        "oof_macro_f1": {
            "out_of_fold": out_of_fold,
            "in_sample": metrics.macro_f1(truth, in_sample),
            "flat_0.5": metrics.macro_f1(truth, oof_scores, 0.5),
        },
        "biased": mix["biased"],
        **({"note": f"fitted and scored on the mixed OOF, itself {mix['note']}"} if mix["biased"] else {}),
    }
    log.info(
        "OOF macro F1: %.4f with %s thresholds chosen out of fold (%.4f in sample), %.4f at a flat 0.5",
        out_of_fold,
        settings["method"],
        report["oof_macro_f1"]["in_sample"],
        report["oof_macro_f1"]["flat_0.5"],
    )
    artifacts.write_json(report, snakemake.output.thresholds)
    decisions = thresholds.decide(test_scores, fitted, settings["at_least_one"])
    labels = pd.DataFrame({id_column: submission[id_column], "Predicted": thresholds.as_indices(decisions)})
    artifacts.write_csv(labels, snakemake.output.labels)
