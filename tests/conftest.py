"""Shared test configuration. Fixtures live in tests/fixtures/, one file per real part."""

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.chain",
    "tests.fixtures.faulty_proxy",
    "tests.fixtures.telegram_api",
    "tests.fixtures.webhook_receiver",
]
