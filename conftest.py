# Fixture modules live in tests/; registering them here (the root conftest) makes them visible to every test.
pytest_plugins = ["tests.fixtures_db", "tests.fixtures_media"]
