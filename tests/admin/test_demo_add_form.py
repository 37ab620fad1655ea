"""The admin's demo add form: its defaults shown, and no secret claimed where the demo asks for none."""

from __future__ import annotations

import re

import pytest

from sync.models import Connection

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/sync/connection/add/"
DEFAULTS = {"seed": "42", "accounts": "3", "transactions_per_account": "90", "history_days": "120"}


def test_demo_form_shows_its_defaults_as_text_inputs(operator_client):
    response = operator_client.get(ADD_URL, {"provider": "demo"})
    form, html = response.context["adminform"].form, response.content.decode()
    assert response.status_code == 200
    for name, default in DEFAULTS.items():
        field = form.fields[f"connect_{name}"]
        assert field.initial == default and f"(default: {default})" in field.help_text
        assert field.widget.input_type == "text"
        tag = re.search(rf'<input [^>]*name="connect_{name}"[^>]*>', html).group(0)
        assert 'type="text"' in tag and f'value="{default}"' in tag
    assert 'type="password"' not in html
    assert "Secrets are stored encrypted" not in html and "No secret is needed" in html


def test_a_provider_with_secrets_still_says_how_they_are_kept(operator_client):
    html = operator_client.get(ADD_URL, {"provider": "simplefin"}).content.decode()
    assert "Secrets are stored encrypted and never shown again." in html and 'type="password"' in html
    assert "No secret is needed" not in html


def test_the_form_as_shown_makes_the_default_demo(operator_client, user):
    form = {"owner": user.pk, "name": "", "provider": "demo", **{f"connect_{k}": v for k, v in DEFAULTS.items()}}
    response = operator_client.post(f"{ADD_URL}?provider=demo", form)
    assert response.status_code == 302
    config = Connection.objects.get(owner=user).config
    assert {k: str(config[k]) for k in DEFAULTS} == DEFAULTS
