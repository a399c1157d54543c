"""issue 11: an extraction's attempts (重新识别) and its error's values (shown translated)

Revision ID: b7c4a0484c0e
Revises: e1e21d4c3eae
Create Date: 2026-11-25 02:24:50.479405

"""
from alembic import op
import sqlalchemy as sa
import backend.db

# revision identifiers, used by Alembic.
revision = 'b7c4a0484c0e'
down_revision = 'e1e21d4c3eae'
branch_labels = None
depends_on = None

def upgrade():
    # attempts: each 重新识别 is a new job with its own idempotency key; error_values: the
    # placeholders of the error message, so it is shown in the viewer's language.
    with op.batch_alter_table('document_extraction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_values', backend.db.JSONType, nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='1', nullable=False))

def downgrade():
    with op.batch_alter_table('document_extraction', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('error_values')

