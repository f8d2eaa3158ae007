"""Django's ``createsuperuser``, with the new superuser recorded in the event log.

A superuser made from the shell is the largest privilege grant there is; Django performs the write, this command
adds the ``create`` and ``privilege_change`` events naming the operating-system account that ran it.
(``backend.accounts`` is listed before ``django.contrib.auth`` so that this command replaces Django's.)
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction
from django.db.models import Max

from backend.accounts.management.operator import os_operator
from backend.accounts.models import User
from backend.accounts.services import superuser_created_record


class Command(createsuperuser.Command):
    help = "Create a superuser; the creation and the grant are recorded in the event log."

    def handle(self, *args: Any, **options: Any) -> None:
        users = User.objects.using(options["database"])
        last_pk = users.aggregate(last=Max("pk"))["last"] or 0
        # Django's command prompts for input: no transaction may stay open (and lock SQLite) while it waits.
        super().handle(*args, **options)
        with transaction.atomic(using=options["database"]):
            for user in users.filter(pk__gt=last_pk, is_superuser=True).order_by("pk"):
                superuser_created_record(user=user, created_by=f"createsuperuser ({os_operator()})")
