"""Credentials at rest: JSON encrypted with MultiFernet.

Keys come from FINSYNC_ENCRYPTION_KEYS (comma-separated; the first encrypts,
every key decrypts), read at call time and independent of SECRET_KEY, so keys
can be rotated: add a new key first, run `manage.py rotate_credentials`, then
drop the old key.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from sync.errors import CredentialsInvalid


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in settings.FINSYNC_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        raise CredentialsInvalid("no encryption key is configured (set FINSYNC_ENCRYPTION_KEYS)")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise CredentialsInvalid("FINSYNC_ENCRYPTION_KEYS holds a malformed key") from None


def encrypt_credentials(credentials: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(credentials, sort_keys=True).encode()).decode()


def decrypt_credentials(token: str) -> dict[str, Any]:
    if not token:
        raise CredentialsInvalid("the connection has no stored credentials")
    try:
        value = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsInvalid("stored credentials cannot be decrypted with the configured keys") from None
    if not isinstance(value, dict):
        raise CredentialsInvalid("stored credentials are malformed")
    return value


def rotate(token: str) -> str:
    """Re-encrypt `token` with the current (first) key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsInvalid("stored credentials cannot be decrypted with the configured keys") from None
