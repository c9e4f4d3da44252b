"""Coordinates as Chinese map services give them, converted to WGS-84.

Maps in China publish coordinates in one of three systems; a street office copies them from the
one it uses:

* ``wgs84`` — GPS, OpenStreetMap, what the planner works in;
* ``gcj02`` — the national "Mars" datum of Amap (高德), Tencent and most Chinese apps: WGS-84
  shifted by an obfuscating offset of a few hundred metres;
* ``bd09`` — Baidu (百度): GCJ-02 with a second offset.

`to_wgs84` converts whole arrays. GCJ-02 has no closed-form inverse; it is inverted by fixed-point
iteration (each step corrects by the forward offset of the current estimate), which converges to
well under a millimetre in a few steps. Points outside mainland China's bounding box are left as
they are (GCJ-02 is not applied there).
"""

from __future__ import annotations

import numpy as np

from sampler.model import FloatArray

__all__ = ["CRS_NAMES", "bd09_to_gcj02", "gcj02_to_bd09", "gcj02_to_wgs84", "to_wgs84", "wgs84_to_gcj02"]

CRS_NAMES = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 algorithm uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0


def _in_china(lon: FloatArray, lat: FloatArray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (degrees of longitude, latitude) at a WGS-84 point."""
    x, y = lon - 105.0, lat - 35.0
    d_lat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
             + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    d_lon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
             + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
             + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
             + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS-84 → GCJ-02 (points outside China unchanged)."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offset(lon, lat)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_wgs84(lon: FloatArray, lat: FloatArray, steps: int = 6) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → WGS-84 by fixed-point iteration (residual < 1e-9° after a few steps)."""
    g_lon, g_lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(steps):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        w_lon, w_lat = w_lon + (g_lon - f_lon), w_lat + (g_lat - f_lat)
    return w_lon, w_lat


def gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 → BD-09 (Baidu)."""
    x, y = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """BD-09 (Baidu) → GCJ-02."""
    x, y = np.asarray(lon, dtype=np.float64) - 0.0065, np.asarray(lat, dtype=np.float64) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def to_wgs84(lon: FloatArray, lat: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    """Coordinates given in ``crs`` (one of `CRS_NAMES`) as WGS-84."""
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    if crs == "wgs84":
        return lon, lat
    if crs == "bd09":
        lon, lat = bd09_to_gcj02(lon, lat)
    elif crs != "gcj02":
        raise ValueError(f"unknown coordinate system {crs!r}; use one of {', '.join(CRS_NAMES)}")
    return gcj02_to_wgs84(lon, lat)
