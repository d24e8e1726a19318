"""The sign-in fakes of tests/auth (a served tenant with its token authority over HTTPS and a
fake GitHub OIDC endpoint), for doctor's credential checks."""

from tests.auth.conftest import make_world, pki, world  # noqa: F401  (fixtures)
