"""The proxy report: how well the model's inputs predict each protected attribute.

Generated employees with a planted proxy (Gender written into JobRole's pattern, Age into
TotalWorkingYears) and a noise attribute: the report must find the plant, name the input that
carries it, and report chance for the noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from attrition.data.generator import generate_workforce
from attrition.schema import INTEGER_COLUMNS
from attrition.training.proxies import proxy_report

INPUTS = ["JobRole", "Department", "TotalWorkingYears", "MonthlyIncome", "DistanceFromHome", "OverTime"]


def _planted(rows: int = 2000) -> pd.DataFrame:
    frame = generate_workforce(rows, seed=11)
    rng = np.random.default_rng(0)
    # Gender follows OverTime 90% of the time; MaritalStatus is shuffled: carried by nothing.
    follows = rng.random(rows) < 0.9
    frame["Gender"] = np.where((frame["OverTime"] == "Yes") == follows, "Female", "Male")
    frame["MaritalStatus"] = rng.permutation(frame["MaritalStatus"].to_numpy())
    frame["Age"] = (frame["TotalWorkingYears"] + 22 + rng.integers(0, 3, rows)).astype(frame["Age"].dtype)
    return frame


def test_a_planted_proxy_is_found_and_named_and_noise_is_at_chance() -> None:
    report = proxy_report(_planted(), INPUTS, ["Gender", "Age", "MaritalStatus"], seed=0)
    found = {a["attribute"]: a for a in report["attributes"]}
    assert found["Gender"]["metric"] == "roc_auc" and found["Gender"]["value"] > 0.85
    assert found["Gender"]["top_inputs"][0]["column"] == "OverTime"
    assert found["Age"]["metric"] == "r2" and found["Age"]["value"] > 0.9
    assert found["Age"]["top_inputs"][0]["column"] == "TotalWorkingYears"
    assert 0.4 < found["MaritalStatus"]["value"] < 0.6  # three groups, one-vs-rest: chance is 0.5
    assert all(not a["is_model_input"] for a in found.values())
    assert all(0 <= t["share"] <= 1 for t in found["Gender"]["top_inputs"])


def test_an_attribute_among_the_inputs_is_predicted_from_the_others_only() -> None:
    frame = _planted()
    report = proxy_report(frame, [*INPUTS, "Gender"], ["Gender"], seed=0)
    (gender,) = report["attributes"]
    assert gender["is_model_input"] and "Gender" not in {t["column"] for t in gender["top_inputs"]}
    assert gender["value"] > 0.85


def test_what_cannot_be_estimated_says_why() -> None:
    frame = _planted(300).assign(Gender="Female")
    report = proxy_report(frame, INPUTS, ["Gender", "Education"], seed=0)
    gender, education = report["attributes"]
    assert "one value only" in gender["note"] and "value" not in gender
    assert "Education" in INTEGER_COLUMNS and education["metric"] == "r2"  # a number: R²
