"""Test harness shipped with the package: real servers, an in-process worker, and fakes (no mocks)."""
