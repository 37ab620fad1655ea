"""Small helpers for the admin tests."""

from __future__ import annotations

from django.urls import reverse


def messages_of(response) -> list[str]:
    """The admin messages shown on the page a followed response landed on."""
    return [str(message) for message in response.context["messages"]]


def changelist_url(model: str) -> str:
    return reverse(f"admin:sync_{model}_changelist")


def change_url(model: str, pk) -> str:
    return reverse(f"admin:sync_{model}_change", args=[pk])


def sync_url(model: str, pk) -> str:
    return reverse(f"admin:sync_{model}_sync", args=[pk])


def run_action(client, model: str, action: str, pks, **extra):
    """POST an admin action on the changelist, as the action form does, and follow the redirect."""
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], "index": 0, **extra}
    return client.post(changelist_url(model), data, follow=True)
