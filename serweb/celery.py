import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serweb.settings")

app = Celery("serweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The DNS tasks are in a package of the domains app: domains.dns.tasks.
app.autodiscover_tasks(["domains.dns"])


def task_named(name: str):
    """The task registered as ``name``, for the code its task module imports: that code
    queues it by name instead of importing the task module back. Its ``apply_async`` and
    ``delay`` run it in-process without a broker (``app.send_task`` never would)."""
    if name not in app.tasks:
        # A web request or a command imports no task module by itself: discover them.
        app.loader.import_default_modules()
    return app.tasks[name]
