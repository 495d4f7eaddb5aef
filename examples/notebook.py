# %% [markdown]
# # plex-cognite in a notebook
#
# Jupyter already runs an event loop, so `asyncio.run(...)` fails there. `run_extractors_sync` detects the running
# loop and runs the extraction on a private event-loop thread instead (no `nest_asyncio`), so the same call works in
# a notebook cell and in a plain script. In a notebook you can also simply `await run_extractors(settings)`.
#
# Run this file as a script to see it work inside a running loop, as in Jupyter:
#
#     python examples/notebook.py

# %%
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from plex_cognite.runner import run_extractors, run_extractors_sync
from plex_cognite.testing.demo import demo_settings, verify_cdf
from plex_cognite.testing.fake_cdf import FakeCDF
from plex_cognite.testing.fake_plex import FakePlex
from plex_cognite.testing.plant import SimulatedPlant

plant = SimulatedPlant(seed=0)
plex = FakePlex(plant).start()
cdf = FakeCDF().start()
workdir = Path(tempfile.mkdtemp(prefix="plex-cognite-notebook-"))
settings = demo_settings(plex.base_url, cdf, plant, workdir)


# %% A cell: synchronous call (works whether or not a loop is running)
def cell_sync() -> None:
    report = run_extractors_sync(settings)
    print(report.format_table())
    print("differences from the expected CDF content:", verify_cdf(cdf, plant, settings) or "none")


# %% A cell: top-level await (Jupyter allows `await` in cells)
async def cell_await() -> None:
    report = await run_extractors(settings)
    print(f"second run: {report.total('written')} items written, {report.total('requests')} write requests")


# %%
async def notebook_kernel() -> None:
    # Jupyter runs cells inside its own loop; this coroutine plays that part.
    cell_sync()
    await cell_await()


if __name__ == "__main__":
    try:
        asyncio.run(notebook_kernel())
    finally:
        plex.stop()
        cdf.stop()
