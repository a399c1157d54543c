"""Distances on the WGS-84 ellipsoid approximated by a sphere (haversine): metres-accurate
within a site's few hundred metres, which is all a geofence needs."""

import math
from decimal import Decimal

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)


def haversine_m(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance in metres between two points in decimal degrees."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp = p2 - p1
    dl = math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_point(latitude, longitude) -> bool:
    try:
        lat, lon = Decimal(str(latitude)), Decimal(str(longitude))
    except ArithmeticError:
        return False
    return lat.is_finite() and lon.is_finite() and -90 <= lat <= 90 and -180 <= lon <= 180
