from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "backend.booking"
    label = "booking"

    def ready(self) -> None:
        from .visibility_comms import register as register_comms  # models are loaded only now

        register_comms()
