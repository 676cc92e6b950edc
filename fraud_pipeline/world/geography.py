"""Placing people and terminals in the region: seed 000's province hubs and residential jitter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fraud_pipeline.scenario.regions import Region

POINTS_AT_ONCE = 65_536  # points named after their nearest city together


@dataclass(frozen=True)
class Places:
    province: pa.Array
    city: pa.Array
    lat: np.ndarray
    lon: np.ndarray


def place(rng: np.random.Generator, region: Region, n: int) -> Places:
    """`n` points: a province by population share, then hub ± the province's spread (seed 000).

    Points outside the province's land box are redrawn, and each point is named after the
    nearest city of its province.
    """
    provinces = region.provinces
    shares = np.array([p.population_share for p in provinces])
    which = rng.choice(len(provinces), size=n, p=shares / shares.sum())
    hub_lat = np.array([p.hub.lat for p in provinces])[which]
    hub_lon = np.array([p.hub.lon for p in provinces])[which]
    spread = np.array([p.spread_deg for p in provinces])[which]
    box = np.array([p.bbox for p in provinces])[which]

    lat = np.empty(n)
    lon = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        lat[todo] = hub_lat[todo] + rng.uniform(-1.0, 1.0, todo.size) * spread[todo]
        lon[todo] = hub_lon[todo] + rng.uniform(-1.0, 1.0, todo.size) * spread[todo]
        b = box[todo]
        outside = (lat[todo] < b[:, 0]) | (lat[todo] > b[:, 1]) | (lon[todo] < b[:, 2]) | (lon[todo] > b[:, 3])
        todo = todo[outside]

    names = pa.array([p.name for p in provinces])
    return Places(province=names.take(pa.array(which)), city=_nearest_city(region, which, lat, lon),
                  lat=np.round(lat, 6), lon=np.round(lon, 6))


def _nearest_city(region: Region, province: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> pa.Array:
    cities = [(i, c) for i, p in enumerate(region.provinces) for c in p.cities]
    city_province = np.array([i for i, _ in cities])
    city_lat = np.array([c.lat for _, c in cities])
    city_lon = np.array([c.lon for _, c in cities])
    # Equirectangular distance is exact enough to pick the nearest of a few dozen cities; points are taken
    # POINTS_AT_ONCE at a time, so the (points, cities) arrays stay a few MB at any number of points.
    nearest = np.empty(len(lat), np.int64)
    for start in range(0, len(lat), POINTS_AT_ONCE):
        part = slice(start, start + POINTS_AT_ONCE)
        d_lat = lat[part, None] - city_lat[None, :]
        d_lon = (lon[part, None] - city_lon[None, :]) * np.cos(np.radians(lat[part]))[:, None]
        distance = np.where(city_province[None, :] == province[part, None], d_lat**2 + d_lon**2, np.inf)
        nearest[part] = distance.argmin(axis=1)
    return pa.array([c.name for _, c in cities]).take(pa.array(nearest))
