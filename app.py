"""Entry point: `flask --app app run`. Everything is built in backend.create_app."""

from backend import create_app

app = create_app()
