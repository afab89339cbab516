"""DNS for serweb, one module per concern (DNS.md has the facts and the policy).

Below the services, no ORM: ``wire`` (the wire format), ``client`` (answers and the lean
UDP client), ``resolution`` (dnspython's resolver, the only dnspython import; zones and
their servers), ``sip`` (RFC 3263: does a domain point at us), ``policy`` (the settings),
``observation`` (a domain's records gathered asynchronously), ``lifecycle`` (pure: an
outcome in, a transition out, for a domain and for each of its host names), ``check_rows``
(what an observation writes on a check row), ``sweep`` (a housekeeping run's DNS work).
The services: ``name_policy``, ``verification``, ``names`` (each host name's lifecycle),
``attributes``, ``claims``, ``slots`` and ``housekeeping``; the entry points: ``lookup``
(the proxy's on-demand endpoint) and ``tasks``.
"""
