"""Write a local `.env` from `.env.example` with fresh secrets, unless one exists."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

root = Path(__file__).resolve().parent.parent
target = root / ".env"
if target.exists():
    sys.exit(0)
lines = []
for line in (root / ".env.example").read_text().splitlines():
    if line.startswith("SECRET_KEY="):
        line = f"SECRET_KEY={secrets.token_urlsafe(50)}"
    elif line.startswith("FINSYNC_ENCRYPTION_KEYS="):
        line = f"FINSYNC_ENCRYPTION_KEYS={Fernet.generate_key().decode()}"
    lines.append(line)
target.write_text("\n".join(lines) + "\n")
target.chmod(0o600)
print(f"wrote {target.name} with a new SECRET_KEY and encryption key")
