"""Adapter: TLS for the charger listener (security profiles 2 and 3) and its security events.

The listener is one kind of channel at a time (RELIABILITY.md §2.1, A00.FR.001/002/006):
with ``ocpp.tls_cert_file`` set it speaks only TLS, so profile 2 and 3 chargers share it
and plain ``ws://`` cannot reach it at all; without it, it speaks only plain ws for
profiles 0 and 1. Config validation refuses chargers whose profile does not match the
listener, and :func:`channel_refusal` checks the same rule again on every connection.

Client certificates are requested (``CERT_OPTIONAL``) whenever ``ocpp.tls_ca_file`` is
set, so profile 2 chargers, which present none, still complete the TLS handshake; a
profile 3 charger is then held to its certificate in the HTTP handshake, before the
upgrade. A certificate OpenSSL cannot verify (unknown CA, expired) ends the TLS
handshake itself, and so does a client below the minimum TLS version; both are logged
as security events by :class:`AuditedSSLObject`. No log line carries a secret.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config import OcppSettings

#: Security events (refused handshakes) go to their own logger so they can be routed apart.
security_log = logging.getLogger("ocpp_central.security")

PeerCert = Mapping[str, Any]

MIN_VERSION = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}

#: TLS 1.2 suites (TLS 1.3 suites are OpenSSL's defaults, all AEAD). A00.FR.317 asks for
#: ECDHE-ECDSA-AES128/256-GCM with an ECDSA certificate and AES128/256-GCM with plain RSA
#: key exchange for older chargers with an RSA certificate; forward-secret suites first.
CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "AES128-GCM-SHA256:AES256-GCM-SHA384"
)


class TlsSetupError(OSError):
    """A configured TLS file cannot be used; the message names the key, the file and why.

    An ``OSError`` so that ``gateway serve`` reports it like any other start-up failure
    to open a resource (``cannot start: ...``) and exits non-zero.
    """


class AuditedSSLObject(ssl.SSLObject):
    """An ``SSLObject`` that logs a security event when a TLS handshake is refused.

    asyncio drops failed server-side handshakes silently; this is the one place that
    sees why (A00.FR.407/408: terminate and log a security event).
    """

    def do_handshake(self) -> None:
        try:
            super().do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLSyscallError):
            raise  # more bytes needed, or the peer went away: not a decision
        except ssl.SSLError as exc:
            security_log.warning("security event: TLS handshake refused reason=%r", _reason(exc))
            raise


def _reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"client certificate rejected: {exc.verify_message}"
    return str(exc.reason or exc).lower().replace("_", " ")


def server_context(cfg: OcppSettings) -> ssl.SSLContext | None:
    """The listener's TLS context, or ``None`` for a plain ws listener.

    Raises:
        TlsSetupError: a file is missing, unreadable, not PEM, encrypted, or the key does
            not match the certificate.
    """
    if cfg.tls_cert_file is None or cfg.tls_key_file is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_VERSION[cfg.tls_min_version]
    # A00.FR.320: no TLS compression (CRIME); no renegotiation, which no charger needs.
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.set_ciphers(CIPHERS)
    cert = _read("tls_cert_file", cfg.tls_cert_file)
    key = _read("tls_key_file", cfg.tls_key_file)
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise TlsSetupError(f"ocpp.tls_cert_file: {cfg.tls_cert_file}: no PEM certificate")
    if b"PRIVATE KEY-----" not in key:
        raise TlsSetupError(f"ocpp.tls_key_file: {cfg.tls_key_file}: no PEM private key")
    try:
        ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file, password=_no_password)
    except ssl.SSLError as exc:
        raise TlsSetupError(
            f"ocpp.tls_cert_file/ocpp.tls_key_file: {cfg.tls_cert_file}, {cfg.tls_key_file}: "
            f"cannot use this certificate and key together: {_reason(exc)}"
        ) from None
    if cfg.tls_ca_file is not None:
        _read("tls_ca_file", cfg.tls_ca_file)
        try:
            ctx.load_verify_locations(cafile=cfg.tls_ca_file)
        except ssl.SSLError as exc:
            raise TlsSetupError(
                f"ocpp.tls_ca_file: {cfg.tls_ca_file}: no usable CA certificate: {_reason(exc)}"
            ) from None
        # Optional, not required: profile 2 chargers on the same listener have no certificate.
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.sslobject_class = AuditedSSLObject
    return ctx


def _read(name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsSetupError(f"ocpp.{name}: {path}: file not found") from None
    except OSError as exc:
        raise TlsSetupError(f"ocpp.{name}: {path}: cannot read: {exc.strerror or exc}") from None


def _no_password() -> str:
    # Without a callback OpenSSL would prompt on the terminal, which a service never answers.
    raise TlsSetupError("ocpp.tls_key_file: the private key is encrypted; store it unencrypted")


def common_names(cert: PeerCert) -> tuple[str, ...]:
    """Every commonName in the certificate's subject, in order."""
    return tuple(
        value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"
    )


def channel_refusal(
    charger_id: str, profile: int, *, tls: bool, peer_cert: PeerCert | None
) -> str | None:
    """Why a known charger may not use this channel, or ``None`` when it may.

    ``tls`` says whether the connection is TLS; ``peer_cert`` is the verified client
    certificate (``None`` when none was presented). Profiles 1 and 2 still need their
    Basic credentials checked afterwards; profile 3 is authenticated by this check alone.
    """
    if profile <= 1 and tls:
        return f"security profile {profile} is plain ws but the connection is TLS"
    if profile >= 2 and not tls:
        return f"security profile {profile} needs TLS"
    if profile == 3:
        if peer_cert is None:
            return "no client certificate"
        names = common_names(peer_cert)
        if names != (charger_id,):
            return f"client certificate CN {', '.join(names) or '(none)'!r} is not the charger id"
    return None
