from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "backend.booking"
    label = "booking"

    def ready(self) -> None:
        from .visibility import register  # models are loaded only now
        from .visibility_comms import register as register_comms

        register()
        register_comms()
