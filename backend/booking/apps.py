from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "backend.booking"
    label = "booking"
