"""Property: the 一地一档 archive alone rebuilds a parcel's current record.

Whatever sequence of edits (including refused ones) a parcel goes through, replaying the
change log — the create snapshot, then each update's `after` values — gives exactly the
record as it is now, and refused edits leave no trace.
"""

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from landcycle.domain.errors import Conflict, ValidationFailed
from landcycle.domain.geometry import rectangle_around
from landcycle.domain.records import ParcelDraft
from landcycle.services import registry
from landcycle.storage.db import Database

CODE = "411002001001GB00077"

edit = st.one_of(
    st.fixed_dictionaries({"state": st.sampled_from(["idle", "闲置", "低效", "operating", "荒地"])}),
    st.fixed_dictionaries({"location": st.text(min_size=1, max_size=12)}),
    st.fixed_dictionaries({"price_wan": st.floats(-10, 5000, allow_nan=False)}),
    st.fixed_dictionaries({"term_years": st.integers(-5, 70)}),
    st.fixed_dictionaries({"is_standard_land": st.booleans()}),
    st.fixed_dictionaries({"geometry": st.builds(lambda w: rectangle_around(113.82, 34.05, w, 0.1),
                                                 st.floats(0.05, 0.3))}),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(edit, st.booleans()), max_size=8))
def test_history_replays_to_the_current_record(sqlite_template, tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("prop") / "p.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    try:
        registry.register_parcels(db, [ParcelDraft(code=CODE, geometry=rectangle_around(113.82, 34.05, 0.1, 0.1),
                                                   county="魏都区", zone="魏都产业集聚区")], actor="p")
        version, accepted, conflicts = 1, 0, 0
        for changes, stale in edits:
            try:
                after = registry.update_parcel(db, CODE, changes, version - 1 if stale else version,
                                               actor="p")
                assert not stale
                assert after["version"] in (version, version + 1)  # a no-op edit keeps the version
                version = after["version"]
                accepted += 1
            except Conflict:
                conflicts += 1
            except ValidationFailed:
                pass
        everything = registry.parcel_history(db, CODE)
        # A stale edit is refused but kept on file as a "conflict" entry (issue 5: every attempt).
        assert sum(1 for h in everything if h["action"] == "conflict") == conflicts
        history = [h for h in everything if h["action"] != "conflict"]
        assert len(history) == 1 + sum(1 for h in history[1:] if h["action"] == "update")
        rebuilt = dict(history[0]["after"])
        for h in history[1:]:
            rebuilt.update(h["after"])
        with db.engine.connect() as c:
            row = c.execute(text("SELECT * FROM parcels WHERE code = :c"), {"c": CODE}).mappings().one()
        for key in ("state", "location", "price_wan", "term_years", "is_standard_land", "version", "area_m2"):
            assert rebuilt[key] == pytest.approx(row[key]) if isinstance(row[key], float) else rebuilt[key] == row[key]
        assert row["version"] == version
        assert len(history) - 1 <= accepted  # invalid edits leave no trace (no-op edits leave none either)
    finally:
        db.dispose()
