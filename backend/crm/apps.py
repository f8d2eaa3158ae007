from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "backend.crm"
    label = "crm"
