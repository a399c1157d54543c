"""Real races for tests: each action runs in its own thread, app context and database
session, all released together; commits on success, rolls back on error."""

import threading

from backend.extensions import db


def race(app, actions, *, timeout: float = 60) -> list:
    """Run `action(session)` for each action at once; returns each result or exception."""
    barrier = threading.Barrier(len(actions))
    outcomes: list = [None] * len(actions)

    def worker(i, action):
        with app.app_context():
            try:
                barrier.wait()
                outcomes[i] = action(db.session)
                db.session.commit()
            except Exception as exc:
                db.session.rollback()
                outcomes[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes
