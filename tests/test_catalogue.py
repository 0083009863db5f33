"""The one clash rule every catalogue follows: parts, model configs and published rows."""
import pytest
import torch.nn as nn

from auzoo import registry
from auzoo.catalogue import (BUILTIN, Catalogue, RegistryConflictError, catalogues,
                             current_provider, registering_as)

PLUGIN_A, PLUGIN_B = "plugin a (auzoo-a 1.0)", "plugin b (auzoo-b 0.3)"


def test_the_same_entry_again_changes_nothing_and_another_is_refused_naming_both():
    cat = Catalogue("widget")
    cat.register(["w"], 1, "first.py:1")
    cat.register(["w"], 1, "again.py:9")
    assert cat.get("w") == 1 and cat.providers["w"].where == "first.py:1"
    with pytest.raises(RegistryConflictError) as err:
        cat.register(["w"], 2, "second.py:2")
    assert "widget 'w' is registered twice" in str(err.value)
    assert "first.py:1" in str(err.value) and "second.py:2" in str(err.value)
    assert cat.get("w") == 1


def test_a_refused_registration_of_several_names_registers_none():
    cat = Catalogue("widget")
    cat.register(["taken"], 1, "a.py:1")
    with pytest.raises(RegistryConflictError):
        cat.register(["free", "taken"], 2, "b.py:1")
    assert "free" not in cat.entries


def test_force_replaces_and_lifts_a_refusal():
    cat = Catalogue("widget")
    cat.register(["w"], 1, "a.py:1")
    cat.register(["w"], 2, "b.py:1", force=True)
    assert cat.get("w") == 2 and cat.providers["w"].where == "b.py:1"
    cat.ambiguous["v"] = []
    cat.register(["v"], 3, "c.py:1", force=True)
    assert cat.get("v") == 3 and "v" not in cat.ambiguous


def test_while_plugins_load_clashes_wait_and_settle_by_the_rule():
    cat = Catalogue("widget")
    cat.register(["own"], "auzoo's", "auzoo.py:1")
    with registering_as(PLUGIN_A, plugin=True):
        assert current_provider() == PLUGIN_A
        cat.register(["own", "shared", "only_a"], "a's", "a.py:1")
    with registering_as(PLUGIN_B, plugin=True):
        cat.register(["shared", "only_b"], "b's", "b.py:1")
    assert current_provider() == BUILTIN
    assert set(cat.claims) == {"own", "shared"}  # held back, nothing raised

    refused = cat.settle()
    assert cat.claims == {}
    # auzoo's own name stays auzoo's; the plugin is told why
    assert cat.get("own") == "auzoo's" and cat.providers["own"].name == BUILTIN
    assert [(r.name, r.provider.name) for r in refused if r.name == "own"] == [("own", PLUGIN_A)]
    # a name two plugins claim is refused in both, and looking it up names both
    assert "shared" not in cat.entries
    assert [p.name for p in cat.ambiguous["shared"]] == [PLUGIN_A, PLUGIN_B]
    assert {r.provider.name for r in refused if r.name == "shared"} == {PLUGIN_A, PLUGIN_B}
    with pytest.raises(RegistryConflictError, match="widget 'shared' is ambiguous") as err:
        cat.get("shared")
    assert "a.py:1" in str(err.value) and "b.py:1" in str(err.value)
    # everything else each plugin registered stays
    assert cat.names_from(PLUGIN_A) == ["only_a"] and cat.names_from(PLUGIN_B) == ["only_b"]


def test_a_withdrawn_plugin_gives_up_its_names_and_claims():
    cat = Catalogue("widget")
    with registering_as(PLUGIN_A, plugin=True):
        cat.register(["w", "x"], "a's", "a.py:1")
    with registering_as(PLUGIN_B, plugin=True):
        cat.register(["w"], "b's", "b.py:1")
    cat.withdraw(PLUGIN_B)
    assert cat.claims == {} and cat.settle() == []
    assert cat.get("w") == "a's"
    cat.withdraw(PLUGIN_A)
    assert cat.entries == {} and cat.providers == {}


