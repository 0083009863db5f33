import pytest

from auzoo import registry

# Load plugins through their entry points before any test module imports a
# plugin's package: an import outside the loader would register its parts as
# auzoo's own.
registry.ensure_loaded()


@pytest.fixture(autouse=True, scope="session")
def fmae_plugin_loaded():
    """The tests use the plugin as users get it: installed, and loaded through its entry point."""
    info = {p.distribution: p for p in registry.load_plugins()}.get("auzoo-fmae")
    if info is None:
        pytest.fail("auzoo-fmae is not installed: pip install -e plugins/auzoo-fmae", pytrace=False)
    if info.status != "loaded":
        pytest.fail(f"the fmae plugin did not load ({info.status}): {info.error}", pytrace=False)
    return info
