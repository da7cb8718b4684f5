"""The cyclic-GC pause of bulk imports (services/gc_pause): counted across concurrent holders,
restores the collector's prior state, and survives errors."""

from __future__ import annotations

import gc
import threading

import pytest

from landcycle.services.gc_pause import cyclic_gc_paused


@pytest.fixture(autouse=True)
def _gc_enabled():
    gc.enable()
    yield
    gc.enable()


def test_paused_inside_and_resumed_after_even_on_error():
    with pytest.raises(RuntimeError):
        with cyclic_gc_paused():
            assert not gc.isenabled()
            raise RuntimeError("boom")
    assert gc.isenabled()


def test_resumes_only_when_the_last_holder_leaves():
    inside, release = threading.Event(), threading.Event()

    def other():
        with cyclic_gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other holder is still inside
    release.set()
    t.join(5)
    assert gc.isenabled()


def test_leaves_a_disabled_collector_disabled():
    gc.disable()
    with cyclic_gc_paused():
        pass
    assert not gc.isenabled()


def test_import_runs_with_the_collector_paused(monkeypatch, tmp_path):
    from landcycle.services import imports

    seen = []
    real = imports._analyse
    monkeypatch.setattr(imports, "_analyse", lambda *a, **k: (seen.append(gc.isenabled()), real(*a, **k))[1])
    from landcycle.domain.sources import SourceBatch
    from landcycle.services.setup import init_database
    from landcycle.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    init_database(db)
    imports.dry_run(db, SourceBatch(path="x.gpkg", format="GPKG", geometries=[], attributes=[], source_ids=[],
                                    source_crs="EPSG:4490"))
    assert seen == [False] and gc.isenabled()
