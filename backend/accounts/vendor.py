"""Front-end assets from npm packages (package.json), served by the app: no CDN.

Only the files named in ASSETS are served; the URL carries the package version so browsers
may cache them for a year and still see an upgrade at once.
"""

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, abort, current_app, send_file, url_for

from backend.config import ROOT

bp = Blueprint("vendor", __name__, url_prefix="/vendor")

ONE_YEAR = 365 * 24 * 3600

# URL path under /vendor/ -> (npm package, file inside the package)
ASSETS = {
    "bootstrap/bootstrap.min.css": ("bootstrap", "dist/css/bootstrap.min.css"),
    "bootstrap/bootstrap.min.css.map": ("bootstrap", "dist/css/bootstrap.min.css.map"),
    "bootstrap/bootstrap.bundle.min.js": ("bootstrap", "dist/js/bootstrap.bundle.min.js"),
    "bootstrap/bootstrap.bundle.min.js.map": ("bootstrap", "dist/js/bootstrap.bundle.min.js.map"),
    # bpmn-js Modeler (the process designer); bpmn.css finds its fonts at ../font/.
    "bpmn-js/bpmn-modeler.production.min.js": ("bpmn-js", "dist/bpmn-modeler.production.min.js"),
    "bpmn-js/diagram-js.css": ("bpmn-js", "dist/assets/diagram-js.css"),
    "bpmn-js/bpmn-js.css": ("bpmn-js", "dist/assets/bpmn-js.css"),
    "bpmn-js/bpmn-font/css/bpmn.css": ("bpmn-js", "dist/assets/bpmn-font/css/bpmn.css"),
    "bpmn-js/bpmn-font/font/bpmn.woff2": ("bpmn-js", "dist/assets/bpmn-font/font/bpmn.woff2"),
    "bpmn-js/bpmn-font/font/bpmn.woff": ("bpmn-js", "dist/assets/bpmn-font/font/bpmn.woff"),
    "bpmn-js/bpmn-font/font/bpmn.ttf": ("bpmn-js", "dist/assets/bpmn-font/font/bpmn.ttf"),
    "bpmn-js/bpmn-font/font/bpmn.eot": ("bpmn-js", "dist/assets/bpmn-font/font/bpmn.eot"),
    "bpmn-js/bpmn-font/font/bpmn.svg": ("bpmn-js", "dist/assets/bpmn-font/font/bpmn.svg"),
    # The cockpit's instance diagram (read-only, zoom and pan; shares the css above).
    "bpmn-js/bpmn-navigated-viewer.production.min.js": (
        "bpmn-js",
        "dist/bpmn-navigated-viewer.production.min.js",
    ),
    # The schedule page's Gantt chart (backend/static/gantt.js).
    "frappe-gantt/frappe-gantt.umd.js": ("frappe-gantt", "dist/frappe-gantt.umd.js"),
    "frappe-gantt/frappe-gantt.css": ("frappe-gantt", "dist/frappe-gantt.css"),
    # The leadership cockpit's charts (backend/kpi/static/leader.js); the full build has treemap.
    "echarts/echarts.min.js": ("echarts", "dist/echarts.min.js"),
}


def node_modules() -> Path:
    return Path(current_app.config.get("NODE_MODULES_DIR") or ROOT / "node_modules")


@cache
def _package_version(directory: str, package: str) -> str:
    try:
        return json.loads((Path(directory) / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "missing"


def vendor_url(path: str) -> str:
    """URL of an allowed asset, versioned by its package (for templates: `vendor_url(...)`)."""
    package, _file = ASSETS[path]
    return url_for("vendor.asset", path=path, v=_package_version(str(node_modules()), package))


@bp.get("/<path:path>")
def asset(path: str):
    if path not in ASSETS:
        abort(404)
    package, file = ASSETS[path]
    full = node_modules() / package / file
    if not full.is_file():
        current_app.logger.error("front-end asset missing: %s (run `npm ci`)", full)
        abort(404)
    response = send_file(full, max_age=ONE_YEAR, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response
