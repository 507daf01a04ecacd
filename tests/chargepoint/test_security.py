"""Security profiles 1-3 (OCPP 1.6 Security Whitepaper; 2.0.1 Part 2, A00): Basic auth, TLS with
a given CA bundle, mutual TLS with a client certificate. Certificates are made in the test."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocpplab_sim.errors import CsmsUnreachable
from ocpplab_sim.fleet import ChargePointConfig, SimulatedChargePoint
from tests.chargepoint.conftest import FAST
from tests.chargepoint.csms import TestCsms


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _ca(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common: str,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    san: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _pem(cert: x509.Certificate, path: Path) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, ca_key = _ca("Test CSMS Root")
    san: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server, server_key = _leaf("localhost", ca, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, san)
    # OCPP: the client certificate's CN is the charge point identity.
    client, client_key = _leaf("CP-TLS3", ca, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH)
    stranger, _ = _ca("Somebody Else")
    return Pki(
        ca=_pem(ca, d / "ca.pem"),
        server_cert=_pem(server, d / "server.pem"),
        server_key=_write_key(server_key, d / "server.key"),
        client_cert=_pem(client, d / "client.pem"),
        client_key=_write_key(client_key, d / "client.key"),
        stranger_ca=_pem(stranger, d / "stranger.pem"),
    )


def server_context(pki: Pki, *, require_client_cert: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


@pytest.fixture
async def tls_csms(pki: Pki) -> AsyncIterator[TestCsms]:
    async with TestCsms(ssl_context=server_context(pki, require_client_cert=False)) as server:
        yield server


@pytest.fixture
async def mtls_csms(pki: Pki) -> AsyncIterator[TestCsms]:
    async with TestCsms(ssl_context=server_context(pki, require_client_cert=True)) as server:
        yield server


async def run_point(config: ChargePointConfig) -> SimulatedChargePoint:
    cp = SimulatedChargePoint(config, reconnect=FAST)
    try:
        await cp.start()
    finally:
        await cp.stop()
    return cp


async def test_profile_1_basic_auth(csms: TestCsms, transport: Any) -> None:
    csms.behaviour.password = "s3cret-s3cret-16"
    good = ChargePointConfig(
        "CP-TLS1", "1.6", 1, csms.url, password="s3cret-s3cret-16", transport=transport
    )
    await run_point(good)
    assert csms.calls("BootNotification", "CP-TLS1")
    bad = ChargePointConfig("CP-TLS1", "1.6", 1, csms.url, password="wrong", transport=transport)
    with pytest.raises(CsmsUnreachable, match="401"):
        await run_point(bad)


async def test_profile_2_tls_with_the_given_ca_and_basic_auth(
    tls_csms: TestCsms, pki: Pki, transport: Any
) -> None:
    tls_csms.behaviour.password = "pw-pw-pw-pw-pw-pw"
    config = ChargePointConfig(
        "CP-TLS2",
        "2.0.1",
        1,
        tls_csms.url,
        password="pw-pw-pw-pw-pw-pw",
        ca_file=str(pki.ca),
        transport=transport,
    )
    await run_point(config)
    assert tls_csms.calls("BootNotification", "CP-TLS2")
    wrong_ca = ChargePointConfig(
        "CP-TLS2",
        "2.0.1",
        1,
        tls_csms.url,
        password="pw-pw-pw-pw-pw-pw",
        ca_file=str(pki.stranger_ca),
        transport=transport,
    )
    with pytest.raises(CsmsUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        await run_point(wrong_ca)


async def test_profile_3_mutual_tls_with_a_client_certificate(
    mtls_csms: TestCsms, pki: Pki, transport: Any
) -> None:
    config = ChargePointConfig(
        "CP-TLS3",
        "1.6",
        1,
        mtls_csms.url,
        ca_file=str(pki.ca),
        cert_file=str(pki.client_cert),
        key_file=str(pki.client_key),
        transport=transport,
    )
    await run_point(config)
    assert mtls_csms.calls("BootNotification", "CP-TLS3")
    subject = dict(item[0] for item in mtls_csms.client_certs[0]["subject"])
    assert subject["commonName"] == "CP-TLS3"
    without_cert = ChargePointConfig(
        "CP-TLS3", "1.6", 1, mtls_csms.url, ca_file=str(pki.ca), transport=transport
    )
    with pytest.raises(CsmsUnreachable):
        await run_point(without_cert)
