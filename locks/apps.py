from django.apps import AppConfig


class LocksConfig(AppConfig):
    name = "locks"
    verbose_name = "Canvas locks"

    def ready(self) -> None:
        from locks import signals  # noqa: F401  (connects the audit receivers)
