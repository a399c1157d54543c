"""`flask kpi ...`: commands of the indicators and the cockpit."""

from flask.cli import AppGroup

kpi_cli = AppGroup("kpi", help="Indicators and the leadership cockpit.")
