"""Training/serving parity: the same records get the same probabilities everywhere.

In-memory training result, the model loaded back from the MLflow registry by alias
(as a pyfunc and unwrapped), batch scoring's output file and the predictions table
must agree exactly (not approximately): they all run the one fitted pipeline object.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from conftest_model import ModelEnv

from attrition.config import CHAMPION
from attrition.db.engine import get_engine
from attrition.db.repositories import predictions_frame
from attrition.registry.store import configure
from attrition.schema import ID_COLUMN, RECORD_COLUMNS
from attrition.serving.loader import Predictor
from attrition.serving.pyfunc import unwrap
from attrition.serving.scoring import score_batch


def test_every_path_gives_identical_probabilities(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    records = champion_env.employees.sort_values(ID_COLUMN).reset_index(drop=True)
    expected = champion_env.result.model.predict_proba(records)

    # The registry: the pyfunc by alias (schema enforcement on) and the unwrapped model.
    configure(settings)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@{CHAMPION}")
    from_pyfunc = pyfunc.predict(records[list(RECORD_COLUMNS)])
    np.testing.assert_array_equal(from_pyfunc["probability"].to_numpy(), expected)
    unwrapped = unwrap(pyfunc)
    np.testing.assert_array_equal(unwrapped.predict_proba(records), expected)

    # The serving Predictor.
    predictor = Predictor.load(settings)
    assert predictor.model_version == champion_env.version
    np.testing.assert_array_equal(predictor.predict_frame(records)["probability"].to_numpy(), expected)

    # Batch scoring of the stored snapshot: output file and the prediction log.
    out = champion_env.root / "scores.parquet"
    report = score_batch(settings, out=out, chunk_rows=400)
    assert report.rows_scored == len(records)
    written = pd.read_parquet(out).sort_values(ID_COLUMN).reset_index(drop=True)
    np.testing.assert_array_equal(written[ID_COLUMN].to_numpy(), records[ID_COLUMN].to_numpy())
    np.testing.assert_array_equal(written["probability"].to_numpy(), expected)

    logged = predictions_frame(get_engine(settings.db_url), source="batch")
    logged = logged.sort_values(ID_COLUMN).reset_index(drop=True)
    assert set(logged["model_version"]) == {champion_env.version}
    np.testing.assert_array_equal(logged[ID_COLUMN].to_numpy(), records[ID_COLUMN].to_numpy())
    np.testing.assert_array_equal(logged["probability"].to_numpy(dtype=float), expected)
    # The logged inputs score the same again: they are the records that were scored.
    np.testing.assert_array_equal(champion_env.result.model.predict_proba(logged), expected)


def test_labels_and_bands_agree_with_threshold_and_bands(champion_env: ModelEnv) -> None:
    model = champion_env.result.model
    predicted = Predictor.load(champion_env.settings).predict_frame(champion_env.employees)
    np.testing.assert_array_equal(
        predicted["label"].to_numpy(), predicted["probability"].to_numpy() >= model.threshold
    )
    bands = model.risk_bands
    critical = predicted["probability"] >= bands.critical
    assert (predicted.loc[critical, "risk_band"] == "critical").all()
    low = predicted["probability"] < bands.medium
    assert (predicted.loc[low, "risk_band"] == "low").all()
