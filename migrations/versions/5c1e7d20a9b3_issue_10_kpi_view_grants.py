"""issue 10: evaluation schemes; kpi.view and kpi.manage for the stored roles (the leader role is seeded as a built-in)

Revision ID: 5c1e7d20a9b3
Revises: 082a549b79db
Create Date: 2026-11-24 20:30:00

"""
import sqlalchemy as sa
from alembic import op

import backend.db

# Default grants of the new permission, added to the stored roles (the roles' defaults in
# backend/authz/permissions.py cover fresh databases; seed_roles stores the new 领导 role).
NEW_GRANTS = {
    "kpi.view": ("reviewer", "head", "finance", "inspector", "operator", "leader"),
    "kpi.manage": ("head", "operator"),
}

# revision identifiers, used by Alembic.
revision = '5c1e7d20a9b3'
down_revision = '082a549b79db'
branch_labels = None
depends_on = None


def upgrade():
    # Versions of the performance-evaluation scheme (weights and scoring rules); one is active.
    op.create_table('kpi_evaluation_scheme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('items', backend.db.JSONType, nullable=False),
    sa.Column('created_by', sa.String(length=60), nullable=True),
    sa.Column('created_at', backend.db.UTCDateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_evaluation_scheme'))
    )
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
    op.drop_table('kpi_evaluation_scheme')
