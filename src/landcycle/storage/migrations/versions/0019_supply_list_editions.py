"""年度可供土地清单 editions (supply_lists); entries belong to an edition (list_id, category,
is_current)

Entries written before editions existed (the demo's, or a deployment's published rows) are moved
onto one published city edition per list year; the newest year's entries are current.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 16:00:00
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supply_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('edition', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('document_title', sa.String(length=200), nullable=True),
    sa.Column('document_number', sa.String(length=100), nullable=True),
    sa.Column('document_date', sa.Date(), nullable=True),
    sa.Column('compiled_by', sa.String(length=100), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.Column('is_synthetic', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'published', 'superseded')",
                       name=op.f('ck_supply_lists_status_known')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                            name=op.f('fk_supply_lists_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['based_on_id'], ['supply_lists.id'], name=op.f('fk_supply_lists_based_on_id_supply_lists')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['supply_lists.id'],
                            name=op.f('fk_supply_lists_superseded_by_id_supply_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supply_lists')),
    sa.UniqueConstraint('year', 'jurisdiction_id', 'edition', name='uq_supply_lists_year_jurisdiction_edition')
    )
    op.create_index('ix_supply_lists_jurisdiction_id', 'supply_lists', ['jurisdiction_id'], unique=False)
    with op.batch_alter_table('supply_list_entries') as b:
        b.add_column(sa.Column('list_id', sa.Integer(), nullable=True))
        b.add_column(sa.Column('category', sa.String(length=30), nullable=True))
        b.add_column(sa.Column('is_current', sa.Boolean(), nullable=False, server_default=sa.false()))
        b.drop_constraint('uq_supply_list_entries_parcel_year', type_='unique')
        b.create_unique_constraint('uq_supply_list_entries_list_parcel', ['list_id', 'parcel_id'])
        b.create_foreign_key('fk_supply_list_entries_list_id_supply_lists', 'supply_lists', ['list_id'], ['id'])
    op.create_index('ix_supply_list_entries_list_id', 'supply_list_entries', ['list_id'], unique=False)
    op.create_index('ix_supply_list_entries_parcel', 'supply_list_entries', ['parcel_id'], unique=False)
    op.create_index('uq_supply_list_entries_current_parcel', 'supply_list_entries', ['parcel_id'], unique=True,
                    sqlite_where=sa.text('is_current'), postgresql_where=sa.text('is_current'))
    _move_old_entries_onto_editions()


def _move_old_entries_onto_editions() -> None:
    """One published city edition per year of the older (published) entries; drafts stay off."""
    conn = op.get_bind()
    city = conn.execute(sa.text("SELECT id FROM jurisdictions WHERE kind = 'city' ORDER BY id LIMIT 1")).scalar()
    years = [r[0] for r in conn.execute(sa.text(
        "SELECT DISTINCT list_year FROM supply_list_entries WHERE list_id IS NULL AND published_at IS NOT NULL"
        " ORDER BY list_year"))]
    if city is None or not years:
        return
    lists = sa.table('supply_lists', sa.column('steps', sa.JSON), *[sa.column(c) for c in (
        'year', 'jurisdiction_id', 'edition', 'status', 'title', 'note', 'compiled_by', 'published_by',
        'published_at', 'is_synthetic', 'created_at', 'updated_at', 'version', 'document_title')])
    now = datetime.now(timezone.utc)
    for year in years:
        newest = year == years[-1]
        conn.execute(lists.insert().values(
            year=year, jurisdiction_id=city, edition=1, status='published' if newest else 'superseded',
            title=f'{year}年度可供土地清单', note='迁移前已公布的清单条目（迁移 0019 归入本版）', compiled_by='migration',
            published_by='migration', published_at=now, steps=[], is_synthetic=False, created_at=now, updated_at=now,
            version=1, document_title=None))
        list_id = conn.execute(sa.text("SELECT id FROM supply_lists WHERE year = :y AND jurisdiction_id = :j"
                                       " AND edition = 1"), {"y": year, "j": city}).scalar()
        conn.execute(sa.text(
            "UPDATE supply_list_entries SET list_id = :lid, is_current = :cur, category = 'listed'"
            " WHERE list_id IS NULL AND published_at IS NOT NULL AND list_year = :y"),
            {"lid": list_id, "cur": newest, "y": year})


def downgrade() -> None:
    op.drop_index('uq_supply_list_entries_current_parcel', table_name='supply_list_entries')
    op.drop_index('ix_supply_list_entries_parcel', table_name='supply_list_entries')
    op.drop_index('ix_supply_list_entries_list_id', table_name='supply_list_entries')
    with op.batch_alter_table('supply_list_entries') as b:
        b.drop_constraint('fk_supply_list_entries_list_id_supply_lists', type_='foreignkey')
        b.drop_constraint('uq_supply_list_entries_list_parcel', type_='unique')
        b.drop_column('is_current')
        b.drop_column('category')
        b.drop_column('list_id')
        b.create_unique_constraint('uq_supply_list_entries_parcel_year', ['parcel_id', 'list_year'])
    op.drop_index('ix_supply_lists_jurisdiction_id', table_name='supply_lists')
    op.drop_table('supply_lists')
