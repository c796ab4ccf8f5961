"""A submission in the sample submission's form (submission.format): its probability table as it is,
or the most probable class, or the classes at the fitted thresholds, under the sample's own headers."""

from pathlib import Path

import pandas as pd

from foldwise import artifacts, manifest, submission

with artifacts.script_log(snakemake.log[0]) as log:
    params, inputs = snakemake.params, snakemake.input
    probabilities = pd.read_csv(inputs.probabilities, dtype={params.id_column: str})
    classes = manifest.classes(artifacts.read_table(inputs.manifest))
    # a test folder has no sample submission: id,label
    columns = None if Path(inputs.test).is_dir() else list(pd.read_csv(inputs.test, dtype=str, nrows=0).columns)
    id_header = (
        "id"
        if columns is None
        else manifest.test_id_column(columns, params.id_column, params.test_id_column, inputs.test)
    )
    kind = submission.form(params.format, columns, id_header, classes, params.task)
    label_header = next((c for c in columns or [] if c != id_header), "label")
    cut = artifacts.read_json(inputs.thresholds[0])["thresholds"] if kind == "labels" else None
    log.info(
        "%s: %s, as %s",
        snakemake.output.submission,
        kind,
        f"{id_header},{label_header}" if kind != "probabilities" else "the table",
    )
    table = submission.write(probabilities, kind, params.id_column, id_header, label_header, cut, params.at_least_one)
    artifacts.write_csv(table, snakemake.output.submission)
