"""Aliases: ``challenger`` is the latest trained candidate, ``champion`` the model that serves.

A challenger becomes champion only through :func:`promote`, which checks the fairness
gate, a metric floor and (when a champion exists) that the challenger is not worse
than the champion *on the challenger's holdout*. Every alias move is recorded in the
app database's audit table and as tags on the model versions involved, so
:func:`rollback` can find the previous champion. A promotion or rollback rewrites the
drift reference data from the new champion.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from attrition.audit import AuditOutcome
from attrition.config import CHALLENGER, CHAMPION, Settings
from attrition.db.repositories import AuditFilter, list_audit, record_audit
from attrition.registry.store import (
    FAIRNESS_ARTIFACT,
    HOLDOUT_ARTIFACT,
    REFERENCE_SAMPLE_ARTIFACT,
    SUMMARY_ARTIFACT,
    RegistryError,
    alias_version,
    audit_engine,
    configure,
    default_actor,
    jsonable,
    load_run_frame,
    load_run_json,
    model_version,
    now_iso,
)
from attrition.serving.pyfunc import load_model_version

logger = logging.getLogger(__name__)


#: Audit actions of alias moves (the audit table's ``action`` column).
ACTION_CHALLENGER = "set_challenger"
ACTION_PROMOTE = "promote"
ACTION_REFUSED = "promotion_refused"
ACTION_ROLLBACK = "rollback"


def move_alias(
    client: MlflowClient,
    settings: Settings,
    engine: sa.Engine,
    alias: str,
    version: str,
    actor: str,
    reason: str,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> str | None:
    """Point ``alias`` at ``version``; record who, when, why and from which version."""
    name = settings.model_name
    previous = alias_version(client, name, alias)
    at = now_iso()
    client.set_registered_model_alias(name, alias, version)
    for key, value in {
        f"{alias}_set_at": at,
        f"{alias}_set_by": actor,
        f"{alias}_set_reason": reason,
        f"{alias}_previous": previous or "",
    }.items():
        client.set_model_version_tag(name, version, key, value)
    record_audit(
        engine,
        actor,
        action,
        f"{name}@{alias}",
        {"from_version": previous, "to_version": version, "reason": reason, "at": at, **dict(detail or {})},
    )
    logger.info("alias %s of %s: %s -> %s (%s, by %s)", alias, name, previous, version, action, actor)
    return previous


# --- promotion -------------------------------------------------------------------------------


@dataclass
class PromotionDecision:
    """What promotion decided and why (``promoted`` False = no alias moved)."""

    promoted: bool
    version: str
    previous_champion: str | None
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        head = (
            f"version {self.version} promoted to {CHAMPION} (was {self.previous_champion or 'none'})"
            if self.promoted
            else f"version {self.version} NOT promoted"
        )
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(
    settings: Settings,
    version: str | int | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
) -> PromotionDecision:
    """Make ``version`` (default: the challenger) champion if it passes every gate.

    Gates: the fairness gate passed; holdout ROC-AUC >= ``min_roc_auc``; and, when a
    champion exists, both are evaluated on the challenger's holdout and the challenger
    may trail by at most ``max_roc_auc_drop``. (The champion may have trained on some of
    those rows, which favours the champion: a conservative comparison.) A refused
    promotion moves no alias and is recorded in the audit table.
    """
    client = configure(settings)
    engine = audit_engine(settings)
    actor = actor or default_actor()
    name = settings.model_name
    if version is None:
        version = alias_version(client, name, CHALLENGER)
        if version is None:
            why = f"model {name!r} has no {CHALLENGER}: train one with `attrition train`"
            raise _refused(engine, actor, ACTION_REFUSED, f"{name}@{CHAMPION}", why)
    version = str(version)
    try:
        candidate = model_version(client, name, version)
    except RegistryError as exc:
        raise _refused(
            engine, actor, ACTION_REFUSED, f"{name}@{CHAMPION}", str(exc), AuditOutcome.NOT_FOUND
        ) from None
    champion = alias_version(client, name, CHAMPION)
    decision = PromotionDecision(promoted=False, version=version, previous_champion=champion)
    if champion == version:
        decision.reasons.append(f"version {version} is already the {CHAMPION}")
        _refused(engine, actor, ACTION_REFUSED, f"{name}@{CHAMPION}", decision.reasons[0])
        return decision
    _check_gates(settings, client, candidate, champion, decision)
    if decision.reasons:
        _record_refusal(client, settings, engine, decision, actor)
        return decision
    why = reason or "passed promotion gates"
    decision.reasons.append(why)
    # A promoted challenger stops being the challenger; the promotion event records that too.
    clear_challenger = alias_version(client, name, CHALLENGER) == version
    detail = {"checks": jsonable(decision.checks), "challenger_cleared": clear_challenger}
    move_alias(client, settings, engine, CHAMPION, version, actor, why, ACTION_PROMOTE, detail)
    if clear_challenger:
        client.delete_registered_model_alias(name, CHALLENGER)
    if champion is not None:
        client.set_model_version_tag(name, champion, "replaced_by", version)
        client.set_model_version_tag(name, champion, "replaced_at", now_iso())
    decision.promoted = True
    _write_reference(settings, client, version)
    return decision


def _check_gates(
    settings: Settings,
    client: MlflowClient,
    candidate: ModelVersion,
    champion: str | None,
    decision: PromotionDecision,
) -> None:
    """Fill ``decision.checks``; append a reason for every gate that fails."""
    gate = settings.training
    run = client.get_run(str(candidate.run_id))
    fairness_passed = run.data.tags.get("fairness_passed") == "true"
    roc_auc = run.data.metrics.get("roc_auc", float("nan"))
    decision.checks |= {
        "fairness_passed": fairness_passed,
        "roc_auc": roc_auc,
        "min_roc_auc": gate.min_roc_auc,
    }
    if not fairness_passed:
        failures = _fairness_failures(client, str(candidate.run_id))
        decision.reasons.append("fairness gate failed" + (f": {'; '.join(failures)}" if failures else ""))
    if not roc_auc >= gate.min_roc_auc:
        decision.reasons.append(f"holdout ROC-AUC {roc_auc:.4f} is below the floor {gate.min_roc_auc:.4f}")
    if champion is None or decision.reasons:
        return
    holdout = load_run_frame(client, str(candidate.run_id), HOLDOUT_ARTIFACT)
    from attrition.training.evaluation import evaluate

    challenger_auc = evaluate(load_model_version(settings, str(candidate.version)), holdout)["roc_auc"]
    champion_auc = evaluate(load_model_version(settings, champion), holdout)["roc_auc"]
    drop = champion_auc - challenger_auc
    decision.checks |= {
        "champion_version": champion,
        "champion_roc_auc_on_holdout": champion_auc,
        "challenger_roc_auc_on_holdout": challenger_auc,
        "roc_auc_drop": drop,
        "max_roc_auc_drop": gate.max_roc_auc_drop,
        "holdout_rows": len(holdout),
    }
    if drop > gate.max_roc_auc_drop:
        decision.reasons.append(
            f"ROC-AUC {challenger_auc:.4f} on its holdout is {drop:.4f} below champion version {champion} "
            f"({champion_auc:.4f}); the tolerance is {gate.max_roc_auc_drop:.4f}"
        )


def _fairness_failures(client: MlflowClient, run_id: str) -> list[str]:
    try:
        summary = load_run_json(client, run_id, FAIRNESS_ARTIFACT)
    except Exception:  # the reason without detail is still the reason
        return []
    failures = summary.get("failures") or []
    return [str(f) for f in failures]


def _record_refusal(
    client: MlflowClient, settings: Settings, engine: sa.Engine, decision: PromotionDecision, actor: str
) -> None:
    name = settings.model_name
    reasons = "; ".join(decision.reasons)
    client.set_model_version_tag(name, decision.version, "promotion_refused_at", now_iso())
    client.set_model_version_tag(name, decision.version, "promotion_refused_reason", reasons[:4000])
    record_audit(
        engine,
        actor,
        ACTION_REFUSED,
        f"{name}@{CHAMPION}",
        {"version": decision.version, "champion": decision.previous_champion, "reasons": decision.reasons}
        | {"checks": jsonable(decision.checks)},
        AuditOutcome.REFUSED,
    )
    logger.warning("promotion of %s version %s refused: %s", name, decision.version, reasons)


def _refused(
    engine: sa.Engine,
    actor: str,
    action: str,
    subject: str,
    why: str,
    outcome: AuditOutcome = AuditOutcome.REFUSED,
) -> RegistryError:
    """Record an alias move that could not be done (``refused``, or ``not_found``); the error to raise."""
    record_audit(engine, actor, action, subject, {"reason": why}, outcome)
    return RegistryError(why)


def rollback(settings: Settings, *, actor: str | None = None, reason: str | None = None) -> PromotionDecision:
    """Point ``champion`` back at the champion it replaced (from tags, else the audit trail)."""
    client = configure(settings)
    engine = audit_engine(settings)
    actor = actor or default_actor()
    name = settings.model_name
    current = alias_version(client, name, CHAMPION)
    subject = f"{name}@{CHAMPION}"
    if current is None:
        raise _refused(
            engine, actor, ACTION_ROLLBACK, subject, f"model {name!r} has no {CHAMPION} to roll back"
        )
    target = _previous_champion(client, engine, name, current)
    if target is None:
        why = f"{CHAMPION} version {current} has no previous champion to roll back to"
        raise _refused(engine, actor, ACTION_ROLLBACK, subject, why)
    why = reason or f"rollback from version {current}"
    # The restored version keeps its own history: its previous champion stays what it was.
    key = f"{CHAMPION}_previous"
    history = model_version(client, name, target).tags.get(key)
    move_alias(
        client, settings, engine, CHAMPION, target, actor, why, ACTION_ROLLBACK, {"rolled_back": current}
    )
    if history is None:
        client.delete_model_version_tag(name, target, key)
    else:
        client.set_model_version_tag(name, target, key, history)
    client.set_model_version_tag(name, current, "rolled_back_at", now_iso())
    client.set_model_version_tag(name, current, "rolled_back_by", actor)
    _write_reference(settings, client, target)
    return PromotionDecision(promoted=True, version=target, previous_champion=current, reasons=[why])


def _previous_champion(client: MlflowClient, engine: sa.Engine, name: str, current: str) -> str | None:
    """The champion ``current`` replaced when it was promoted (tag, else the audit trail).

    Rollbacks do not count: rolling back twice walks further back, never forward again.
    """
    tags = model_version(client, name, current).tags
    key = f"{CHAMPION}_previous"
    if key in tags:
        return tags[key] or None
    done = AuditFilter(action=ACTION_PROMOTE, outcome=AuditOutcome.OK, limit=1000)
    for event in list_audit(engine, where=done):
        detail = event.get("detail") or {}
        if event["subject"] == f"{name}@{CHAMPION}" and str(detail.get("to_version")) == current:
            return str(detail["from_version"]) if detail.get("from_version") else None
    return None


def refresh_reference(settings: Settings) -> str:
    """Rewrite the drift reference data from the current champion; returns its version."""
    client = configure(settings)
    version = alias_version(client, settings.model_name, CHAMPION)
    if version is None:
        raise RegistryError(
            f"no {CHAMPION} of {settings.model_name!r} to take reference data from: "
            "train and promote one first (`attrition train --promote`)"
        )
    _write_reference(settings, client, version)
    return version


def _write_reference(settings: Settings, client: MlflowClient, version: str) -> None:
    from attrition.reference import write_reference

    run_id = str(model_version(client, settings.model_name, version).run_id)
    write_reference(
        settings,
        load_model_version(settings, version),
        load_run_frame(client, run_id, REFERENCE_SAMPLE_ARTIFACT),
        model_version=version,
        summary=load_run_json(client, run_id, SUMMARY_ARTIFACT),
        run_id=run_id,
    )
