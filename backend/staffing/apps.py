from django.apps import AppConfig


class StaffingConfig(AppConfig):
    name = "backend.staffing"
    label = "staffing"
    verbose_name = "Staffing"
