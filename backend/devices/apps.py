from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "backend.devices"
    label = "devices"

    def ready(self) -> None:
        # The outbox knows nothing of devices: this app plugs its push backend into the outbox's channel hook.
        from backend.notifications.backends import channel_backend_register

        from .push import PUSH_CHANNEL, push_backend

        channel_backend_register(PUSH_CHANNEL, push_backend)
