"""Template filters that show money and quantities the way every other FinSync page does (sync.formatting)."""

from __future__ import annotations

from django import template

from sync import formatting

register = template.Library()


@register.filter
def money(value, currency=""):
    """`{{ t.amount|money:t.currency }}` -> '-31.49 USD'."""
    return formatting.money(value, currency or "")


@register.filter
def quantity(value):
    """`{{ h.quantity|quantity }}` -> '12.5'."""
    return formatting.quantity(value)


@register.filter
def price(value):
    """`{{ h.price|price }}` -> '187.25'."""
    return formatting.price(value)


@register.filter
def duration(value):
    """`{{ run.duration|duration }}` -> '1.2 s'."""
    return formatting.duration(value)
