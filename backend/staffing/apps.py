from django.apps import AppConfig


class StaffingConfig(AppConfig):
    name = "backend.staffing"
    label = "staffing"
    verbose_name = "Staffing"

    def ready(self) -> None:
        from .visibility import register  # models are loaded only now

        register()
