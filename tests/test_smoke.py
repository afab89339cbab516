from proxies.models import ReloadState


def test_migrations_create_the_reload_state_row(db):
    assert ReloadState.objects.get(pk=1).desired_generation == 0
