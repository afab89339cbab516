"""What every list's FilterSet is built from, for the API and the pages alike: flags that
refuse what is not one (django-filter would ignore a bad boolean and list all), and search
and ordering parameters read as DRF's SearchFilter and OrderingFilter read them."""

import re
from collections.abc import Mapping, Sequence

import django_filters
from django import forms
from django.db import models
from django.db.models import QuerySet
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


def search_terms(value: str) -> list[str]:
    """The words of a search, split on white space and commas as DRF's SearchFilter does."""
    return [term for term in re.split(r"[\s,]+", value or "") if term]


class SearchFilter(django_filters.CharFilter):
    """``search=``: every word must match (``method`` says how one word matches)."""

    # The API documents it as DRF's own SearchFilter does.
    openapi_parameter = {
        "name": "search",
        "required": False,
        "in": "query",
        "description": "A search term.",
        "schema": {"type": "string"},
    }


class OrderingFilter(django_filters.CharFilter):
    """``ordering=field,-other`` as DRF's OrderingFilter reads it: the names of ``fields``
    (each naming what it orders by), a ``-`` for descending, names it does not know
    ignored, ``default`` when none is left. ``unique`` ends every ordering, so that equal
    values still come in one order (a page that follows another sees no row twice)."""

    openapi_parameter = {
        "name": "ordering",
        "required": False,
        "in": "query",
        "description": "Which field to use when ordering the results.",
        "schema": {"type": "string"},
    }

    def __init__(
        self,
        *,
        fields: Mapping[str, str],
        default: Sequence[str],
        unique: str = "pk",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.fields = dict(fields)
        self.default = list(default)
        self.unique = unique

    def terms(self, value: str | None) -> list[str]:
        """The ordering asked for, in the names of ``fields``; ``default`` if none."""
        terms = []
        for raw in (value or "").split(","):
            term = raw.strip()
            if term.lstrip("-") in self.fields and term not in terms:
                terms.append(term)
        return terms or list(self.default)

    def order_by(self, value: str | None) -> list[str]:
        """What to order the queryset by: the terms as fields, then ``unique``."""
        ordering = []
        for term in self.terms(value):
            descending = term.startswith("-")
            ordering.append(("-" if descending else "") + self.fields[term.lstrip("-")])
        if not any(field.lstrip("-") in (self.unique, "pk", "id") for field in ordering):
            ordering.append("-" + self.unique if ordering[-1].startswith("-") else self.unique)
        return ordering

    def filter(self, qs: QuerySet, value: str | None) -> QuerySet:
        # Also without a value: the default ordering is an ordering too.
        return qs.order_by(*self.order_by(value))
