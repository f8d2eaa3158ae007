"""Texts the bot says, and which language it says them in.

Conventions for every handler module:
- user-facing text goes through Django's gettext (``from django.utils.translation import gettext as _``) and is
  looked up *inside* the handler, while the update's language is active: ``bots.handlers.base.bot_handler``
  activates it (``translation.override``) around the handler, and the activation follows the handler into
  ``sync_to_async`` service calls (asgiref copies the context), so service error messages come translated too;
- module-level texts (button captions defined once) use ``gettext_lazy`` and are turned into ``str`` when sent;
- the language of an update: the one the user chose with /lang (stored per chat), else their linked account's,
  else Telegram's ``language_code`` when it is ru, kk or en, else the project default (``LANGUAGE_CODE``).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

SUPPORTED = ("ru", "kk", "en")
LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def default_language() -> str:
    code = str(settings.LANGUAGE_CODE).split("-", 1)[0]
    return code if code in SUPPORTED else "ru"


def supported_language(code: str | None) -> str | None:
    """``"ru-RU"`` -> ``"ru"``; a language we do not speak -> ``None``."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED else None


def telegram_language(code: str | None) -> str:
    """The language for Telegram's ``language_code``: ours when we speak it, else the default."""
    return supported_language(code) or default_language()


# --- texts shared by every flow (looked up at call time: the right language is active then) ---------------


def something_went_wrong() -> str:
    return _("Sorry, something went wrong on our side. Please try again in a minute.")


def button_stale() -> str:
    return _("This button is no longer valid.")


def not_linked() -> str:
    return _("Please open the link your salon or agency gave you, or send /start to link your phone.")


LANGUAGE_PROMPT = gettext_lazy("Choose your language:")
