"""The platform plus the test jobs: the app of the `flask worker` subprocess in test_worker_command.py."""

from backend import create_app
from tests.jobs import conftest  # noqa: F401  (registers the test_jobs.* jobs)

app = create_app()
