"""The service account key: read from what the ``credentials`` reference holds.

Google's convention is ``GOOGLE_APPLICATION_CREDENTIALS`` holding the *path* of a JSON key file;
``${file:/path/key.json}`` holds the JSON itself. Both are accepted: a value starting with ``{``
is the key, anything else is a path to read it from. Only ``service_account`` keys work (the
tool signs its own token requests); gcloud's ``authorized_user`` credentials are refused with a
hint. The private key is registered for redaction as soon as it is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
from sloth_kubernetes.plugin import ProviderError, Secret, register_secret

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL, not a secret)


@attrs.frozen
class ServiceAccount:
    email: str
    private_key: Secret
    private_key_id: str
    token_uri: str
    project_id: str | None = None


def load_service_account(value: str, reference: Any) -> ServiceAccount:
    """Parse the key JSON in ``value``, or read it from the path ``value`` names."""
    text = value.strip()
    where = f"{reference}"
    if not text.startswith("{"):
        path = Path(os.path.expanduser(text))
        where = f"{path} (named by {reference})"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise _refused(
                f"cannot read the service account key {path} named by {reference}: "
                f"{error.strerror or error}",
                "point it at the JSON key file of a service account (IAM → Service accounts → "
                "Keys), readable by this user",
            ) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise _refused(
            f"the service account key in {where} is not JSON",
            "use the JSON key file Google issues for a service account",
        ) from None
    if not isinstance(data, dict):
        raise _refused(f"the service account key in {where} is not a JSON object", "")
    private = data.get("private_key")
    if isinstance(private, str):
        register_secret(private)
    kind = data.get("type")
    if kind != "service_account" or not data.get("client_email") or not private:
        found = f"a {kind!r} credential" if kind else "no service account key"
        raise _refused(
            f"{where} holds {found}; sloth-kubernetes needs a service account key "
            "(type service_account, with client_email and private_key)",
            "create a key for a service account (gcloud iam service-accounts keys create); "
            "`gcloud auth application-default login` credentials cannot be used",
        )
    return ServiceAccount(
        email=str(data["client_email"]),
        private_key=Secret(str(private), source=str(reference)),
        private_key_id=str(data.get("private_key_id") or ""),
        token_uri=str(data.get("token_uri") or DEFAULT_TOKEN_URI),
        project_id=data.get("project_id"),
    )


def _refused(message: str, hint: str) -> ProviderError:
    return ProviderError(f"gcp: {message}", provider="gcp", hint=hint or None)
