"""issue 10: cockpit snapshots, performance reports, start and completion acceptance

Revision ID: 7322a9f849e7
Revises: 5c1e7d20a9b3
Create Date: 2026-11-24 23:57:11.259386

"""
from alembic import op
import sqlalchemy as sa
import backend.db

# 竣工验收 is recorded by reviewers and heads (of 发改, checked in backend/projects/completion.py).
NEW_GRANTS = {"project.accept": ("reviewer", "head")}

# revision identifiers, used by Alembic.
revision = '7322a9f849e7'
down_revision = '5c1e7d20a9b3'
branch_labels = None
depends_on = None


def upgrade():
    # The cockpit's stored figures (backend/kpi/snapshot.py), recomputed by the kpi.snapshot job.
    op.create_table('kpi_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=10), nullable=False),
    sa.Column('as_of', backend.db.UTCDateTime(), nullable=False),
    sa.Column('seconds', sa.Numeric(precision=10, scale=3), nullable=False),
    sa.Column('part_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_snapshot'))
    )
    with op.batch_alter_table('kpi_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kpi_snapshot_period_key'), ['period_key'], unique=False)

    op.create_table('kpi_snapshot_part',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('dim', sa.String(length=12), nullable=False),
    sa.Column('dim_value', sa.String(length=60), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('numerator', sa.String(length=48), nullable=False),
    sa.Column('denominator', sa.String(length=48), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['kpi_snapshot.id'], name=op.f('fk_kpi_snapshot_part_snapshot_id_kpi_snapshot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'region_code', 'dim', 'dim_value', 'code', name=op.f('pk_kpi_snapshot_part'))
    )
    op.create_table('kpi_snapshot_project',
    sa.Column('snapshot_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('parts', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['kpi_snapshot.id'], name=op.f('fk_kpi_snapshot_project_snapshot_id_kpi_snapshot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('snapshot_id', 'project_id', name=op.f('pk_kpi_snapshot_project'))
    )
    # 开工 and 竣工验收 with the benefit indicators entered at acceptance (投资效益比).
    op.create_table('project_completion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('accepted_on', sa.Date(), nullable=False),
    sa.Column('conclusion', sa.String(length=10), nullable=False),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('annual_benefit', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('new_jobs', sa.Integer(), nullable=True),
    sa.Column('annual_tax', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('other_benefits', sa.Text(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('document_name', sa.String(length=255), nullable=True),
    sa.Column('rounds', sa.Integer(), nullable=False),
    sa.Column('recorded_by', sa.String(length=60), nullable=True),
    sa.Column('recorded_at', backend.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_sha256'], ['stored_file.sha256'], name=op.f('fk_project_completion_document_sha256_stored_file')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_project_completion_project_id_project')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_completion')),
    sa.UniqueConstraint('project_id', name=op.f('uq_project_completion_project_id'))
    )
    with op.batch_alter_table('project_completion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_completion_accepted_on'), ['accepted_on'], unique=False)

    # Quarterly and annual performance reports; region-level documents in the evidence ledger.
    op.create_table('kpi_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=False),
    sa.Column('period_key', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=60), nullable=True),
    sa.Column('requested_at', backend.db.UTCDateTime(), nullable=False),
    sa.Column('started_at', backend.db.UTCDateTime(), nullable=True),
    sa.Column('finished_at', backend.db.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('xlsx_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_evidence_id', sa.Integer(), nullable=True),
    sa.Column('xlsx_evidence_id', sa.Integer(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_kpi_report_status')),
    sa.CheckConstraint("trigger IN ('scheduled', 'manual')", name=op.f('ck_kpi_report_trigger')),
    sa.ForeignKeyConstraint(['pdf_evidence_id'], ['evidence_record.id'], name=op.f('fk_kpi_report_pdf_evidence_id_evidence_record')),
    sa.ForeignKeyConstraint(['pdf_sha256'], ['stored_file.sha256'], name=op.f('fk_kpi_report_pdf_sha256_stored_file')),
    sa.ForeignKeyConstraint(['xlsx_evidence_id'], ['evidence_record.id'], name=op.f('fk_kpi_report_xlsx_evidence_id_evidence_record')),
    sa.ForeignKeyConstraint(['xlsx_sha256'], ['stored_file.sha256'], name=op.f('fk_kpi_report_xlsx_sha256_stored_file')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_report'))
    )
    with op.batch_alter_table('kpi_report', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_report_region_period', ['region_code', 'period_key'], unique=False)
        batch_op.create_index('uq_kpi_report_open', ['region_code', 'period_key'], unique=True, postgresql_where=sa.text("status IN ('queued', 'running')"), sqlite_where=sa.text("status IN ('queued', 'running')"))

    with op.batch_alter_table('evidence_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_code', sa.String(length=6), nullable=True))
        batch_op.alter_column('project_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_evidence_record_region_code_region'), 'region', ['region_code'], ['code'])

    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actual_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('construction_permit_no', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('actual_end', sa.Date(), nullable=True))

    bind = op.get_bind()
    for permission, roles in NEW_GRANTS.items():
        for role in roles:
            bind.execute(
                sa.text(
                    "INSERT INTO role_permission (role, permission) SELECT code, CAST(:permission AS VARCHAR(60)) "
                    "FROM role WHERE code = CAST(:role AS VARCHAR(40)) AND NOT EXISTS (SELECT 1 FROM "
                    "role_permission WHERE role = CAST(:role AS VARCHAR(40)) "
                    "AND permission = CAST(:permission AS VARCHAR(60)))"
                ),
                {"role": role, "permission": permission},
            )


def downgrade():
    op.execute(
        sa.delete(sa.table("role_permission", sa.column("permission"))).where(
            sa.column("permission").in_(sorted(NEW_GRANTS))
        )
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('actual_end')
        batch_op.drop_column('construction_permit_no')
        batch_op.drop_column('actual_start')

    with op.batch_alter_table('evidence_record', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_evidence_record_region_code_region'), type_='foreignkey')
        batch_op.alter_column('project_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('region_code')

    with op.batch_alter_table('kpi_report', schema=None) as batch_op:
        batch_op.drop_index('uq_kpi_report_open', postgresql_where=sa.text("status IN ('queued', 'running')"), sqlite_where=sa.text("status IN ('queued', 'running')"))
        batch_op.drop_index('ix_kpi_report_region_period')

    op.drop_table('kpi_report')
    with op.batch_alter_table('project_completion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_completion_accepted_on'))

    op.drop_table('project_completion')
    op.drop_table('kpi_snapshot_project')
    op.drop_table('kpi_snapshot_part')
    with op.batch_alter_table('kpi_snapshot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kpi_snapshot_period_key'))

    op.drop_table('kpi_snapshot')
