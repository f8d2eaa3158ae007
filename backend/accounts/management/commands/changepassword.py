"""Django's ``changepassword``, with the change recorded in the event log (never the password or its hash).

(``backend.accounts`` is listed before ``django.contrib.auth`` so that this command replaces Django's.)
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword

from backend.accounts.management.operator import os_operator
from backend.accounts.models import User
from backend.accounts.services import user_password_change_record


class Command(changepassword.Command):
    help = "Change a user's password; the change is recorded in the event log."

    def handle(self, *args: Any, **options: Any) -> str:
        users = User.objects.using(options["database"])
        username = options["username"] or getpass.getuser()
        stored = users.filter(**{User.USERNAME_FIELD: username}).values_list("pk", "password").first()
        result = str(super().handle(*args, **options))
        if stored is not None:
            user = users.get(pk=stored[0])
            if user.password != stored[1]:
                user_password_change_record(user=user, actor=None, note=f"changepassword ({os_operator()})")
        return result
