"""serweb/errors.py: a service's ValidationError by field, onto a form, on one CLI line."""

import pytest
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from serweb.errors import add_to_form, error_fields, error_line, errors_under


class AliasForm(forms.Form):
    name = forms.CharField(required=False)
    owner = forms.CharField(required=False)


def test_error_fields_keeps_the_services_keys_and_puts_plain_messages_apart():
    keyed = ValidationError({"name": ["taken"], "password": ["short", "common"]})
    assert error_fields(keyed) == {"name": ["taken"], "password": ["short", "common"]}
    assert error_fields(ValidationError("nothing in particular")) == {
        NON_FIELD_ERRORS: ["nothing in particular"]
    }


def test_error_fields_renames_an_argument_to_the_callers_name_and_merges():
    exc = ValidationError({"owner_username": ["taken"], "owner": ["also"], "name": ["x"]})
    assert error_fields(exc, fields={"owner_username": "owner"}) == {
        "owner": ["taken", "also"],
        "name": ["x"],
    }


def test_add_to_form_puts_each_message_next_to_its_field():
    form = AliasForm(data={})
    assert form.is_valid()
    exc = ValidationError({"owner_username": ["taken"], "name": ["bad"], "did": ["no field"]})

    add_to_form(form, exc, fields={"owner_username": "owner"})

    assert form.errors["owner"] == ["taken"]
    assert form.errors["name"] == ["bad"]
    assert form.non_field_errors() == ["no field"]


def test_error_line_is_one_line_naming_the_callers_option():
    exc = ValidationError({"owner_username": ["the account 'bob'\nis taken"], "name": ["bad"]})
    assert error_line(exc, fields={"owner_username": "owner"}) == (
        "owner: the account 'bob' is taken; name: bad"
    )
    assert error_line(ValidationError("plain")) == "plain"


@pytest.mark.parametrize(
    "raised",
    [
        ValidationError("plain", code="plain_code"),
        ValidationError({"value": ValidationError("plain", code="plain_code")}),
    ],
)
def test_errors_under_keys_what_a_check_raises_by_the_argument_it_checked(raised):
    with pytest.raises(ValidationError) as caught:
        with errors_under("attributes"):
            raise raised

    assert error_fields(caught.value) == {"attributes": ["plain"]}
    assert [e.code for e in caught.value.error_dict["attributes"]] == ["plain_code"]


def test_errors_under_lets_a_block_without_error_through():
    with errors_under("name"):
        value = 1 + 1
    assert value == 2
