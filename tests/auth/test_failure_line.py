"""The one-line sign-in failure (`AuthenticationFailed`): azure-identity's first line, cut at a
word boundary (at most 300 characters), never without its AADSTS code, and a hint about what
is actually wrong: the network or the CA for a token service that could not be reached."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.graph.auth import (
    CERTIFICATE_FIX,
    CONNECT_FIX,
    GRAPH_SCOPE,
    REASON_LIMIT,
    WHAT_TO_SET,
    AuthenticationFailed,
    build_credential,
)

from .conftest import World
from .helpers import WRITER_APP
from .test_cli_sign_in import EXAMPLES, NOW

# azure-identity's message for Entra's refusal of a wrong secret, as it formats it (captured
# from ClientSecretCredential against `emulator serve`): the quote it opens after "error"
# closes only after the Trace ID, Correlation ID and Timestamp lines.
BAD_SECRET = (
    "Microsoft Entra ID error '(invalid_client) AADSTS7000215: Invalid client secret provided. "
    "Ensure the secret being sent in the request is the client secret value, not the client "
    f"secret ID, for a secret added to app '{WRITER_APP}'.\r\n"
    "Trace ID: b65d5d21-80e1-46ab-8e67-b29d2343c33d\r\n"
    "Correlation ID: 39cc1ddc-31b3-4695-8e36-ea8ff9057e7a\r\n"
    "Timestamp: 2026-12-01 12:00:00Z'\n"
    'Content: {"error":"invalid_client","error_codes":[7000215]}')
REFUSED = ("Cannot connect to host 127.0.0.1:37111 ssl:<ssl.SSLContext object at 0x7fefc5f70b90>"
           " [Connect call failed ('127.0.0.1', 37111)]")
UNTRUSTED = ("Cannot connect to host 127.0.0.1:44179 ssl:True [SSLCertVerificationError: (1, "
             "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
             "issuer certificate (_ssl.c:1006)')]")


def _failed(message: str, kind: str = "client-secret",
            credential: str = "ClientSecretCredential") -> AuthenticationFailed:
    return AuthenticationFailed(kind, credential, Exception(message))


def test_a_refused_secret_keeps_the_whole_first_line_and_no_stray_quote() -> None:
    failed = _failed(BAD_SECRET)
    assert failed.reason == (
        "Microsoft Entra ID error (invalid_client) AADSTS7000215: Invalid client secret "
        "provided. Ensure the secret being sent in the request is the client secret value, not "
        f"the client secret ID, for a secret added to app '{WRITER_APP}'.")
    assert str(failed) == (
        "authentication to Microsoft Graph failed with --credential client-secret "
        f"(ClientSecretCredential): {failed.reason}; {WHAT_TO_SET['client-secret']} "
        "(details: --verbose)")
    assert failed.reason.count("'") % 2 == 0
    assert failed.connection_failure is None


def test_a_long_first_line_is_cut_at_a_word_boundary() -> None:
    head = "Microsoft Entra ID error '(invalid_request) AADSTS90002: "
    words = " ".join(f"w{i:04d}" for i in range(100))  # 5-character words
    failed = _failed(head + words + "\r\nTrace ID: x'")
    reason = failed.reason
    assert len(reason) == 298  # 40 whole words, then the cut mark; the 41st did not fit
    assert reason == ("Microsoft Entra ID error (invalid_request) AADSTS90002: w0000 w0001 "
                      "w0002 w0003 w0004 w0005 w0006 w0007 w0008 w0009 w0010 w0011 w0012 "
                      "w0013 w0014 w0015 w0016 w0017 w0018 w0019 w0020 w0021 w0022 w0023 "
                      "w0024 w0025 w0026 w0027 w0028 w0029 w0030 w0031 w0032 w0033 w0034 "
                      "w0035 w0036 w0037 w0038 w0039...")


def test_the_aadsts_code_is_never_left_out() -> None:
    long_prefix = "Microsoft Entra ID error '(invalid_grant) " + "reason " * 60
    failed = _failed(long_prefix + "AADSTS700024: Client assertion is not within its valid "
                     "time range.\r\nTrace ID: x'")
    assert failed.reason.endswith("reason reason... (AADSTS700024)")
    assert len(failed.reason) <= REASON_LIMIT + len(" (AADSTS700024)")
    # a code only in the later lines (the JSON content) is named too
    only_below = _failed("Token request failed: invalid_client\nContent: "
                         '{"error_description":"AADSTS7000222: The provided client secret '
                         'keys are expired."}')
    assert only_below.reason == "Token request failed: invalid_client (AADSTS7000222)"


def test_a_refused_connection_points_at_the_network_and_authority_host() -> None:
    failed = _failed(REFUSED)
    assert failed.connection_failure == "connect"
    assert failed.hint == CONNECT_FIX == (
        "check the network (proxy, firewall, DNS) and AZURE_AUTHORITY_HOST (unset: "
        "https://login.microsoftonline.com)")
    assert str(failed) == (
        "authentication to Microsoft Graph failed with --credential client-secret "
        "(ClientSecretCredential): Cannot connect to host 127.0.0.1:37111 [Connect call "
        f"failed ('127.0.0.1', 37111)]; {CONNECT_FIX} (details: --verbose)")


@pytest.mark.parametrize(("kind", "credential"), [
    ("client-secret", "ClientSecretCredential"),
    ("github-oidc", "ClientAssertionCredential"),
    ("certificate", "CertificateCredential"),
])
def test_an_untrusted_certificate_points_at_the_ca(kind: str, credential: str) -> None:
    failed = _failed(UNTRUSTED, kind, credential)
    assert failed.connection_failure == "certificate"
    assert failed.hint == CERTIFICATE_FIX == (
        "the token service's certificate is not trusted: give its CA with SSL_CERT_FILE (a "
        "TLS-inspecting proxy's, or AZURE_AUTHORITY_HOST's own CA), and check "
        "AZURE_AUTHORITY_HOST")
    assert failed.reason == (
        "Cannot connect to host 127.0.0.1:44179 [SSLCertVerificationError: (1, '[SSL: "
        "CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer "
        "certificate')]")
    assert "AZURE_CLIENT_ID" not in str(failed)


def test_the_default_chain_report_keeps_its_own_advice() -> None:
    failed = _failed("DefaultAzureCredential failed to retrieve a token from the included "
                     "credentials.\nAttempted credentials:\n\tManagedIdentityCredential: "
                     "Cannot connect to host 169.254.169.254:80",
                     "default", "DefaultAzureCredential")
    assert failed.reason == "none of the credentials it tries got a token"
    assert failed.connection_failure is None
    assert failed.hint == WHAT_TO_SET["default"]


# End to end: the CLI against the tenant served over HTTPS (tests/auth/conftest.py).


def test_a_wrong_secret_through_the_cli_is_the_whole_entra_line(world: World) -> None:
    result = CliRunner().invoke(cli, ["--now", NOW, "plan", EXAMPLES, "--graph-url",
                                      world.graph_url, "--credential", "client-secret"],
                                env=world.env(AZURE_CLIENT_SECRET="wrong"))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: authentication to Microsoft Graph failed with --credential client-secret "
        "(ClientSecretCredential): Microsoft Entra ID error (invalid_client) AADSTS7000215: "
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app "
        f"'{WRITER_APP}'.; {WHAT_TO_SET['client-secret']} (details: --verbose)\n")


@pytest.mark.anyio
async def test_an_untrusted_token_service_points_at_ssl_cert_file(
    world: World, tmp_path: Path
) -> None:
    """A real ClientSecretCredential trusting another CA than the served authority's (no
    retries, so the test stays fast): azure-identity's own message, then the CA hint."""
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    env = world.env(AZURE_CLIENT_SECRET=world.secret)
    async with build_credential("client-secret", None, env, connection_verify=str(other_ca),
                                retry_total=0) as credential:
        with pytest.raises(AuthenticationFailed) as failed:
            await credential.get_token(GRAPH_SCOPE)
    host = world.authority.removeprefix("https://")
    assert str(failed.value) == (
        "authentication to Microsoft Graph failed with --credential client-secret "
        f"(ClientSecretCredential): Cannot connect to host {host} [SSLCertVerificationError: "
        "(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
        f"issuer certificate')]; {CERTIFICATE_FIX} (details: --verbose)")
    assert world.tenant.identity.token_log == []  # nothing reached the token endpoint
