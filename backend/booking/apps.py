from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "backend.booking"
    label = "booking"

    def ready(self) -> None:
        from .visibility import register  # models are loaded only now

        register()
