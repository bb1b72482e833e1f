"""A registered version this install cannot unpickle (fitted by another scikit-learn release).

scikit-learn 1.9 cannot load a HistGradientBoosting fitted by 1.8 or older ("No module named
'_loss'"): the loader must say which version and what to do, as a RegistryError the API and
the CLI turn into "no model" / a one-line error, not a traceback from inside pickle.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest_model import ModelEnv, make_settings

from attrition.db.migrate import upgrade
from attrition.registry.runs import log_and_register
from attrition.registry.store import RegistryError
from attrition.serving.pyfunc import load_model_version

#: A pickle naming a class of a module that does not exist (what an old release's pickle looks like).
MISSING_MODULE_PICKLE = b"csklearn._loss_from_another_release\nHalfBinomialLoss\n."


def test_a_version_this_install_cannot_unpickle_is_a_registry_error_naming_it(
    model_env: ModelEnv, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    upgrade(settings.db_url)
    version = log_and_register(model_env.result, settings, actor="test", source="test")
    assert load_model_version(settings, version).threshold == model_env.result.model.threshold
    pickles = list(Path(settings.artifact_root.removeprefix("file://")).rglob("python_model.pkl"))
    assert len(pickles) == 1
    pickles[0].write_bytes(MISSING_MODULE_PICKLE)
    with pytest.raises(
        RegistryError, match=rf"version {version} could not be unpickled .*retrain and promote"
    ):
        load_model_version(settings, version)
