"""Storage layer: SQLAlchemy schema, migrations and database access (SQLite or PostgreSQL/PostGIS)."""
