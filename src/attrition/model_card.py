"""The champion's model card: what it is, what it saw, how good and how fair it is.

Built from the registered version's training summary (a run artifact) and the model
itself, so it always describes the model that actually serves. ``build_card`` gives
a JSON-ready dict (holdout metrics under ``metrics``, e.g. ``metrics.roc_auc``);
``render_markdown`` turns it into the Markdown written to ``reports/model_card.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from attrition.config import CHAMPION, Settings
from attrition.registry.store import run_experiment, version_summary
from attrition.serving.loader import ModelNotAvailable, champion_version

TOP_FACTORS = 10
CARD_MARKDOWN = "model_card.md"
CARD_JSON = "model_card.json"

_THRESHOLD_RULES = {
    "f2": "maximise F2 on out-of-fold predictions (recall weighted 4x precision: missing a leaver costs "
    "more than a retention conversation)",
    "cost": "minimise expected cost on out-of-fold predictions (cost of a missed leaver vs cost of an "
    "intervention, from the training settings)",
}

INTENDED_USE = (
    "Rank current employees by estimated probability of leaving so HR can prioritise retention "
    "conversations; explain each estimate by its top factors."
)

LIMITATIONS = (
    "Probabilities describe association in historical records, not causes: a factor that raises risk "
    "is not necessarily something to change.",
    "Trained on one organisation's records (or synthetic data shaped like the IBM HR Analytics set); "
    "it does not transfer to a workforce that looks different without retraining.",
    "Fairness is audited on the holdout only, for the configured protected attributes; groups below "
    "the minimum group size are reported but not gated, and small groups give noisy rates.",
    "Confidence intervals are bootstrap intervals over the holdout: they cover sampling noise, not "
    "drift. Performance degrades as the workforce changes; watch the drift reports.",
    "Use it to prioritise supportive conversations, never as the sole basis of a decision about a "
    "person. A human reviews every action.",
)


def build_card(settings: Settings, version: str | None = None) -> dict[str, Any]:
    """The model card of ``version`` (default: the champion) as a JSON-ready dict."""
    champion = champion_version(settings)
    if version is None:
        if champion is None:
            raise ModelNotAvailable(
                f"No {CHAMPION} model is registered as {settings.model_name!r}: there is nothing to describe yet. "
                "Train and promote one with `attrition train --promote`."
            )
        version = champion
    summary = version_summary(settings, version)
    card = _card(settings, str(version), summary)
    card["model"]["experiment_id"] = run_experiment(settings, str(summary.get("run_id")))
    card["model"]["alias"] = CHAMPION if str(version) == champion else None
    return _clean(card)


def _card(settings: Settings, version: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The card's sections in reading order (``render_markdown`` and the JSON keep it)."""
    model = summary.get("model", {})
    return {
        "model": _model_facts(settings, version, summary),
        "intended_use": INTENDED_USE,
        "data": _data_facts(summary),
        **_quality_facts(summary),
        **_fairness_facts(summary),
        "proxies": summary.get("proxies") or {},
        "inputs": summary.get("input_columns", []),
        "top_factors": _top_factors(summary),
        "contribution_units": model.get("contribution_units", "probability points"),
        "search": summary.get("search", {}),
        "limitations": list(LIMITATIONS),
    }


