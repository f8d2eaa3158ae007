from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "backend.crm"
    label = "crm"

    def ready(self) -> None:
        from .visibility import register  # models are loaded only now

        register()
