"""The proxy forms: shapes only; the rules (names free, addresses fit for the transport)
are the services' and land on the fields of the same names."""

from django import forms

from proxies.models import Proxy, ProxyTransport


def _length(field: str) -> int:
    return Proxy._meta.get_field(field).max_length


class ProxyForm(forms.Form):
    name = forms.CharField(max_length=_length("name"))
    transport = forms.ChoiceField(choices=ProxyTransport.choices)
    address = forms.CharField(
        max_length=_length("address"),
        help_text="The FIFO's absolute path, HOST:PORT of the datagram socket, or the "
        "http:// URL of the JSON-RPC endpoint.",
    )
    sip_address = forms.CharField(
        label="SIP address",
        max_length=_length("sip_address"),
        required=False,
        help_text="Optional HOST:PORT where the proxy answers SIP over UDP: serweb asks it "
        "for each changed name after a reload, to confirm what is live.",
    )


class ProxyEditForm(ProxyForm):
    enabled = forms.BooleanField(
        label="Reload this proxy",
        required=False,
        help_text="Off: serweb stops telling it about changes (it keeps what it loaded).",
    )