def _model_facts(settings: Settings, version: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Which model this is and where it came from (run, commit, promotion)."""
    model = summary.get("model", {})
    tags = summary.get("version_tags", {})
    return {
        "name": settings.model_name,
        "version": version,
        "alias": None,
        "run_id": summary.get("run_id"),
        "family": summary.get("family"),
        "best_params": summary.get("best_params", {}),
        "calibration": model.get("calibration"),
        "calibration_reason": summary.get("calibration_reason"),
        "trained_at": summary.get("trained_at"),
        "promoted_at": tags.get(f"{CHAMPION}_set_at"),
        "promoted_by": tags.get(f"{CHAMPION}_set_by"),
        "git_commit": summary.get("git_commit"),
    }


def _data_facts(summary: dict[str, Any]) -> dict[str, Any]:
    data = summary.get("data", {})
    return {
        "source": data.get("source"),
        "rows_total": data.get("rows_total"),
        "rows_train": data.get("rows_train"),
        "rows_holdout": data.get("rows_holdout"),
        "attrition_rate_train": data.get("attrition_rate_train"),
        "attrition_rate_holdout": data.get("attrition_rate_holdout"),
        "fingerprint": data.get("fingerprint"),
        "snapshot_dates": data.get("snapshot_dates", []),
        "trained_at": summary.get("trained_at"),
    }


def _quality_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """Holdout metrics with their intervals, cross-validation, confusion, threshold, risk bands."""
    metrics = summary.get("metrics", {})
    rule = summary.get("threshold_rule", "")
    return {
        "metrics": {k: v for k, v in metrics.items() if not k.startswith("cv_")},
        "intervals": {
            name: {"low": metrics.get(f"{name}_ci_low"), "high": metrics.get(f"{name}_ci_high")}
            for name in ("roc_auc", "recall")
            if f"{name}_ci_low" in metrics
        },
        "cross_validation": {k.removeprefix("cv_"): v for k, v in metrics.items() if k.startswith("cv_")},
        "confusion": summary.get("confusion", {}),
        "threshold": {
            "rule": rule,
            "value": summary.get("threshold"),
            "description": _THRESHOLD_RULES.get(rule, rule),
            "choice": summary.get("threshold_choice", {}),
        },
        "risk_bands": summary.get("risk_bands", {}),
    }


def _fairness_facts(summary: dict[str, Any]) -> dict[str, Any]:
    """The fairness audit and how protected attributes were kept out of the inputs."""
    fairness = summary.get("fairness", {})
    model = summary.get("model", {})
    return {
        "fairness": {
            "passed": summary.get("fairness_passed"),
            "limits": fairness.get("limits", {}),
            "failures": fairness.get("failures", []),
            "attributes": fairness.get("attributes", {}),
        },
        "protected_attributes": {
            "attributes": summary.get("protected_attributes", []),
            "excluded_from_inputs": summary.get("protected_excluded"),
            "derived_features_excluded": model.get("derived_features_excluded", []),
            "statement": model.get("protected_statement"),
        },
    }


def _top_factors(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``TOP_FACTORS`` largest global importances, largest magnitude first."""
    importance = sorted(summary.get("global_importance", {}).items(), key=lambda kv: -abs(kv[1]))
    return [{"feature": feature, "importance": value} for feature, value in importance[:TOP_FACTORS]]


def _clean(value: Any) -> Any:
    """NaN/inf -> None so the card is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(card: dict[str, Any]) -> str:
    return json.dumps(card, indent=2, sort_keys=False, allow_nan=False)


def write_card(settings: Settings, card: dict[str, Any]) -> Path:
    """Write ``model_card.md`` (and ``model_card.json``) to the reports dir; returns the Markdown path."""
    folder = Path(settings.reports_dir)
    folder.mkdir(parents=True, exist_ok=True)
    markdown = folder / CARD_MARKDOWN
    markdown.write_text(render_markdown(card), encoding="utf-8")
    (folder / CARD_JSON).write_text(to_json(card), encoding="utf-8")
    return markdown


def _num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def render_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown, sections in the order a reviewer reads them."""
    sections = [
        _model_section(card),
        _data_section(card),
        _metrics_section(card),
        _threshold_section(card),
        _fairness_section(card),
        _proxies_section(card),
        _factors_section(card),
        "## Limitations\n\n" + "\n".join(f"- {item}" for item in card["limitations"]),
    ]
    return "\n\n".join(sections) + "\n"


def _model_section(card: dict[str, Any]) -> str:
    m = card["model"]
    return (
        f"# Model card: {m['name']} version {m['version']}\n\n"
        f"{card['intended_use']}\n\n"
        f"| | |\n|---|---|\n"
        f"| family | {m['family']} (calibration: {m.get('calibration') or 'n/a'}) |\n"
        f"| trained | {m['trained_at']} |\n"
        f"| promoted | {m.get('promoted_at') or 'not promoted'} by {m.get('promoted_by') or 'n/a'} |\n"
        f"| MLflow run | `{m['run_id']}` |\n"
        f"| code | `{m.get('git_commit') or 'unknown'}` |"
    )


def _data_section(card: dict[str, Any]) -> str:
    d = card["data"]
    dates = ", ".join(d.get("snapshot_dates") or []) or "n/a (CSV or generated data)"
    return (
        "## Data it saw\n\n"
        f"- {d['rows_total']} labelled records: {d['rows_train']} for search and fitting, "
        f"{d['rows_holdout']} held out (stratified) for evaluation only.\n"
        f"- Attrition rate: {_pct(d['attrition_rate_train'])} (train), {_pct(d['attrition_rate_holdout'])} (holdout).\n"
        f"- Source: {d.get('source') or 'a DataFrame'}; snapshot dates: {dates}.\n"
        f"- Data fingerprint: `{d['fingerprint']}`."
    )


def _metrics_section(card: dict[str, Any]) -> str:
    metrics, intervals = card["metrics"], card["intervals"]
    rows = []
    for name in ("roc_auc", "pr_auc", "f1", "f2", "precision", "recall", "accuracy", "brier", "ece"):
        if name not in metrics:
            continue
        ci = intervals.get(name)
        interval = f"{_num(ci['low'])} – {_num(ci['high'])}" if ci else ""
        rows.append(f"| {name} | {_num(metrics[name])} | {interval} |")
    cv = card["cross_validation"]
    cm = card["confusion"]
    confusion = ", ".join(f"{k}={v}" for k, v in cm.items()) or "n/a"
    return (
        "## Holdout metrics\n\n| metric | value | 95% bootstrap interval |\n|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nCross-validated (search): ROC-AUC {_num(cv.get('roc_auc'))}, PR-AUC {_num(cv.get('pr_auc'))}. "
        f"Confusion at the threshold: {confusion}."
    )


def _threshold_section(card: dict[str, Any]) -> str:
    t, bands = card["threshold"], card["risk_bands"]
    band_text = ", ".join(f"{name} from {_num(v, 2)}" for name, v in bands.items())
    return (
        "## Decision threshold and risk bands\n\n"
        f"Threshold {_num(t['value'], 4)}, rule `{t['rule']}`: {t['description']}.\n\n"
        f"Risk bands (lower bounds): low below medium, {band_text}."
    )


def _fairness_section(card: dict[str, Any]) -> str:
    f, p = card["fairness"], card["protected_attributes"]
    verdict = "PASSED" if f["passed"] else "FAILED"
    limits = ", ".join(f"{k} {v}" for k, v in f.get("limits", {}).items())
    lines = [
        "## Fairness and protected attributes\n",
        p.get("statement")
        or (
            f"Protected attributes: {', '.join(p['attributes'])}; "
            f"{'excluded from' if p['excluded_from_inputs'] else 'used as'} model inputs."
        ),
        "",
        f"Fairness gate: **{verdict}** ({limits}).",
        "",
        "A gap fails the gate only when its one-sided lower confidence bound (the confidence above) is"
        " over its limit, so holdout noise alone does not refuse a model; gated: whether the attribute"
        " can stop a release (training.fairness_gated_attributes), the others are reported for review.",
        "",
        "| attribute | gated | demographic parity diff | equal opportunity diff | equalized odds diff | groups (size, selection rate) |",
        "|---|---|---|---|---|---|",
    ]
    for name, a in f.get("attributes", {}).items():
        groups = "; ".join(
            f"{g['group']} ({g['size']}, {_pct(g.get('selection_rate'))}{'' if g.get('gated', True) else ', not gated'})"
            for g in a.get("groups", [])
        )
        lines.append(
            f"| {name} | {'yes' if a.get('gated', True) else 'no'} | {_num(a.get('demographic_parity_difference'))} | "
            f"{_num(a.get('equal_opportunity_difference'))} | {_num(a.get('equalized_odds_difference'))} | {groups} |"
        )
    if f.get("failures"):
        lines += ["", "Failures: " + "; ".join(f["failures"])]
    return "\n".join(lines)


def _proxies_section(card: dict[str, Any]) -> str:
    """How much of each protected attribute the inputs carry, so nobody reads "excluded" as "no effect"."""
    proxies = card.get("proxies") or {}
    if not proxies.get("attributes"):
        return "## Proxies of the protected attributes\n\nNot measured for this version (trained before the proxy report)."
    lines = [
        "## Proxies of the protected attributes\n",
        f"How well the model's inputs predict each protected attribute ({proxies.get('method')}, "
        f"{proxies.get('rows', 0):,} rows). A model that never reads an attribute can still act on it "
        "through inputs that carry it; ROC-AUC 0.5 or R² 0 would mean the inputs say nothing about it. "
        "A linear model is a lower bound: a flexible model may recover more.",
        "",
        "| attribute | a model input? | predicted from the inputs | inputs carrying it most (share) |",
        "|---|---|---|---|",
    ]
    for a in proxies["attributes"]:
        if "value" not in a:
            lines.append(f"| {a['attribute']} | | {a.get('note', 'not measured')} | |")
            continue
        metric = "ROC-AUC" if a["metric"] == "roc_auc" else "R²"
        top = ", ".join(f"{t['column']} ({_pct(t['share'])})" for t in a.get("top_inputs", []))
        used = "yes" if a.get("is_model_input") else "no"
        lines.append(f"| {a['attribute']} | {used} | {metric} {_num(a['value'])} | {top} |")
    return "\n".join(lines)


def _factors_section(card: dict[str, Any]) -> str:
    rows = [
        f"| {i + 1} | {f['feature']} | {_num(f['importance'], 4)} |"
        for i, f in enumerate(card["top_factors"])
    ]
    return (
        f"## Top factors (mean |SHAP|, {card['contribution_units']})\n\n| rank | column | importance |\n|---|---|---|\n"
        + "\n".join(rows)
    )
