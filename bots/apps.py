from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"
    label = "bots"
    verbose_name = "Telegram bot"
    default_auto_field = "django.db.models.BigAutoField"
