"""The public surface: explicit, sorted, and complete."""

from __future__ import annotations

from types import ModuleType

import pytest

import meterd.domain.catalog
import meterd.domain.catalog.pricing

PACKAGES = [meterd.domain.catalog, meterd.domain.catalog.pricing]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_is_sorted_and_unique(package: ModuleType) -> None:
    assert package.__all__ == sorted(set(package.__all__))


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_all_lists_exactly_what_the_package_imports(package: ModuleType) -> None:
    imported = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_")
        and not isinstance(value, ModuleType)
        # The __future__ feature object, not an API.
        and name != "annotations"
    }
    assert imported == set(package.__all__)


def test_catalog_reexports_the_whole_pricing_surface() -> None:
    assert meterd.domain.catalog.__all__ == meterd.domain.catalog.pricing.__all__
