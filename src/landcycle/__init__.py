"""landcycle — 许昌市“智造之都”产业集聚区土地全生命周期管理平台.

Layers, bottom to top (each may import only the ones below it):

* ``landcycle.domain``   — pure rules and value types, no I/O;
* ``landcycle.storage``  — SQLAlchemy schema, migrations, spatial columns;
* ``landcycle.services`` — use cases (one transaction each);
* ``landcycle.faces``    — CLI, HTTP API and web pages, which call services only.
"""

__version__ = "0.1.0"
