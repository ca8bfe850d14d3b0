"""Fakes shipped with Postroom for tests: each stands in for one seam (a Protocol) without network."""

from postroom.testing.fake_clock import FakeClock
from postroom.testing.fake_resolver import FakeResolver

__all__ = ["FakeClock", "FakeResolver"]
