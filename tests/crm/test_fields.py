"""Each client field is defined once (backend/crm/fields.py); every list the layers use is derived from it.

These tests hold the layers to the registry: a field added to the model but not to the registry, or a layer that
grows its own list again, fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import backend.crm.services as crm_services
from backend.crm import fields
from backend.crm.fields import CLIENT_FIELDS, Clean, Merge
from backend.crm.models import Client
from backend.imports import services as import_services
from mobile_api.crm import schemas

# Columns the services maintain themselves (keys, tenancy, timestamps, denormalised search and sort).
INTERNAL = {"id", "organization", "created_at", "updated_at", "search_text", "name_key"}


def test_every_client_model_field_is_in_the_registry_or_internal() -> None:
    model_fields = {f.name for f in Client._meta.get_fields() if f.concrete or f.many_to_many}
    assert {f.name for f in CLIENT_FIELDS} == model_fields - INTERNAL
    assert len({f.name for f in CLIENT_FIELDS}) == len(CLIENT_FIELDS)


def test_the_layers_use_the_derived_lists() -> None:
    assert crm_services.CLIENT_UPDATABLE is fields.CLIENT_UPDATABLE
    assert crm_services.CLIENT_EVENT_FIELDS is fields.CLIENT_EVENT_FIELDS
    from backend.crm import selectors

    assert selectors.CLIENT_SORTS is fields.CLIENT_SORTS
    assert import_services.CLIENT_COLUMNS is fields.CLIENT_IMPORT_COLUMNS
    from backend.crm import admin as crm_admin

    assert crm_admin.ClientAdminForm._meta.fields == fields.CLIENT_FORM_FIELDS


def test_the_derived_lists_say_what_the_layers_did_before() -> None:
    assert set(fields.CLIENT_UPDATABLE) == {
        "phone",
        "first_name",
        "last_name",
        "middle_name",
        "code",
        "birthday",
        "gender",
        "email",
        "notes",
        "extra_contact",
        "source_id",
        "group_ids",
        "curator_id",
        "consents",
    }
    assert fields.CLIENT_IMPORT_COLUMNS == (
        "phone",
        "last_name",
        "first_name",
        "middle_name",
        "code",
        "birthday",
        "gender",
        "email",
        "source",
        "groups",
        "notes",
        "extra_contact",
        "consent_messages_at",
        "consent_marketing_at",
        "consent_personal_data_at",
    )
    assert set(fields.CLIENT_NULLABLE) == {"birthday", "source_id", "curator_id"}
    assert "groups" not in fields.CLIENT_EVENT_FIELDS and "search_text" not in fields.CLIENT_EVENT_FIELDS
    assert set(fields.merge_fields(Merge.FILL)) == {
        "first_name",
        "last_name",
        "middle_name",
        "birthday",
        "gender",
        "email",
        "source",
        "curator",
        "extra_contact",
    }
    assert fields.merge_fields(Merge.MOVE) == ("code",) and fields.merge_fields(Merge.JOIN) == ("notes",)
    assert fields.CLIENT_SORTS == {
        "name": "name_key",
        "first_name": "first_name",
        "last_name": "last_name",
        "middle_name": "middle_name",
        "phone": "phone",
        "email": "email",
        "code": "code",
        "gender": "gender",
        "birthday": "birthday",
        "source": "source__name",
        "curator": "curator__last_name",
        "last_visit_at": "last_visit_at",
        "created_at": "created_at",
        "updated_at": "updated_at",
        "deleted_at": "deleted_at",
        "consent_messages_at": "consent_messages_at",
        "consent_marketing_at": "consent_marketing_at",
        "consent_personal_data_at": "consent_personal_data_at",
        "id": "id",
    }


@pytest.mark.parametrize("schema", [schemas.ClientCreateIn, schemas.ClientPatchIn])
def test_the_api_input_schemas_carry_exactly_the_updatable_fields(schema) -> None:
    assert set(schema.model_fields) - {"organization_id"} == set(fields.CLIENT_UPDATABLE)


@pytest.mark.parametrize("schema", [schemas.ClientCreateIn, schemas.ClientPatchIn])
def test_the_api_input_lengths_mirror_the_model_columns(schema) -> None:
    # The phone is the exception: it arrives formatted ("+7 (701) 123-45-67") and is stored as E.164.
    for name in (*fields.CLIENT_CLEAN_FIELDS[Clean.TEXT], *fields.CLIENT_CLEAN_FIELDS[Clean.EMAIL]):
        limits = [m.max_length for m in schema.model_fields[name].metadata if hasattr(m, "max_length")]
        assert limits == [Client._meta.get_field(name).max_length], name


def test_the_services_package_is_split_by_rule_and_reexports_every_public_name() -> None:
    modules = {m.name for m in pkgutil.iter_modules(crm_services.__path__)}
    assert modules == {"clients", "merge", "sources_groups", "vehicles", "vehicles_bulk", "client_import"}
    for name in modules:
        module = importlib.import_module(f"backend.crm.services.{name}")
        public = {
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and getattr(obj, "__module__", None) == module.__name__
            and (inspect.isfunction(obj) or inspect.isclass(obj))
        }
        assert public <= set(crm_services.__all__), (name, public - set(crm_services.__all__))
        for n in public:
            assert getattr(crm_services, n) is getattr(module, n)


def test_no_client_field_list_is_spelled_out_again_in_the_layers() -> None:
    """A tuple naming several client fields by hand is how the five copies began."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [
        *sorted((root / "backend" / "crm").rglob("*.py")),
        root / "backend" / "imports" / "services.py",
        root / "backend" / "imports" / "selectors.py",
        root / "mobile_api" / "crm" / "router.py",
    ]
    offenders = []
    for path in files:
        if path.name == "fields.py" or "migrations" in path.parts:
            continue
        text = path.read_text()
        # a list element on its own line ("first_name", or c.first_name,), as the old copies were written
        listed = {m.group(2) for m in re.finditer(r'^\s*("|c\.)(first_name|extra_contact)"?,$', text, re.MULTILINE)}
        if listed == {"first_name", "extra_contact"}:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
