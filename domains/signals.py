"""The signal every service sends after writing anything a proxy caches (the domain table
and attributes; subscribers, valid From rows and user aliases are read per request).

Its receiver is the proxies app's (proxies/receivers.py): domains knows nothing of reloads.
Not ``post_save``: that misses ``update()``, ``bulk_create`` and raw SQL, and fires inside
the open transaction.
"""

from django.dispatch import Signal

domains_changed = Signal()
