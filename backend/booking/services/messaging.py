"""How a message reaches a client: Telegram when their phone belongs to an account linked to Telegram, else SMS.

Every message goes through the outbox inside the caller's transaction (``message_enqueue``), once per dedupe key.
Consent: marketing (mailings, birthday greetings) needs both the marketing and the messages consent; service messages
about a client's own visit or waiting-list entry need the messages consent, or that the client booked or joined
themselves through a customer account (asking for the visit is asking to hear about it) — decision 0011.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import translation

from backend.accounts.models import User
from backend.crm.models import Client
from backend.notifications.models import Channel, OutboxMessage
from backend.notifications.services import PushNote, message_enqueue


@dataclass(frozen=True)
class Route:
    """Where a client's message goes: the channel, the recipient on it and the account it belongs to (if any)."""

    channel: str
    recipient: str
    user: User | None


def client_route(client: Client) -> Route:
    """The channel for ``client``: Telegram if an active account with their phone is linked to it, else SMS."""
    user = User.objects.filter(phone=client.phone, is_active=True).first()
    if user is not None and user.telegram_user_id is not None:
        return Route(Channel.TELEGRAM, str(user.telegram_user_id), user)
    return Route(Channel.SMS, client.phone, user)


def routes_for(clients: list[Client]) -> dict[int, Route]:
    """``client_route`` for many clients with one query for their accounts."""
    users = {u.phone: u for u in User.objects.filter(phone__in={c.phone for c in clients}, is_active=True)}
    out: dict[int, Route] = {}
    for client in clients:
        user = users.get(client.phone)
        if user is not None and user.telegram_user_id is not None:
            out[client.pk] = Route(Channel.TELEGRAM, str(user.telegram_user_id), user)
        else:
            out[client.pk] = Route(Channel.SMS, client.phone, user)
    return out


def client_message_enqueue(
    *,
    client: Client,
    body: str,
    dedupe_key: str,
    route: Route | None = None,
    payload: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    sms_fallback: bool = False,
    push: PushNote | None = None,
) -> tuple[OutboxMessage, bool]:
    """Queue ``body`` for ``client`` in the caller's transaction; ``(message, created)`` as ``message_enqueue``.

    ``push``: also push it to the phones of the client's account (when there is one with registered devices)."""
    route = route or client_route(client)
    return message_enqueue(
        channel=route.channel,
        recipient=route.recipient,
        body=body,
        dedupe_key=dedupe_key[:200],
        user=route.user,
        organization_id=client.organization_id,
        payload=payload if route.channel == Channel.TELEGRAM else None,
        expires_at=expires_at,
        sms_fallback=sms_fallback,
        push=push,
    )


def organization_language(organization: Any) -> translation.override:
    """A context in which gettext speaks the organization's language (its clients read it)."""
    return translation.override(getattr(organization, "language", None) or "ru")


def customer_owns(*, user: Any, customer_id: int | None, client: Client) -> bool:
    """Whether ``user`` acts as the client themselves: the account that booked (or joined), or the account with the
    client's phone (a client booked by staff who later signs in to the app with that phone)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return (customer_id is not None and customer_id == user.pk) or (bool(client.phone) and client.phone == user.phone)
