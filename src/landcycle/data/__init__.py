"""Reference data shipped with the package (boundaries, jurisdictions)."""

from pathlib import Path

DATA_DIR = Path(__file__).parent
BOUNDARIES_FILE = DATA_DIR / "boundaries" / "xuchang.geojson"
JURISDICTIONS_FILE = DATA_DIR / "jurisdictions.toml"
