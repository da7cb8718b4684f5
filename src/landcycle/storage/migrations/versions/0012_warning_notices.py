"""Warning notices (issue 7, item 7): runs, notices, deliveries (append-only), subscriptions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 12:00:00
"""
import sqlalchemy as sa
from alembic import op

from landcycle.storage.append_only import create_append_only, drop_append_only

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_APPEND_ONLY = {
    "warning_notices": "预警通知只能追加，不能修改或删除",
    "warning_deliveries": "预警发送记录只能追加，不能修改或删除",
}
_RUN_MESSAGE = "已结束的预警任务记录不能修改，任务记录不能删除"

# A run is completed once (finished_at set); after that it is history like the rest.
_SQLITE_RUNS = [
    "CREATE TRIGGER warning_runs_no_update BEFORE UPDATE ON warning_runs WHEN OLD.finished_at IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, '" + _RUN_MESSAGE + "'); END",
    "CREATE TRIGGER warning_runs_no_delete BEFORE DELETE ON warning_runs "
    "BEGIN SELECT RAISE(ABORT, '" + _RUN_MESSAGE + "'); END",
]
_PG_RUNS_FUNCTION = """
CREATE OR REPLACE FUNCTION warning_runs_finished_only_once() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' OR OLD.finished_at IS NOT NULL THEN
    RAISE EXCEPTION '""" + _RUN_MESSAGE + """';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table('warning_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('deliver', sa.Boolean(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('deadlines', sa.Integer(), nullable=False),
    sa.Column('notices', sa.Integer(), nullable=False),
    sa.Column('superseded', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_runs'))
    )
    op.create_index(op.f('ix_warning_runs_as_of'), 'warning_runs', ['as_of'], unique=False)
    op.create_table('notice_subscriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('(jurisdiction_id IS NULL) <> (enterprise_id IS NULL)',
                       name=op.f('ck_notice_subscriptions_one_subscriber')),
    sa.CheckConstraint('email IS NOT NULL OR webhook_url IS NOT NULL',
                       name=op.f('ck_notice_subscriptions_some_channel')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'],
                            name=op.f('fk_notice_subscriptions_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                            name=op.f('fk_notice_subscriptions_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_subscriptions'))
    )
    op.create_index(op.f('ix_notice_subscriptions_enterprise_id'), 'notice_subscriptions', ['enterprise_id'],
                    unique=False)
    op.create_index(op.f('ix_notice_subscriptions_jurisdiction_id'), 'notice_subscriptions', ['jurisdiction_id'],
                    unique=False)
    op.create_table('warning_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_key', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('parcel_code', sa.String(length=19), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('zone_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('days_left', sa.Integer(), nullable=False),
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('consequence', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.CheckConstraint('(jurisdiction_id IS NULL) <> (enterprise_id IS NULL)',
                       name=op.f('ck_warning_notices_one_recipient')),
    sa.ForeignKeyConstraint(['county_id'], ['jurisdictions.id'],
                            name=op.f('fk_warning_notices_county_id_jurisdictions')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'],
                            name=op.f('fk_warning_notices_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'],
                            name=op.f('fk_warning_notices_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['run_id'], ['warning_runs.id'], name=op.f('fk_warning_notices_run_id_warning_runs')),
    sa.ForeignKeyConstraint(['zone_id'], ['jurisdictions.id'], name=op.f('fk_warning_notices_zone_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_notices')),
    sa.UniqueConstraint('deadline_key', 'lead_days', 'recipient', name='uq_warning_notices_once')
    )
    op.create_index('ix_warning_notices_enterprise', 'warning_notices', ['enterprise_id', 'id'], unique=False)
    op.create_index('ix_warning_notices_jurisdiction', 'warning_notices', ['jurisdiction_id', 'id'], unique=False)
    op.create_index(op.f('ix_warning_notices_parcel_code'), 'warning_notices', ['parcel_code'], unique=False)
    op.create_index('ix_warning_notices_place', 'warning_notices', ['zone_id', 'county_id'], unique=False)
    op.create_index(op.f('ix_warning_notices_run_id'), 'warning_notices', ['run_id'], unique=False)
    op.create_table('warning_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['warning_notices.id'],
                            name=op.f('fk_warning_deliveries_notice_id_warning_notices')),
    sa.ForeignKeyConstraint(['run_id'], ['warning_runs.id'], name=op.f('fk_warning_deliveries_run_id_warning_runs')),
    sa.ForeignKeyConstraint(['subscription_id'], ['notice_subscriptions.id'],
                            name=op.f('fk_warning_deliveries_subscription_id_notice_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_deliveries'))
    )
    op.create_index('ix_warning_deliveries_slot', 'warning_deliveries', ['notice_id', 'subscription_id', 'channel'],
                    unique=False)
    op.create_index(op.f('ix_warning_deliveries_run_id'), 'warning_deliveries', ['run_id'], unique=False)

    # History is append-only (as parcel_transitions, migration 0009); a run may be completed once.
    for table, message in _APPEND_ONLY.items():
        create_append_only(op, table, message)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_RUNS_FUNCTION)
        op.execute("CREATE TRIGGER warning_runs_finished_only_once BEFORE UPDATE OR DELETE "
                   "ON warning_runs FOR EACH ROW EXECUTE FUNCTION warning_runs_finished_only_once()")
        op.execute("CREATE TRIGGER warning_runs_no_truncate BEFORE TRUNCATE "
                   "ON warning_runs FOR EACH STATEMENT EXECUTE FUNCTION warning_runs_finished_only_once()")
    else:
        for statement in _SQLITE_RUNS:
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS warning_runs_no_truncate ON warning_runs")
        op.execute("DROP TRIGGER IF EXISTS warning_runs_finished_only_once ON warning_runs")
        op.execute("DROP FUNCTION IF EXISTS warning_runs_finished_only_once()")
    for table in _APPEND_ONLY:
        drop_append_only(op, table)
    if not postgres:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS warning_runs_no_{verb}")
    op.drop_table('warning_deliveries')
    op.drop_table('warning_notices')
    op.drop_table('notice_subscriptions')
    op.drop_table('warning_runs')
