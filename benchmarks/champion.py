"""A promoted champion in a throw-away folder, for the benchmarks that serve one (API, load).

Speed is measured there, not model quality: the fairness and quality gates are opened so the
seed's model is always promoted (the gates themselves are tested in tests/).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attrition.config import Settings
    from attrition.training.pipeline import TrainingResult


def promoted_champion(root: Path, *, family: str, trials: int, rows: int) -> tuple[Settings, TrainingResult]:
    """Train on ``rows`` generated employees, register and promote; (settings of the system under ``root``, result)."""
    from attrition.config import Settings, TrainingSettings
    from attrition.data.generator import generate_workforce
    from attrition.db.migrate import upgrade
    from attrition.registry.aliases import promote
    from attrition.registry.runs import log_and_register
    from attrition.training.pipeline import train_model

    training = TrainingSettings(
        trials=trials,
        families=[family],
        protected_attributes=["Gender"],
        bootstrap_resamples=50,
        seed=3,
        max_equal_opportunity_difference=1.0,
        max_demographic_parity_difference=1.0,
        min_roc_auc=0.0,
    )
    settings = Settings(
        data_dir=root / "var",
        database_url=f"sqlite:///{root / 'app.db'}",
        mlflow_tracking_uri=f"sqlite:///{root / 'var' / 'mlflow.db'}",
        mlflow_artifact_root=(root / "var" / "mlartifacts").as_uri(),
        reports_dir=root / "reports",
        reference_dir=root / "reference_data",
        training=training,
    )
    upgrade(settings.db_url)
    result = train_model(generate_workforce(rows, seed=17), training)
    version = log_and_register(result, settings, actor="bench", source="generator")
    decision = promote(settings, version, actor="bench")
    if not decision.promoted:
        raise SystemExit(f"benchmark model was not promoted: {decision.message()}")
    return settings, result
