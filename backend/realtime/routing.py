from django.urls import path

from backend.booking.consumers import JournalConsumer
from backend.staffing.consumers import BoardConsumer

from .consumers import EventsConsumer

websocket_urlpatterns = [
    path("ws/v1/events/", EventsConsumer.as_asgi()),
    path("ws/v1/booking/journal/", JournalConsumer.as_asgi()),
    path("ws/v1/staffing/board/", BoardConsumer.as_asgi()),
]
