"""Names unique per organization "in any case": one key the database holds the rule on.

SQLite's ``lower()`` folds ASCII only, so a ``Lower("name")`` index let "ВИП" and "вип" both in. The key is made in
Python instead, the same on every database: the name case-folded (full Unicode, Kazakh letters included) with its
whitespace collapsed, stored in a column with a plain unique constraint, and what importers match names on.
"""

from __future__ import annotations

from typing import Any

from django.db import models

#: Case folding may lengthen a name ("ß" becomes "ss"); three times the name's length is always enough.
NAME_KEY_MAX_LENGTH = 300


def name_key(name: str | None) -> str:
    """The comparison key of a name: case-folded, runs of whitespace made one space, stripped."""
    return " ".join((name or "").casefold().split())


class NameKeyField(models.CharField):
    """A column holding ``name_key`` of another field (``source``), recomputed on every save and bulk insert.

    Computed in ``pre_save``, which ``Model.save()``, ``bulk_create`` and ``backend.core.bulk_sql`` all call, so
    no write path can store a name without its key. (``QuerySet.update(name=...)`` cannot; nothing does that.)
    """

    def __init__(self, *args: Any, source: str = "name", **kwargs: Any) -> None:
        self.source = source
        kwargs.setdefault("max_length", NAME_KEY_MAX_LENGTH)
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.source != "name":
            kwargs["source"] = self.source
        return name, path, args, kwargs

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = name_key(getattr(model_instance, self.source))
        setattr(model_instance, self.attname, value)
        return value


def name_keys_fill(model: type[models.Model]) -> None:
    """Fill ``name_key`` of every existing row of ``model`` (a data migration's step, given the historical model).

    Rows of one organization whose names fold to one key ("ВИП" and "вип", stored while SQLite let them in) cannot
    both stay under the unique constraint, and which one should is a business decision: refuse, naming them all.
    """
    rows = list(model._default_manager.order_by("id"))
    groups: dict[tuple[Any, str], list[Any]] = {}
    for row in rows:
        row.name_key = name_key(row.name)  # type: ignore[attr-defined]
        groups.setdefault((row.organization_id, row.name_key), []).append(row)  # type: ignore[attr-defined]
    clashes = [group for group in groups.values() if len(group) > 1]
    if clashes:
        listed = "; ".join(
            f"organization {group[0].organization_id}: " + ", ".join(f"#{r.pk} {r.name!r}" for r in group)
            for group in clashes
        )
        raise RuntimeError(
            f"Cannot make {model._meta.label} names unique in any case: these rows differ only in case or spacing "
            f"({listed}). Rename or merge them, then run the migration again."
        )
    model._default_manager.bulk_update(rows, ["name_key"], batch_size=500)
