"""What the commands of this app print, kept apart from the command classes so that
`import backup` (a subcommand of domains' `import` command) shares it."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from serweb.text import plural


def restore_backup(command: BaseCommand, path: str) -> None:
    """Restore the backup at ``path``; every problem on stderr, one per line."""
    from portability.backup import BackupRejected, backup_restore

    try:
        summary = backup_restore(actor=None, path=path)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except BackupRejected as exc:
        for problem in exc.problems:
            command.stderr.write(f"{path}: {problem}")
        raise CommandError(
            f"{path}: {plural(len(exc.problems), 'problem')}; nothing restored"
        ) from None
    written = summary.written
    command.stdout.write(
        f"restored {plural(written.tenants, 'tenant')} ({plural(written.claims, 'claim')}), "
        f"{plural(written.domains, 'domain')} ({plural(written.names, 'name')}, "
        f"{plural(written.attributes, 'attribute')}), "
        f"{plural(written.subscribers, 'subscriber')} "
        f"({plural(written.valid_froms, 'valid From identity', 'valid From identities')}, "
        f"{plural(written.user_aliases, 'user alias', 'user aliases')}) and "
        f"{plural(written.proxies, 'proxy', 'proxies')} from {Path(path).name}"
    )
    if summary.passwords_dropped:
        command.stderr.write(
            f"note: left out {plural(summary.passwords_dropped, 'clear password')}: "
            "SERWEB_STORE_CLEAR_PASSWORDS is off (the hashes are restored)"
        )
