"""Fixtures for the emulator tests."""

from __future__ import annotations

import pytest

from reconciler.clock import FixedClock
from reconciler.emulator.fixture import load_tenant
from reconciler.emulator.tenant import Tenant

from .helpers import small_fixture


@pytest.fixture
def tenant() -> Tenant:
    return load_tenant(small_fixture())


@pytest.fixture
def clock(tenant: Tenant) -> FixedClock:
    assert isinstance(tenant.clock, FixedClock)
    return tenant.clock
