"""KMS envelope encryption for payment-method tokens and sensitive metadata.

Each value gets a fresh 256-bit data key from KMS (``GenerateDataKey``) and is sealed with
AES-256-GCM; only the KMS-encrypted data key is stored. The user id is both the KMS encryption
context and the GCM associated data, so a ciphertext copied into another user's record does not
decrypt. Plaintext data keys never leave this module.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

import boto3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from payments.platform.settings import settings

_NONCE_BYTES = 12


@cache
def _kms() -> Any:
    return boto3.client("kms")


def _key_id() -> str:
    key_id = settings.payments_kms_key_id
    if not key_id:
        raise RuntimeError("PAYMENTS_KMS_KEY_ID is not configured")
    return key_id


def encrypt(plaintext: str, user_id: str) -> str:
    """Seal ``plaintext`` for ``user_id``; returns a JSON envelope safe to store."""
    data_key = _kms().generate_data_key(KeyId=_key_id(), KeySpec="AES_256", EncryptionContext={"user_id": user_id})
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(data_key["Plaintext"]).encrypt(nonce, plaintext.encode(), user_id.encode())
    envelope = {
        "v": 1,
        "key": base64.b64encode(data_key["CiphertextBlob"]).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "data": base64.b64encode(sealed).decode(),
    }
    return json.dumps(envelope, separators=(",", ":"))


def decrypt(envelope_json: str, user_id: str) -> str:
    """Open an envelope sealed for ``user_id``; KMS refuses any other user's context."""
    envelope = json.loads(envelope_json)
    data_key = _kms().decrypt(CiphertextBlob=base64.b64decode(envelope["key"]), EncryptionContext={"user_id": user_id})[
        "Plaintext"
    ]
    opened = AESGCM(data_key).decrypt(
        base64.b64decode(envelope["nonce"]), base64.b64decode(envelope["data"]), user_id.encode()
    )
    return opened.decode()
