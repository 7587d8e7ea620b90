"""The hub's core: home, migrations (SQLite and a real PostgreSQL), tokens, the error shape, the audit chain."""

from __future__ import annotations

from typing import Any


def test_login_and_make_user(client: Any, admin_token: str, make_user: Any, make_study: Any, bearer: Any) -> None:
    study = make_study(client, admin_token)
    _user, token = make_user(client, admin_token, "agency_submitter", agency="DIF", study=study.name)
    response = client.get(f"/api/v1/studies/{study.name}", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["name"] == study.name
