"""issue 11: document extractions and corrections

Revision ID: e1e21d4c3eae
Revises: 7322a9f849e7
Create Date: 2026-11-25 00:44:36.329085

"""
from alembic import op
import sqlalchemy as sa
import backend.db

# revision identifiers, used by Alembic.
revision = 'e1e21d4c3eae'
down_revision = '7322a9f849e7'
branch_labels = None
depends_on = None


def upgrade():
    # What was read from an application document (one read per file) and, on submit, each
    # prefilled field's extracted and submitted value (accuracy in real use).
    op.create_table('document_extraction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('requested_by', sa.String(length=120), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pages_done', sa.Integer(), nullable=False),
    sa.Column('pages_total', sa.Integer(), nullable=True),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('result', backend.db.JSONType, nullable=True),
    sa.Column('method', sa.String(length=16), nullable=True),
    sa.Column('seconds', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', backend.db.UTCDateTime(), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_document_extraction_state')),
    sa.ForeignKeyConstraint(['file_sha256'], ['stored_file.sha256'], name=op.f('fk_document_extraction_file_sha256_stored_file')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_extraction')),
    sa.UniqueConstraint('file_sha256', name=op.f('uq_document_extraction_file_sha256'))
    )
    op.create_table('extraction_correction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('extraction_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=False),
    sa.Column('extracted', sa.Text(), nullable=False),
    sa.Column('submitted', sa.Text(), nullable=True),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('project_code', sa.String(length=40), nullable=True),
    sa.Column('recorded_at', backend.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['extraction_id'], ['document_extraction.id'], name=op.f('fk_extraction_correction_extraction_id_document_extraction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extraction_correction'))
    )
    with op.batch_alter_table('extraction_correction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extraction_correction_extraction_id'), ['extraction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extraction_correction_project_code'), ['project_code'], unique=False)



def downgrade():
    with op.batch_alter_table('extraction_correction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extraction_correction_project_code'))
        batch_op.drop_index(batch_op.f('ix_extraction_correction_extraction_id'))

    op.drop_table('extraction_correction')
    op.drop_table('document_extraction')
