import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

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


# A task's log lines name the request (or command run) that queued it: its id travels in
# the message's headers, and a task run in-process without a broker inherits it.
@before_task_publish.connect
def _carry_request_id(headers=None, **_kwargs) -> None:
    from serweb.logging import REQUEST_ID_HEADER, current_request_id

    if headers is not None and not headers.get(REQUEST_ID_HEADER):
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id


_origins: dict[str, object] = {}


@task_prerun.connect
def _take_request_id(task_id=None, task=None, **_kwargs) -> None:
    from serweb.logging import REQUEST_ID_HEADER, current_request_id, queued_by

    request_id = getattr(task.request, REQUEST_ID_HEADER, None) or current_request_id()
    _origins[task_id] = queued_by(request_id)


@task_postrun.connect
def _drop_request_id(task_id=None, **_kwargs) -> None:
    token = _origins.pop(task_id, None)
    if token is not None:
        try:
            token.var.reset(token)
        except ValueError:  # set in another context (a worker thread's): nothing to undo
            pass
