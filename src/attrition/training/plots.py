"""Report plots as PNG files, drawn with matplotlib's object API on the Agg canvas (no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from attrition.schema import SPECS


def _figure(width: float = 6.0, height: float = 4.5) -> Figure:
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def roc_plot(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    fpr, tpr, _ = roc_curve(y, p)
    figure = _figure()
    ax = figure.add_subplot()
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (holdout)")
    ax.legend(loc="lower right")
    return _save(figure, path)


def pr_plot(y: np.ndarray, p: np.ndarray, threshold: float, path: Path) -> Path:
    precision, recall, thresholds = precision_recall_curve(y, p)
    figure = _figure()
    ax = figure.add_subplot()
    ax.plot(recall, precision, label=f"model (AP {average_precision_score(y, p):.3f})")
    ax.axhline(float(np.mean(y)), linestyle="--", color="grey", label="base rate")
    at = int(np.searchsorted(thresholds, threshold)) if thresholds.size else 0
    if at < thresholds.size:
        ax.scatter([recall[at]], [precision[at]], color="red", zorder=3, label=f"threshold {threshold:.3f}")
    ax.set(
        xlabel="Recall",
        ylabel="Precision",
        title="Precision-recall curve (holdout)",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.legend(loc="upper right")
    return _save(figure, path)


def calibration_plot(y: np.ndarray, p: np.ndarray, path: Path, bins: int = 10) -> Path:
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    figure = _figure(6.0, 6.0)
    ax, hist = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(predicted, observed, marker="o", label="model")
    ax.set(ylabel="Observed leaver rate", title="Calibration (holdout, 10 bins)")
    ax.legend(loc="upper left")
    hist.hist(p, bins=bins, range=(0, 1), color="steelblue")
    hist.set(xlabel="Predicted probability", ylabel="Records")
    return _save(figure, path)


def importance_plot(importance: dict[str, float], path: Path, top: int = 20) -> Path:
    items = list(importance.items())[:top][::-1]
    figure = _figure(7.0, max(3.0, 0.3 * len(items) + 1))
    ax = figure.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color="steelblue")
    ax.set(
        xlabel="Mean |contribution| (probability points)", title="Global importance by record column (SHAP)"
    )
    return _save(figure, path)


def _colour_values(column: pd.Series) -> np.ndarray:
    """Feature value scaled to 0..1 for colouring; categories by their contract order."""
    spec = SPECS.get(str(column.name))
    if spec is not None and spec.categories:
        codes = column.map({c: i for i, c in enumerate(spec.categories)}).to_numpy(dtype=np.float64)
    else:
        codes = column.to_numpy(dtype=np.float64)
    low, high = np.nanmin(codes), np.nanmax(codes)
    return np.zeros_like(codes) if high == low else (codes - low) / (high - low)


def beeswarm_plot(
    values: pd.DataFrame, records: pd.DataFrame, path: Path, top: int = 15, seed: int = 0
) -> Path:
    """Each record's contribution per column (x), jittered rows, coloured by the record's value (low blue, high red)."""
    order = values.abs().mean().sort_values(ascending=False).index[:top][::-1]
    rng = np.random.default_rng(seed)
    figure = _figure(8.0, max(3.0, 0.35 * len(order) + 1.5))
    ax = figure.add_subplot()
    points = None
    for row, column in enumerate(order):
        x = values[column].to_numpy()
        jitter = rng.uniform(-0.3, 0.3, size=x.size)
        points = ax.scatter(
            x,
            row + jitter,
            c=_colour_values(records[column]),
            cmap="coolwarm",
            s=6,
            alpha=0.7,
            vmin=0,
            vmax=1,
        )
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(order)), [str(c) for c in order])
    ax.set(
        xlabel="Contribution to probability (points)", title="SHAP contributions by record column (holdout)"
    )
    if points is not None:
        bar = figure.colorbar(points, ax=ax)
        bar.set_label("value (low -> high)")
    return _save(figure, path)


def history_plot(study: optuna.Study, path: Path) -> Path:
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    figure = _figure()
    ax = figure.add_subplot()
    if trials:
        numbers = [t.number for t in trials]
        values = [float(t.value) for t in trials if t.value is not None]
        ax.scatter(numbers, values, s=12, label="trial CV ROC-AUC")
        ax.plot(numbers, np.maximum.accumulate(values), color="red", label="best so far")
        ax.legend(loc="lower right")
    ax.set(xlabel="Trial", ylabel="Mean CV ROC-AUC", title="Optimisation history")
    return _save(figure, path)
