from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "backend.devices"
    label = "devices"

    def ready(self) -> None:
        # The outbox knows nothing of devices: this app plugs its push backend into the outbox's channel hook.
        from backend.notifications.backends import channel_backend_register
        from backend.notifications.services import push_producer_register

        from .push import PUSH_CHANNEL, push_backend
        from .services import push_note_enqueue

        channel_backend_register(PUSH_CHANNEL, push_backend)
        # ... and turns the outbox's push notes (an offer, a reminder) into one push per device of the user.
        push_producer_register(push_note_enqueue)
