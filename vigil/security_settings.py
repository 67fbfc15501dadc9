"""The settings that keep things secret: the model provider's key, the API's token
secret, the lake's key, and how Kafka clients authenticate (SASL) and encrypt (TLS). A part
of :class:`vigil.settings.Settings`, read with it from ``VIGIL_`` + the upper-case field
name; every secret is masked by ``vigil config``. Imports no Vigil package."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

#: the shortest token secret or lake key accepted: an HMAC-SHA256 key should be as long as
#: its hash (RFC 7518, 3.2)
SECRET_MIN_BYTES = 32
#: the lake key of a development machine's embedded stack (refused with real servers)
DEV_LAKE_KEY = "vigil-dev-only-change-me"
#: the Kafka protocols that carry SASL, and those that run over TLS
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")


class SecuritySettings(BaseSettings):
    """Secrets and Kafka's security: a part of the settings."""

    llm_api_key: SecretStr | None = Field(
        None, description="Key for the LLM provider; default: OPENAI_API_KEY / ANTHROPIC_API_KEY."
    )
    api_token_secret: SecretStr | None = Field(
        None,
        description="HMAC key of signed API tokens (HS256 JWT), at least 32 bytes. Unset: "
        "API keys only.",
    )
    lake_hash_key: SecretStr = Field(
        SecretStr(DEV_LAKE_KEY),
        description="Keyed-hash key that pseudonymizes customer ids in the data lake, at least "
        "32 bytes; required (the development default refused) when any external server is set.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How every Kafka client connects (Confluent Cloud: SASL_SSL)."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism, with a SASL_* protocol (Confluent Cloud: PLAIN)."
    )
    kafka_sasl_username: str | None = Field(
        None, max_length=1024, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="SASL user (Confluent Cloud: the API key); no control characters.",
    )  # fmt: skip
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (Confluent Cloud: the API secret)."
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) that signed the brokers' certificates. Unset: the "
        "system's.",
    )  # fmt: skip
    kafka_ssl_certfile: Path | None = Field(
        None, description="Client certificate (PEM), for brokers that authenticate clients by TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(None, description="The client certificate's key (PEM).")
    kafka_ssl_password: SecretStr | None = Field(
        None, description="Password of the client key, if it is encrypted."
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that a broker's certificate names it (keep on)."
    )

    @field_validator("kafka_sasl_password")
    @classmethod
    def _no_nul(cls, value: SecretStr | None) -> SecretStr | None:
        """SASL PLAIN separates its fields with NUL: one in the password would split it."""
        if value is not None and "\x00" in value.get_secret_value():
            raise ValueError("VIGIL_KAFKA_SASL_PASSWORD holds a NUL character")
        return value

    @field_validator("api_token_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < SECRET_MIN_BYTES:
            raise ValueError(
                f"a token secret needs at least {SECRET_MIN_BYTES} bytes, this one has "
                f"{len(value.get_secret_value().encode())} (openssl rand -hex 32)"
            )
        return value

    @model_validator(mode="after")
    def _lake_key(self) -> Self:
        """The lake's pseudonyms are only as private as their key: a deployment on real
        servers must set its own (the embedded stack keeps the development default)."""
        key = self.lake_hash_key.get_secret_value()
        servers = ("kafka_bootstrap", "redis_url", "weaviate_url")
        external = [n for n in servers if getattr(self, n, None)]
        if key == DEV_LAKE_KEY and external:
            raise ValueError(
                f"VIGIL_LAKE_HASH_KEY is the development default while {', '.join(external)} "
                "point at real servers: set it to a long random secret (openssl rand -hex 32)"
            )
        if key != DEV_LAKE_KEY and len(key.encode()) < SECRET_MIN_BYTES:
            raise ValueError(f"VIGIL_LAKE_HASH_KEY needs at least {SECRET_MIN_BYTES} bytes")
        return self

    @model_validator(mode="after")
    def _kafka_security(self) -> Self:
        """SASL settings come whole and only with a SASL protocol; TLS files only with a
        TLS one, each readable, the certificate with its key."""
        protocol = self.kafka_security_protocol
        sasl = {"VIGIL_KAFKA_SASL_MECHANISM": self.kafka_sasl_mechanism,
                "VIGIL_KAFKA_SASL_USERNAME": self.kafka_sasl_username,
                "VIGIL_KAFKA_SASL_PASSWORD": self.kafka_sasl_password}  # fmt: skip
        if protocol in SASL_PROTOCOLS:
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(
                    f"VIGIL_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
                )
        elif any(sasl.values()):
            raise ValueError(
                f"SASL settings are set but VIGIL_KAFKA_SECURITY_PROTOCOL is {protocol}: use "
                "SASL_SSL (or SASL_PLAINTEXT on a trusted network)"
            )
        files = {"VIGIL_KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
                 "VIGIL_KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
                 "VIGIL_KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile}  # fmt: skip
        given = {name: path for name, path in files.items() if path is not None}
        if given and protocol not in TLS_PROTOCOLS:
            raise ValueError(
                f"{', '.join(given)} set but VIGIL_KAFKA_SECURITY_PROTOCOL is {protocol}: use "
                "SSL or SASL_SSL"
            )
        for name, path in given.items():
            if not path.is_file():
                raise ValueError(f"{name}: {path} is not a readable file")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("VIGIL_KAFKA_SSL_CERTFILE and VIGIL_KAFKA_SSL_KEYFILE come together")
        return self

    def kafka_security(self) -> dict[str, object]:
        """The arguments every kafka-python client takes for this security (none when the
        protocol is PLAINTEXT)."""
        protocol = self.kafka_security_protocol
        if protocol == "PLAINTEXT":
            return {}
        out: dict[str, object] = {"security_protocol": protocol}
        if protocol in SASL_PROTOCOLS:
            assert self.kafka_sasl_password is not None  # (_kafka_security)
            out |= {"sasl_mechanism": self.kafka_sasl_mechanism,
                    "sasl_plain_username": self.kafka_sasl_username,
                    "sasl_plain_password": self.kafka_sasl_password.get_secret_value()}  # fmt: skip
        if protocol in TLS_PROTOCOLS:
            out["ssl_check_hostname"] = self.kafka_ssl_check_hostname
            for name in ("cafile", "certfile", "keyfile"):
                path = getattr(self, f"kafka_ssl_{name}")
                if path is not None:
                    out[f"ssl_{name}"] = str(path)
            if self.kafka_ssl_password is not None:
                out["ssl_password"] = self.kafka_ssl_password.get_secret_value()
        return out
