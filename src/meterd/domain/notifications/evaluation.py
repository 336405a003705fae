"""Periodic balance-threshold evaluation.

For every namespace with an active ``entitlements.balance.threshold`` rule,
read the metered entitlements from ``BalanceSource``, decide which
thresholds each rule newly crosses (``thresholds.crossed``) and store one
event per crossing. Thresholds that already fired in the current usage
period are skipped by their dedupe key; a concurrent evaluator that races
past that check loses at the store's unique index instead.
"""

from __future__ import annotations

import logging

from meterd.domain.notifications.models import EventType, NotificationEvent
from meterd.domain.notifications.payloads import threshold_data
from meterd.domain.notifications.ports import BalanceSource, NotificationStore
from meterd.domain.notifications.service import NotificationService
from meterd.domain.notifications.thresholds import crossed, dedupe_key

log = logging.getLogger("meterd.notifications")


class BalanceEvaluator:
    def __init__(
        self, store: NotificationStore, notifications: NotificationService, source: BalanceSource
    ) -> None:
        self._store = store
        self._notifications = notifications
        self._source = source

    def evaluate(self, namespace: str | None = None) -> list[NotificationEvent]:
        """Evaluate one namespace, or every namespace with threshold rules."""
        namespaces = (
            [namespace]
            if namespace is not None
            else self._store.namespaces_with_rules(EventType.BALANCE_THRESHOLD)
        )
        out: list[NotificationEvent] = []
        for ns in namespaces:
            try:
                out.extend(self._evaluate(ns))
            except Exception:
                # One namespace's failure (say, an entitlement whose meter
                # was deleted) must not starve the others of notifications.
                log.exception("balance threshold evaluation failed for namespace %s", ns)
        return out

    def _evaluate(self, namespace: str) -> list[NotificationEvent]:
        rules = self._store.active_rules(namespace, EventType.BALANCE_THRESHOLD)
        if not rules:
            return []
        decisions = []
        for standing in self._source.metered_entitlements(namespace):
            for rule in rules:
                if not rule.covers_feature(standing.feature_id, standing.feature_key):
                    continue
                for threshold in crossed(rule.thresholds, standing):
                    key = dedupe_key(rule.id, standing, threshold)
                    decisions.append((key, rule, standing, threshold))
        if not decisions:
            return []
        fired = self._store.existing_dedupe_keys(namespace, [d[0] for d in decisions])
        out: list[NotificationEvent] = []
        for key, rule, standing, threshold in decisions:
            if key in fired:
                continue
            event = self._notifications.emit(
                rule, threshold_data(standing, threshold), dedupe_key=key
            )
            if event is not None:
                out.append(event)
        return out
