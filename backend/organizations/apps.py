from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "backend.organizations"
    label = "organizations"
