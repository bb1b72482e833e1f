"""The serving package stands apart from training, and models pickled under old module paths load.

``attrition.serving`` is what the API image and batch scoring run: importing it must not
pull in the training stack (optuna, fairlearn), the drift stack (evidently) or the UI
(streamlit). Versions registered before the package existed were pickled naming
``attrition.model``, ``attrition.training.explain`` and ``attrition.registry``; they
must keep loading.
"""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from conftest_model import ModelEnv

from attrition.registry.aliases import promote
from attrition.registry.runs import log_and_register
from attrition.serving.explain import ShapExplainer
from attrition.serving.loader import Predictor
from attrition.serving.model import AttritionModel
from attrition.serving.pyfunc import AttritionPyfunc

FORBIDDEN = ("optuna", "fairlearn", "evidently", "streamlit")
SERVING_MODULES = ("explain", "fastpath", "loader", "model", "prediction_log", "pyfunc", "scoring")
#: Where each class lived when the first models were registered.
LEGACY_PATHS = {
    AttritionModel: "attrition.model",
    ShapExplainer: "attrition.training.explain",
    AttritionPyfunc: "attrition.registry",
}


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )


def test_importing_every_serving_module_leaves_out_training_drift_and_ui() -> None:
    imports = "; ".join(f"import attrition.serving.{name}" for name in SERVING_MODULES)
    code = f"import sys; {imports}; print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    assert _run(code).stdout.strip() == ""


def test_importtime_of_the_serving_package_lists_none_of_them() -> None:
    imports = "; ".join(f"import attrition.serving.{name}" for name in SERVING_MODULES)
    done = _run(f"import attrition.serving; {imports}", "-X", "importtime")
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert "sklearn" in imported  # the check reads the real import list
    assert imported.isdisjoint(FORBIDDEN), sorted(imported & set(FORBIDDEN))


@contextmanager
def _pickled_under_legacy_paths() -> Iterator[None]:
    """Pickles made inside this block name the classes' pre-``attrition.serving`` modules."""
    current = {cls: cls.__module__ for cls in LEGACY_PATHS}
    for module in LEGACY_PATHS.values():
        importlib.import_module(module)  # cloudpickle pickles by reference only what is imported
    try:
        for cls, module in LEGACY_PATHS.items():
            cls.__module__ = module
        yield
    finally:
        for cls, module in current.items():
            cls.__module__ = module


def test_the_old_module_paths_resolve_to_the_moved_classes(model_env: ModelEnv) -> None:
    with _pickled_under_legacy_paths():
        data = pickle.dumps(AttritionPyfunc(model_env.result.model))
    for module in LEGACY_PATHS.values():
        assert module.encode() in data
    assert b"attrition.serving" not in data
    loaded = pickle.loads(data)
    assert isinstance(loaded, AttritionPyfunc) and isinstance(loaded.model, AttritionModel)


def test_a_version_registered_under_the_old_paths_loads_and_scores(champion_env: ModelEnv) -> None:
    settings = champion_env.settings
    with _pickled_under_legacy_paths():
        version = log_and_register(champion_env.result, settings, actor="test", source="legacy")
    assert promote(settings, version, actor="test").promoted
    predictor = Predictor.load(settings)
    assert predictor.model_version == version
    records = champion_env.employees.head(50)
    scored = predictor.predict_frame(records, top_k=3)
    np.testing.assert_array_equal(
        scored["probability"].to_numpy(), champion_env.result.model.predict_proba(records)
    )
    assert all(len(factors) == 3 for factors in scored["top_factors"])
