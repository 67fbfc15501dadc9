"""Who is calling: API keys and signed tokens, three roles, and the refusals.

Credentials arrive as ``Authorization: Bearer <key or token>``, as ``X-API-Key``, or as
the console's session cookie. Tokens are HS256 JWTs (``sub``, ``role``, ``exp``), so any
service holding the secret can mint them with a standard library; Vigil mints its own
with ``vigil api token``. Every refusal says what was wrong: 401 without valid
credentials, 403 when the credentials are fine but the role or the owner is not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from api.errors import ForbiddenError, UnauthorizedError

Role = Literal["customer", "analyst", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
#: who may approve or reject a proposed block or stop
APPROVERS: frozenset[str] = frozenset({"analyst", "admin"})
SESSION_COOKIE = "vigil_session"

#: well-known keys of `VIGIL_API_DEV_KEYS=true`, for a local console only
DEV_KEYS: dict[str, str] = {
    "dev-customer-john": "customer:cust-john",
    "dev-analyst": "analyst:dev-analyst",
    "dev-admin": "admin:dev-admin",
}


@dataclass(frozen=True)
class Principal:
    role: Role
    subject: str

    @property
    def customer_id(self) -> str | None:
        """The customer this principal speaks for (customers only)."""
        return self.subject if self.role == "customer" else None

    @property
    def staff(self) -> bool:
        return self.role in ("analyst", "admin")

    def require(self, *roles: Role, doing: str) -> None:
        if self.role not in roles:
            raise ForbiddenError(
                f"{doing} needs the {' or '.join(roles)} role; these credentials are a "
                f"{self.role}'s"
            )

    def may_read(self, owner: str) -> bool:
        """Staff read every thread; a customer only their own."""
        return self.staff or owner == self.subject


def parse_grant(text: str, *, where: str) -> Principal:
    role, sep, subject = text.partition(":")
    if not sep or role not in ROLES or not subject.strip():
        raise ValueError(
            f"{where}: {text!r} is not <role>:<subject> with role one of {', '.join(ROLES)}"
        )
    return Principal(role, subject.strip())  # type: ignore[arg-type]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    def __init__(
        self,
        keys: dict[str, str],
        secret: str | None,
        *,
        token_ttl_s: int = 3600,
        dev_keys: bool = False,
        revoked: Callable[[str], bool] = lambda sid: False,
    ) -> None:
        """``revoked``: whether a console session (by its ``sid``) was closed."""
        grants = {**(DEV_KEYS if dev_keys else {}), **keys}
        self.keys = {
            key: parse_grant(grant, where="VIGIL_API_KEYS") for key, grant in grants.items()
        }
        #: tokens need the configured secret; console sessions fall back to a per-process one
        self.secret = secret.encode() if secret else None
        self._session_secret = self.secret or secrets.token_bytes(32)
        self.token_ttl_s = token_ttl_s
        self.revoked = revoked

    @property
    def configured(self) -> bool:
        return bool(self.keys) or self.secret is not None

    def mint(self, principal: Principal, ttl_s: int | None = None, *, session: bool = False) -> str:
        key = self._session_secret if session else self.secret
        if key is None:
            raise ValueError("minting tokens needs VIGIL_API_TOKEN_SECRET")
        now = int(time.time())
        claims = {
            "iss": "vigil",
            "sub": principal.subject,
            "role": principal.role,
            "iat": now,
            "exp": now + (ttl_s or self.token_ttl_s),
        }
        if session:
            claims["sid"] = secrets.token_hex(16)
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(sig)}"

    def authenticate(self, credential: str | None) -> Principal:
        if not self.configured:
            raise UnauthorizedError(
                "this API has no credentials configured: set VIGIL_API_KEYS or "
                "VIGIL_API_TOKEN_SECRET (or VIGIL_API_DEV_KEYS=true on a local machine)"
            )
        if not credential:
            raise UnauthorizedError(
                "missing credentials: send 'Authorization: Bearer <API key or token>' "
                "or 'X-API-Key: <key>'"
            )
        for key, principal in self.keys.items():
            if hmac.compare_digest(key.encode(), credential.encode()):
                return principal
        if credential.count(".") == 2:
            return self._verify(credential)
        raise UnauthorizedError("unknown API key")

    def _verify(self, token: str) -> Principal:
        head, body, sig = token.split(".")
        try:
            header = _strict_json(_unb64(head))
            claims = _strict_json(_unb64(body))
            signature = _unb64(sig)
        except (ValueError, RecursionError) as exc:
            raise UnauthorizedError("malformed token: not a JWT") from exc
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise UnauthorizedError("unsupported token: only HS256 tokens are accepted")
        signed = f"{head}.{body}".encode()
        keys = [k for k in (self.secret, self._session_secret) if k is not None]
        if not any(
            hmac.compare_digest(hmac.new(k, signed, hashlib.sha256).digest(), signature)
            for k in keys
        ):
            raise UnauthorizedError("bad token signature")
        if not isinstance(claims, dict):
            raise UnauthorizedError("malformed token: its claims are not a JSON object")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise UnauthorizedError("token rejected: 'exp' must be a number of seconds")
        if exp < time.time():
            raise UnauthorizedError("token expired: get a new one")
        sid = claims.get("sid")
        if sid is not None and (not isinstance(sid, str) or not _SID.match(sid)
                                or self.revoked(sid)):  # fmt: skip
            raise UnauthorizedError("session closed: sign in again")
        role, sub = claims.get("role"), claims.get("sub")
        if not isinstance(role, str) or not isinstance(sub, str) or not _SUBJECT.match(sub):
            raise UnauthorizedError(
                "token claims rejected: 'role' and 'sub' must be strings, 'sub' of letters, "
                "digits and ._:@- (at most 128)"
            )
        try:
            return parse_grant(f"{role}:{sub}", where="token")
        except ValueError as exc:
            raise UnauthorizedError(f"token claims rejected: {exc}") from exc

    def session_of(self, token: str) -> tuple[str, float] | None:
        """A console session cookie's id and expiry (to close it), or None if it is not one."""
        try:
            claims = _strict_json(_unb64(token.split(".")[1]))
        except (ValueError, IndexError, RecursionError):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("sid"), str):
            return None
        exp = claims.get("exp")
        return claims["sid"], float(exp) if isinstance(exp, int | float) else time.time()


_SID = re.compile(r"^[0-9a-f]{32}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def _strict_json(raw: bytes) -> Any:
    """JSON without NaN or Infinity (an ``exp`` of NaN would never expire)."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(raw, parse_constant=refuse)


def closed_session_key(prefix: str, sid: str) -> str:
    """Where a closed console session is remembered until its cookie would have expired."""
    return f"{prefix}:api:session-closed:{sid}"
