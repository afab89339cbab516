"""Query parameters the API's lists and deletes read: a value that is not one of the
parameter's is a 400 naming it (django-filter would ignore a bad boolean and list all)."""

import django_filters
from django import forms
from django.db import models
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.rest_framework import FilterSet as RestFilterSet

FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
FLAG_ERROR = "expected true or false"


def parse_flag(raw: str) -> bool | None:
    """True or False for one of FLAGS' spellings, None for anything else."""
    return FLAGS.get(raw.lower())


class _FlagField(forms.Field):
    def to_python(self, value):
        if value in self.empty_values:
            return None
        flag = parse_flag(value)
        if flag is None:
            raise forms.ValidationError(FLAG_ERROR, code="invalid")
        return flag


class BooleanFilter(django_filters.BooleanFilter):
    field_class = _FlagField


class _UUIDField(forms.UUIDField):
    def clean(self, value):
        # Absent is no filter; present but empty is not a UUID.
        if value == "":
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().clean(value)


class UUIDFilter(django_filters.UUIDFilter):
    field_class = _UUIDField


class FilterSet(RestFilterSet):
    FILTER_DEFAULTS = {
        **RestFilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class FilterBackend(DjangoFilterBackend):
    filterset_base = FilterSet
