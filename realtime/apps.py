from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time"

    def ready(self) -> None:
        from realtime.delivery import signals  # noqa: F401  (connects the event-log receivers)
