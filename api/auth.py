"""Who is calling: API keys and signed tokens, three roles, and the refusals.

Credentials arrive as ``Authorization: Bearer <key or token>``, as ``X-API-Key``, or as
the console's session cookie. Tokens are HS256 JWTs checked by PyJWT (``sub``, ``role``,
``iss``, ``aud``, ``iat``, ``exp``, and ``nbf`` when present), so any service holding the
secret (at least 32 bytes) can mint them with a standard library; Vigil mints its own with
``vigil api token``. Every refusal says what was wrong: 401 without valid
credentials, 403 when the credentials are fine but the role or the owner is not.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import jwt

from api.errors import ForbiddenError, UnauthorizedError
from vigil.settings import SECRET_MIN_BYTES

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


#: seconds of clock skew allowed between the minting service and this one
LEEWAY_S = 30


class Authenticator:
    def __init__(
        self,
        keys: dict[str, str],
        secret: str | None,
        *,
        token_ttl_s: int = 3600,
        dev_keys: bool = False,
        revoked: Callable[[str], bool] = lambda sid: False,
        issuer: str = "vigil",
        audience: str = "vigil-api",
    ) -> None:
        """``revoked``: whether a console session (by its ``sid``) was closed."""
        grants = {**(DEV_KEYS if dev_keys else {}), **keys}
        self.keys = {
            key: parse_grant(grant, where="VIGIL_API_KEYS") for key, grant in grants.items()
        }
        if secret is not None and len(secret.encode()) < SECRET_MIN_BYTES:
            raise ValueError(
                f"VIGIL_API_TOKEN_SECRET is {len(secret.encode())} bytes; a token secret needs "
                f"at least {SECRET_MIN_BYTES} (openssl rand -hex 32)"
            )
        #: tokens need the configured secret; console sessions fall back to a per-process one
        self.secret = secret.encode() if secret else None
        self._session_secret = self.secret or secrets.token_bytes(32)
        self.token_ttl_s = token_ttl_s
        self.revoked = revoked
        self.issuer = issuer
        self.audience = audience

    @property
    def configured(self) -> bool:
        return bool(self.keys) or self.secret is not None

    def mint(self, principal: Principal, ttl_s: int | None = None, *, session: bool = False) -> str:
        key = self._session_secret if session else self.secret
        if key is None:
            raise ValueError("minting tokens needs VIGIL_API_TOKEN_SECRET")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.subject,
            "role": principal.role,
            "iat": now,
            "nbf": now,
            "exp": now + (ttl_s or self.token_ttl_s),
        }
        if session:
            claims["sid"] = secrets.token_hex(16)
        return jwt.encode(claims, key, algorithm="HS256")

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

    def _claims(self, token: str) -> dict[str, Any]:
        """The token's claims, checked by PyJWT: HS256 only, signed with the token secret
        or this process's session secret, ``exp``, ``iat``, ``iss``, ``aud`` and ``sub``
        present, not expired, not before its ``nbf`` or ``iat``, this issuer and audience."""
        keys = [k for k in (self.secret, self._session_secret) if k is not None]
        for i, key in enumerate(keys):
            try:
                return jwt.decode(
                    token, key, algorithms=["HS256"], issuer=self.issuer,
                    audience=self.audience, leeway=LEEWAY_S,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )  # fmt: skip
            except jwt.InvalidSignatureError:
                if i == len(keys) - 1:
                    raise UnauthorizedError("bad token signature") from None
            except jwt.ExpiredSignatureError:
                raise UnauthorizedError("token expired: get a new one") from None
            except jwt.ImmatureSignatureError as exc:
                raise UnauthorizedError(f"token not valid yet: {exc}") from None
            except jwt.InvalidIssuerError:
                raise UnauthorizedError(
                    f"token rejected: its issuer is not {self.issuer!r}"
                ) from None
            except jwt.InvalidAudienceError:
                raise UnauthorizedError(
                    f"token rejected: its audience is not {self.audience!r}"
                ) from None
            except jwt.MissingRequiredClaimError as exc:
                raise UnauthorizedError(f"token rejected: {exc}") from None
            except jwt.InvalidAlgorithmError:
                raise UnauthorizedError(
                    "unsupported token: only HS256 tokens are accepted"
                ) from None
            except jwt.InvalidTokenError as exc:
                raise UnauthorizedError(f"malformed token: not a JWT ({exc})") from None
        raise UnauthorizedError("bad token signature")

    def _verify(self, token: str) -> Principal:
        claims = self._claims(token)
        for name in ("exp", "iat", "nbf"):  # NumericDate is a JSON number (RFC 7519, 2):
            value = claims.get(name, 0)  # PyJWT takes "9999999999" and true as well
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UnauthorizedError(f"token rejected: {name!r} must be a number of seconds")
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
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return None
        if not isinstance(claims.get("sid"), str):
            return None
        exp = claims.get("exp")
        return claims["sid"], float(exp) if isinstance(exp, int | float) else time.time()


_SID = re.compile(r"^[0-9a-f]{32}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def closed_session_key(prefix: str, sid: str) -> str:
    """Where a closed console session is remembered until its cookie would have expired."""
    return f"{prefix}:api:session-closed:{sid}"
