"""Settings, read from the environment (documented in README and docs/operations.md).

* ``LANDCYCLE_DATABASE_URL`` — SQLAlchemy URL. Default: a SQLite file in the data directory.
  Production: ``postgresql+psycopg://user@host/dbname`` (PostGIS required).
* ``LANDCYCLE_DATA_DIR`` — where the embedded database lives (default ``./var``).
* ``LANDCYCLE_BASEMAP_URL`` — optional raster XYZ template for the map (e.g. 天地图 with the
  deployment's own key); empty on closed networks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    basemap_url: str

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("LANDCYCLE_DATA_DIR", "var")).resolve()
        url = os.environ.get("LANDCYCLE_DATABASE_URL") or f"sqlite:///{data_dir / 'landcycle.db'}"
        return cls(database_url=url, data_dir=data_dir,
                   basemap_url=os.environ.get("LANDCYCLE_BASEMAP_URL", ""))
