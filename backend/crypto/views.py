"""Public keys: anyone may fetch the platform's SM2 public key to verify its signatures;
signed-in people also see the users' keys (countersigns, approval documents)."""

import sqlalchemy as sa
from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from backend.crypto.keys import platform_key
from backend.crypto.models import UserSigningKey
from backend.crypto.sm2 import DEFAULT_USER_ID, public_key_pem
from backend.extensions import db

bp = Blueprint("crypto", __name__, template_folder="templates")

ALGORITHM = {
    "signature": "SM2 (GM/T 0003.2, GB/T 32918.2), curve sm2p256v1",
    "hash": "SM3 (GB/T 32905)",
    "signer_id": DEFAULT_USER_ID.decode(),
    "signature_format": "r || s, 64 bytes (hex or base64 where shown)",
    "public_key_format": "04 || X || Y, 65 bytes hex; PEM SubjectPublicKeyInfo",
}


def _listing():
    key = platform_key()
    data = {
        "algorithm": ALGORITHM,
        "platform": {
            "public_key_hex": key.public_key_hex,
            "public_key_pem": public_key_pem(key.public_key_hex),
        },
        "users": None,
    }
    if current_user.is_authenticated:
        from backend.org.models import User

        rows = db.session.execute(
            sa.select(
                User.username, User.display_name, UserSigningKey.public_key_hex, UserSigningKey.created_at
            )
            .join(User, User.id == UserSigningKey.user_id)
            .order_by(User.username)
        ).all()
        data["users"] = [
            {
                "username": r.username,
                "display_name": r.display_name,
                "public_key_hex": r.public_key_hex,
                "created_at": r.created_at,
            }
            for r in rows
        ]
    return data


@bp.get("/crypto/public-keys")
def public_keys():
    return render_template("crypto/public_keys.html", **_listing())


@bp.get("/crypto/public-keys.json")
def public_keys_json():
    data = _listing()
    for user in data["users"] or []:
        user["created_at"] = user["created_at"].isoformat()
    return jsonify(data)
