"""Secrets in outgoing messages (one-time codes): sealed at rest, filled in only at send time.

A message that carries a secret is written with ``SECRET_SLOT`` where the secret goes, so the stored body is
readable by an operator and holds nothing worth stealing, and with the secret itself *sealed*: encrypted and
authenticated (Fernet: AES-128-CBC + HMAC-SHA256) under a key derived from ``SECRET_KEY``. The delivery worker
unseals it into an in-memory copy of the message just for the provider call; the row never holds the clear text.
Every terminal or reconcile state erases the sealed value too (``dispatch`` and the operator actions), so a
database dump, a backup or a replica shows at most a ciphertext of a code that is still being delivered, and its
key is not in the database.

``SECRET_KEY_FALLBACKS`` are tried when unsealing, so a key rotation does not strand codes already queued.
"""

from __future__ import annotations

import base64
import copy

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

from .models import OutboxMessage

# The place of the secret in a stored body. Chosen to be unmistakable in the admin and never produced by a
# translation (it is inserted as a value, not part of any message id).
SECRET_SLOT = "\u27e6secret\u27e7"
_KEY_SALT = "brigada.notifications.sealing"


class SecretUnavailable(Exception):
    """The sealed secret cannot be opened: erased already, or sealed under a key that is no longer configured."""


def _fernet(secret_key: str | bytes) -> Fernet:
    digest = salted_hmac(_KEY_SALT, "outbox secret key", secret=secret_key, algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    return MultiFernet([_fernet(settings.SECRET_KEY), *(_fernet(k) for k in settings.SECRET_KEY_FALLBACKS)])


def secret_seal(plain: str) -> str:
    """Encrypt ``plain`` under the current ``SECRET_KEY`` (a fresh random IV each time)."""
    return _keys().encrypt(plain.encode()).decode("ascii")


def secret_unseal(sealed: str) -> str:
    """The clear secret; raises ``SecretUnavailable`` when it was erased or its key is gone."""
    if not sealed:
        raise SecretUnavailable("the secret was erased")
    try:
        return _keys().decrypt(sealed.encode("ascii")).decode()
    except InvalidToken as exc:
        raise SecretUnavailable("sealed under a key that is no longer configured") from exc


def message_for_provider(message: OutboxMessage) -> OutboxMessage:
    """What a backend sends: an unsaved copy of ``message`` with its secret filled in.

    Never save the copy (dispatch only writes through conditional UPDATEs of named fields): it is the one place
    the clear secret exists, in this process's memory for the duration of a provider call.
    """
    if SECRET_SLOT not in message.body:
        return message
    outgoing = copy.copy(message)
    outgoing.body = message.body.replace(SECRET_SLOT, secret_unseal(message.sealed_secret))
    return outgoing
