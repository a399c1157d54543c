#!/bin/sh
# One image, three roles. Migrations and deploys are idempotent, so every role may run them.
set -e
# gunicorn must not start the embedded scheduler and job threads: worker and scheduler do that work.
export EMBEDDED_WORKERS="${EMBEDDED_WORKERS:-false}"
case "$1" in
  web)
    flask --app app db upgrade
    flask --app app calendar seed
    flask --app app processes deploy --by docker
    # Request metrics are per gunicorn worker process (see backend/metrics).
    exec gunicorn -w "${WEB_CONCURRENCY:-4}" -b 0.0.0.0:8000 --access-logfile - app:app ;;
  worker)
    exec flask --app app worker ;;
  scheduler)
    exec flask --app app scheduler run ;;
  *)
    exec "$@" ;;
esac
