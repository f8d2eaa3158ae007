"""Per-model "may this user still see these rows?" checks, registered by the apps that own the models.

Core may not import the apps, yet the Idempotency-Key layer must re-check, before replaying an answer, every
object the request wrote (``backend.core.access_trace``): a client deleted since is as gone from the replay as it
is from ``GET``. Each app registers, in its ``AppConfig.ready()``, the rule its own selectors apply; a model with
no registered rule is covered by the organization grants alone.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from django.apps import apps

# (user, primary keys) -> the subset of those keys the user may still see
VisibleIds = Callable[[Any, Sequence[int]], Collection[int]]

_CHECKS: dict[str, VisibleIds] = {}
# Bounded IN lists: an import notes thousands of rows, and SQLite caps the variables of one statement.
_CHUNK = 500


def visibility_register(label: str, visible: VisibleIds) -> None:
    """Register the visibility rule of the model ``label`` (``app_label.model_name``, lower case)."""
    _CHECKS[label.lower()] = visible


def visibility_registered(label: str) -> bool:
    """Whether the model ``label`` has a registered visibility rule."""
    return label.lower() in _CHECKS


def entities_visible(user: Any, entities: Mapping[str, Sequence[str]]) -> bool:
    """True when ``user`` may still see every listed row of each model with a registered rule.

    Rows of models without a rule are not checked here (their organization grants are); a key that is not an
    integer cannot name a row of a registered model and counts as not visible.
    """
    for label, pks in entities.items():
        visible = _CHECKS.get(label.lower())
        if visible is None:
            continue
        try:
            ids = sorted({int(pk) for pk in pks})
        except (TypeError, ValueError):
            return False
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            if len(set(visible(user, chunk))) != len(chunk):
                return False
    return True


def entities_committed(entities: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """``entities`` without the rows of registered models that do not exist (any more) in this transaction.

    The trace notes a row when its event is recorded, even inside a savepoint that is later rolled back (an import
    whose write conflicted answers with its failed job): such a row was never part of the answer. Rows are soft
    deleted, never removed, so a row missing here is one that never committed. Call before the answer is stored.
    """
    kept: dict[str, list[str]] = {}
    for label, pks in entities.items():
        if label.lower() not in _CHECKS:
            kept[label] = list(pks)
            continue
        manager = apps.get_model(label)._base_manager  # every row, whatever the default manager hides
        wanted = [pk for pk in pks if str(pk).isdigit()]
        present: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = [int(pk) for pk in wanted[start : start + _CHUNK]]
            present |= {str(pk) for pk in manager.filter(pk__in=chunk).values_list("pk", flat=True)}
        if rows := [pk for pk in pks if pk in present]:
            kept[label] = rows
    return kept
