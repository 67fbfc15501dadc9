"""Signed tokens as PyJWT checks them: every claim that makes a token valid is enforced,
and every refusal is an UnauthorizedError (401) that says what was wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.auth import Authenticator, Principal
from api.errors import UnauthorizedError

SECRET = "k" * 32
AUTH = Authenticator({}, SECRET)


def signed(key: str = SECRET, alg: str = "HS256", **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"iss": "vigil", "aud": "vigil-api", "sub": "cust-john",
                              "role": "customer", "iat": now, "exp": now + 600}  # fmt: skip
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm=alg)


def refused(token: str) -> str:
    with pytest.raises(UnauthorizedError) as got:
        AUTH.authenticate(token)
    return str(got.value.detail)


def test_a_valid_token_says_who_is_calling() -> None:
    assert AUTH.authenticate(signed()) == Principal("customer", "cust-john")
    assert AUTH.authenticate(AUTH.mint(Principal("admin", "ops"))) == Principal("admin", "ops")


def test_each_invalid_claim_is_refused_with_its_reason() -> None:
    now = int(time.time())
    cases = {
        "token expired": signed(exp=now - 120),
        "token not valid yet: The token is not yet valid (nbf)": signed(nbf=now + 3600),
        "token not valid yet: The token is not yet valid (iat)": signed(iat=now + 3600),
        "its issuer is not 'vigil'": signed(iss="someone-else"),
        "its audience is not 'vigil-api'": signed(aud="another-api"),
        'Token is missing the "exp" claim': signed(exp=None),
        'Token is missing the "aud" claim': signed(aud=None),
        'Token is missing the "iat" claim': signed(iat=None),
        "bad token signature": signed(key="another-key-of-at-least-32-bytes!"),
        "only HS256 tokens are accepted": signed(alg="HS512", key="x" * 64),
    }
    for words, token in cases.items():
        assert words in refused(token), words


def test_an_unsigned_alg_none_token_is_refused() -> None:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": "vigil", "aud": "vigil-api", "sub": "mallory", "role": "admin",
              "iat": now, "exp": now + 600}  # fmt: skip
    for alg in ("none", "None", "NONE"):
        forged = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}."
        assert "only HS256 tokens are accepted" in refused(forged)
        assert "only HS256" in refused(forged + "c2ln")


def test_a_secret_under_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="is 6 bytes; a token secret needs at least 32"):
        Authenticator({}, "s3cret")


def test_a_clock_skew_of_seconds_is_allowed() -> None:
    now = int(time.time())
    assert AUTH.authenticate(signed(iat=now + 5, nbf=now + 5)).subject == "cust-john"


hostile = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(),
                                                          max_size=2),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(exp=hostile, iat=hostile, nbf=hostile, sub=hostile, role=hostile, aud=hostile, sid=hostile)
def test_hostile_claims_signed_with_the_secret_are_refused_or_read_right(
    exp: Any, iat: Any, nbf: Any, sub: Any, role: Any, aud: Any, sid: Any
) -> None:  # fmt: skip
    """Claims of any JSON type and size, NaN and infinite times included, under a good
    signature: a 401 that says why, or (when they happen to be valid) the right principal."""
    claims = {"iss": "vigil", "exp": exp, "iat": iat, "nbf": nbf, "sub": sub, "role": role,
              "aud": aud, "sid": sid}  # fmt: skip
    body = (
        base64.urlsafe_b64encode(
            json.dumps({k: v for k, v in claims.items() if v is not None}).encode()
        )
        .rstrip(b"=")
        .decode()
    )  # json.dumps writes NaN and Infinity, as a hostile minter would
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    sig = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    token = f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    try:
        who = AUTH.authenticate(token)
    except UnauthorizedError as exc:
        why = str(exc.detail)
    else:
        assert (who.role, who.subject) == (role, sub)
        assert isinstance(sid, str | None)  # a session id that is not 32 hex never passes
        assert sid is None or re.fullmatch(r"[0-9a-f]{32}", sid)
        why = "accepted"
    assert why


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300).map(lambda t: t + ".x." + t))
def test_hostile_strings_are_refused_as_tokens(text: str) -> None:
    """Control characters, lone surrogates, any length: a 401, never a crash."""
    with pytest.raises(UnauthorizedError):
        AUTH.authenticate(text)