def test_parts_configs_and_published_rows_are_all_catalogues_under_plugin_loading():
    from auzoo.report.published import PUBLISHED_CATALOGUE
    from auzoo.report.published_intensity import PUBLISHED_INTENSITY_CATALOGUE

    registry.ensure_loaded()
    known = catalogues()
    assert known["heads"] is registry.HEADS.catalogue
    assert known["configs"] is registry.CONFIG_CATALOGUE
    assert known["published"] is PUBLISHED_CATALOGUE
    assert known["published_intensity"] is PUBLISHED_INTENSITY_CATALOGUE
    assert set(registry.PART_REGISTRIES) <= set(known)
    # a part registry's catalogue keeps its entries in mmengine's own dict
    assert registry.HEADS.catalogue.entries is registry.HEADS.module_dict
    # every registry is settled after plugin loading, so none may be left out
    every = [value for value in vars(registry).values() if isinstance(value, registry.AuzooRegistry)]
    enrolled = [id(cat) for cat in known.values()]
    assert [reg.name for reg in every if id(reg.catalogue) not in enrolled] == []


def test_a_part_registry_follows_the_rule():
    name = "ScratchCatalogueHead"
    saved = registry.HEADS.catalogue.save()
    try:
        with registering_as(PLUGIN_A, plugin=True):
            @registry.HEADS.register_module(name=name)
            class A(nn.Module):
                pass
        with registering_as(PLUGIN_B, plugin=True):
            @registry.HEADS.register_module(name=name)
            class B(nn.Module):
                pass
        registry.HEADS.catalogue.settle()
        with pytest.raises(RegistryConflictError, match="ambiguous"):
            registry.HEADS.get(name)
        with pytest.raises(RegistryConflictError, match="ambiguous"):
            registry.build_part(registry.HEADS, dict(type=name))
    finally:
        registry.HEADS.catalogue.restore(saved)


def _row(f1, method="Scratch-Net"):
    from auzoo.report.published import PublishedResult

    return PublishedResult(method=method, dataset="disfa", aus=(1, 2), f1=f1, citation="A. Author",
                           models=("scratch_model",))


def test_published_rows_follow_the_rule():
    from auzoo.report.published import (PUBLISHED_CATALOGUE, published_for, register_published)

    registry.ensure_loaded()
    saved = PUBLISHED_CATALOGUE.save()
    try:
        register_published(_row((1.0, 2.0)))
        register_published(_row((1.0, 2.0)))  # the same row again: nothing changes
        with pytest.raises(RegistryConflictError) as err:
            register_published(_row((3.0, 4.0)))
        # both registrations are named by file and line
        assert "published row 'Scratch-Net' on disfa is registered twice" in str(err.value)
        assert str(err.value).count("test_catalogue.py:") == 2
        assert published_for("scratch_model", "disfa").f1 == (1.0, 2.0)

        # two plugins with one row key: refused in both, and naming it fails
        with registering_as(PLUGIN_A, plugin=True):
            register_published(_row((5.0, 6.0), method="Shared-Net"))
        with registering_as(PLUGIN_B, plugin=True):
            register_published(_row((7.0, 8.0), method="Shared-Net"))
        PUBLISHED_CATALOGUE.settle()
        with pytest.raises(RegistryConflictError, match="'Shared-Net' on disfa is ambiguous"):
            published_for("scratch_model", "disfa", dict(published="Shared-Net"))
    finally:
        PUBLISHED_CATALOGUE.restore(saved)


def test_published_intensity_rows_name_who_registered_them():
    from auzoo.report.published_intensity import (PUBLISHED_INTENSITY_CATALOGUE,
                                                  PublishedIntensityResult,
                                                  register_published_intensity)

    registry.ensure_loaded()
    saved = PUBLISHED_INTENSITY_CATALOGUE.save()
    row = dict(method="Scratch-Net", dataset="disfa", metric="icc", aus=(1,), citation="A",
               source="Table 1", protocol="3 folds")
    try:
        with registering_as(PLUGIN_A):
            register_published_intensity(PublishedIntensityResult(**row, mean=0.5))
        with pytest.raises(RegistryConflictError) as err:
            register_published_intensity(PublishedIntensityResult(**row, mean=0.6))
        assert PLUGIN_A in str(err.value) and BUILTIN in str(err.value)
        key = ("Scratch-Net", "disfa", "icc")
        assert PUBLISHED_INTENSITY_CATALOGUE.providers[key].name == PLUGIN_A
    finally:
        PUBLISHED_INTENSITY_CATALOGUE.restore(saved)
