import pytest

from auzoo import registry

# Load plugins through their entry points before any test module imports a
# plugin's package: an import outside the loader would register its parts as
# auzoo's own.
registry.ensure_loaded()


@pytest.fixture(autouse=True, scope="session")
def megraphau_plugin_loaded():
    """The tests use the plugin as users get it: installed, and loaded through its entry point."""
    info = {p.distribution: p for p in registry.load_plugins()}.get("auzoo-megraphau")
    if info is None:
        pytest.fail("auzoo-megraphau is not installed: pip install -e plugins/auzoo-megraphau",
                    pytrace=False)
    if info.status != "loaded":
        pytest.fail(f"the megraphau plugin did not load ({info.status}): {info.error}", pytrace=False)
    return info


@pytest.fixture(scope="session")
def tiny_disfa(tmp_path_factory):
    """A synthetic DISFA of its first 6 subjects (48 frames each, 48 px faces): SN001,
    SN002 of part 1, SN006 of part 2, SN003-SN005 of part 3; every fold has test subjects."""
    from auzoo.data.datasets.disfa.prepare import prepare_disfa
    from auzoo.data.datasets.disfa.synth import synth_disfa

    base = tmp_path_factory.mktemp("disfa")
    synth_disfa(base / "raw", subjects=6, frames=48, width=128, height=96, seed=1, workers=1)
    prepare_disfa(base / "raw", base / "cache", size=48, workers=1)
    return base / "cache"
