"""Small value pools built once with Faker and sampled by index (Faker is never called per row)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
from faker import Faker

from fraud_pipeline.scenario.regions import Region

COMPANY_POOL_SIZE = 600
CRYPTO_VENUES = ("Binance", "Luno", "VALR", "Kraken", "Coinbase", "OKX", "Bybit", "KuCoin", "AltCoinTrader")


@dataclass(frozen=True)
class NamePool:
    """First names by sex and last names, concatenated over the region's locales.

    `offsets[locale]` and `sizes[locale]` locate each locale's slice, so a name is drawn by
    picking a locale per person, then an index inside that locale's slice.
    """

    first_names: dict[str, pa.Array]  # "F"/"M" -> names of all locales, concatenated
    first_offsets: dict[str, np.ndarray]
    first_sizes: dict[str, np.ndarray]
    last_names: pa.Array
    last_offsets: np.ndarray
    last_sizes: np.ndarray


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))


def _person_provider(locale: str):
    return next(p for p in Faker(locale).providers if type(p).__module__.startswith("faker.providers.person"))


@lru_cache(maxsize=None)
def name_pool(region: Region) -> NamePool:
    providers = [_person_provider(locale) for locale in region.name_locales]

    def stacked(lists):
        sizes = np.array([len(names) for names in lists])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        return pa.array([name for names in lists for name in names]), offsets, sizes

    first = {"F": stacked([_unique(p.first_names_female) for p in providers]),
             "M": stacked([_unique(p.first_names_male) for p in providers])}
    last = stacked([_unique(p.last_names) for p in providers])
    return NamePool(
        first_names={sex: f[0] for sex, f in first.items()},
        first_offsets={sex: f[1] for sex, f in first.items()},
        first_sizes={sex: f[2] for sex, f in first.items()},
        last_names=last[0], last_offsets=last[1], last_sizes=last[2],
    )


@lru_cache(maxsize=None)
def company_names(seed: int) -> pa.Array:
    """Distinct company names for merchants and business beneficiaries, fixed by the seed."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    names = _unique(faker.company() for _ in range(COMPANY_POOL_SIZE * 2))
    return pa.array(names[:COMPANY_POOL_SIZE])
