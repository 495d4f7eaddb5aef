"""Which extractor runs a stream name: the built-ins, and extractors installed packages register.

A package registers an extractor under the entry-point group `plex_cognite.extractors`; the entry point's name is
the stream name to list in `extraction.streams`, its value the extractor class (or any callable taking
`(context, resources)` and returning an extractor):

```toml
[project.entry-points."plex_cognite.extractors"]
tooling = "my_package.tooling:ToolingExtractor"
```

Data sources need no code: each `extraction.datasources` entry is stream `datasource:<name>`, run by
`DataSourceExtractor` (`load_extractor("datasource:checksheets")`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import TypeAlias

from plex_cognite.config.settings import DATASOURCE_STREAM_PREFIX, EXTRACTOR_ENTRY_POINT_GROUP
from plex_cognite.core.context import ExtractorContext
from plex_cognite.core.extractor import BaseExtractor
from plex_cognite.errors import ConfigurationError
from plex_cognite.extractors.resources import ExtractorResources

__all__ = ["ENTRY_POINT_GROUP", "ExtractorFactory", "builtin_extractors", "load_extractor", "registered_streams"]

#: The entry-point group installed packages register extractors under.
ENTRY_POINT_GROUP = EXTRACTOR_ENTRY_POINT_GROUP

#: Builds one extractor for a PCN (its context) from the run's shared resources; extractor classes fit as they are.
ExtractorFactory: TypeAlias = Callable[[ExtractorContext, ExtractorResources], BaseExtractor]


def builtin_extractors() -> Mapping[str, ExtractorFactory]:
    """The library's own extractors by stream name, in the order they run (data sources: see `load_extractor`)."""
    from plex_cognite.extractors.container_moves import ContainerMovesExtractor
    from plex_cognite.extractors.inventory import InventoryExtractor
    from plex_cognite.extractors.jobs import JobsExtractor
    from plex_cognite.extractors.master_data import MasterDataExtractor
    from plex_cognite.extractors.production import ProductionExtractor, ScrapExtractor
    from plex_cognite.extractors.workcenter_status import WorkcenterStatusExtractor

    return {
        "master_data": MasterDataExtractor,
        "jobs": JobsExtractor,
        "production": ProductionExtractor,
        "scrap": ScrapExtractor,
        "workcenter_status": WorkcenterStatusExtractor,
        "inventory": InventoryExtractor,
        "container_moves": ContainerMovesExtractor,
    }


def registered_streams() -> list[str]:
    """Stream names installed packages registered (entry-point group `plex_cognite.extractors`)."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_extractor(stream: str) -> ExtractorFactory:
    """The extractor for a stream name: a built-in, a data source (`datasource:<name>`), else an entry point.

    A data-source stream resolves to `DataSourceExtractor` for the `extraction.datasources` entry of that name, looked
    up in the run's settings when the extractor is built.

    Raises:
        ConfigurationError: No extractor has that name, or its entry point cannot be loaded.
    """
    builtin = builtin_extractors()
    if stream in builtin:
        return builtin[stream]
    if stream.startswith(DATASOURCE_STREAM_PREFIX) and len(stream) > len(DATASOURCE_STREAM_PREFIX):
        from plex_cognite.extractors.datasource import datasource_factory

        return datasource_factory(stream)
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=stream):
        try:
            factory: ExtractorFactory = ep.load()
        except Exception as exc:
            raise ConfigurationError(
                f"the extractor registered for stream {stream!r} ({ep.value}) cannot be loaded: {exc!r}",
                field="extraction.streams",
            ) from exc
        return factory
    known = [*builtin, *registered_streams()]
    hint = difflib.get_close_matches(stream, known, n=1)
    suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
    raise ConfigurationError(
        f"no extractor for stream {stream!r}{suggestion} (known: {', '.join(known)}; packages register more under "
        f"the entry-point group {ENTRY_POINT_GROUP!r})",
        field="extraction.streams",
    )
