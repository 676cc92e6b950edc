"""The regions a scenario can simulate: province hubs, residential spread, cities and currency.

A region is reference data, not configuration: the scenario names one by key, and every table
that carries a place (customers, merchants, ATMs, later transactions) draws from the same one,
so geography is coherent across the world.
"""

from __future__ import annotations

from dataclasses import dataclass

from fraud_pipeline.core.reserved import is_reserved_domain


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Province:
    """A province hub with seed 000's residential spread and an approximate land bounding box.

    Homes and terminals are placed at hub ± spread (seed 000); points falling outside `bbox`
    (lat_min, lat_max, lon_min, lon_max) are redrawn, so a 1.8° spread around a coastal hub
    does not put people in the sea (a seed 000 artefact).
    """

    name: str
    hub: City
    spread_deg: float
    population_share: float
    bbox: tuple[float, float, float, float]
    cities: tuple[City, ...]


@dataclass(frozen=True)
class Destination:
    """A city abroad that customers travel to and foreign merchants sit in, with its currency: the rate
    (region currency per unit, an approximate 2026 level; days vary by a little noise) and the smallest note
    its ATMs dispense. `weight`: how often the region's travellers go there; `ecommerce`: how many of the
    region's cross-border web shops are registered there."""

    city: City
    country_code: str
    currency: str
    rate: float
    atm_note: int
    weight: float
    ecommerce: float


@dataclass(frozen=True)
class Region:
    key: str
    country_code: str
    currency: str
    timezone: str
    provinces: tuple[Province, ...]
    name_locales: tuple[str, ...]
    email_domains: tuple[str, ...]  # reserved names only (see fraud_pipeline.core.reserved): the names are realistic
    destinations: tuple[Destination, ...]
    ecommerce_cities: tuple[str, ...]  # where the region's own web shops are registered (cities of its provinces)


def _destination(city, lat, lon, country, currency, rate, note, weight, ecommerce=0.0):
    return Destination(City(city, lat, lon), country, currency, rate, note, weight, ecommerce)


def _province(name, hub, spread, share, bbox, cities):
    hub_city = City(*hub)
    return Province(name, hub_city, spread, share, bbox, (hub_city, *(City(*c) for c in cities)))


# Hubs and spreads are seed 000's; population shares are Stats SA's mid-year estimates, rounded
# (seed 000 picked provinces uniformly, which puts as many people in the Northern Cape as in Gauteng).
SOUTH_AFRICA = Region(
    key="south_africa",
    country_code="ZA",
    currency="ZAR",
    timezone="Africa/Johannesburg",
    name_locales=("zu_ZA", "en_GB"),
    # A provider mix in reserved names only (RFC 2606 / RFC 6761): global webmail under example.com/.net/.org, local
    # ISPs under za.example, a mobile operator's mail under .test. Real providers' domains with realistic names would
    # be real people's addresses.
    email_domains=("mail.example.com", "inbox.example.net", "post.example.org", "webmail.za.example",
                   "broadband.za.example", "mobile.test"),
    # South Africans' most visited countries (neighbours first, then long-haul); rates ZAR per unit, approximate.
    destinations=(
        _destination("Windhoek", -22.5609, 17.0658, "NA", "NAD", 1.0, 50, 0.12),
        _destination("Gaborone", -24.6282, 25.9231, "BW", "BWP", 1.30, 50, 0.10),
        _destination("Maputo", -25.9692, 32.5732, "MZ", "MZN", 0.28, 200, 0.09),
        _destination("Harare", -17.8292, 31.0522, "ZW", "USD", 17.8, 20, 0.06),
        _destination("Maseru", -29.3151, 27.4869, "LS", "LSL", 1.0, 50, 0.05),
        _destination("Mbabane", -26.3054, 31.1367, "SZ", "SZL", 1.0, 50, 0.05),
        _destination("Port Louis", -20.1609, 57.5012, "MU", "MUR", 0.39, 100, 0.07),
        _destination("Zanzibar", -6.1659, 39.2026, "TZ", "TZS", 0.0068, 10000, 0.04),
        _destination("Nairobi", -1.2921, 36.8219, "KE", "KES", 0.138, 500, 0.03),
        _destination("Dubai", 25.2048, 55.2708, "AE", "AED", 4.85, 50, 0.07, 0.05),
        _destination("London", 51.5072, -0.1276, "GB", "GBP", 22.6, 10, 0.08, 0.20),
        _destination("Paris", 48.8566, 2.3522, "FR", "EUR", 19.3, 10, 0.04, 0.05),
        _destination("Amsterdam", 52.3676, 4.9041, "NL", "EUR", 19.3, 10, 0.03, 0.15),
        _destination("Lisbon", 38.7223, -9.1393, "PT", "EUR", 19.3, 10, 0.03),
        _destination("New York", 40.7128, -74.0060, "US", "USD", 17.8, 20, 0.04, 0.35),
        _destination("Bangkok", 13.7563, 100.5018, "TH", "THB", 0.50, 100, 0.03),
        _destination("Sydney", -33.8688, 151.2093, "AU", "AUD", 11.6, 20, 0.03),
        _destination("Shenzhen", 22.5431, 114.0579, "CN", "CNY", 2.45, 100, 0.01, 0.20),
    ),
    ecommerce_cities=("Johannesburg", "Cape Town", "Durban", "Pretoria", "Stellenbosch"),
    provinces=(
        _province("Gauteng", ("Johannesburg", -26.2041, 28.0473), 0.15, 0.26, (-26.9, -25.1, 27.2, 29.0),
                  [("Pretoria", -25.7479, 28.2293), ("Soweto", -26.2485, 27.8540), ("Benoni", -26.1885, 28.3208),
                   ("Vereeniging", -26.6731, 27.9261)]),
        _province("Western Cape", ("Cape Town", -33.9249, 18.4241), 0.15, 0.12, (-34.8, -31.0, 17.8, 23.6),
                  [("Stellenbosch", -33.9321, 18.8602), ("Paarl", -33.7342, 18.9621), ("George", -33.9630, 22.4617),
                   ("Worcester", -33.6465, 19.4485)]),
        _province("KwaZulu-Natal", ("Durban", -29.8587, 31.0218), 0.15, 0.19, (-31.1, -26.8, 28.9, 32.9),
                  [("Pietermaritzburg", -29.6006, 30.3794), ("Richards Bay", -28.7807, 32.0383),
                   ("Newcastle", -27.7575, 29.9318), ("Ladysmith", -28.5539, 29.7784)]),
        _province("Eastern Cape", ("Gqeberha", -33.9608, 25.6022), 1.8, 0.11, (-34.1, -30.0, 22.7, 30.2),
                  [("East London", -33.0292, 27.8546), ("Mthatha", -31.5889, 28.7844), ("Makhanda", -33.3106, 26.5256),
                   ("Komani", -31.8976, 26.8753), ("Graaff-Reinet", -32.2522, 24.5308)]),
        _province("Limpopo", ("Polokwane", -23.8962, 29.4486), 1.8, 0.10, (-25.4, -22.1, 26.4, 31.9),
                  [("Thohoyandou", -22.9456, 30.4849), ("Tzaneen", -23.8332, 30.1635), ("Mokopane", -24.1944, 29.0097),
                   ("Musina", -22.3500, 30.0333), ("Bela-Bela", -24.8849, 28.2917)]),
        _province("Mpumalanga", ("Mbombela", -25.4753, 30.9694), 0.15, 0.08, (-27.8, -24.5, 28.2, 32.0),
                  [("Emalahleni", -25.8713, 29.2332), ("Secunda", -26.5157, 29.1972), ("Middelburg", -25.7751, 29.4648),
                   ("White River", -25.3319, 31.0117)]),
        _province("North West", ("Mahikeng", -25.8560, 25.6403), 0.15, 0.07, (-28.0, -24.6, 22.6, 28.3),
                  [("Rustenburg", -25.6676, 27.2421), ("Klerksdorp", -26.8521, 26.6667),
                   ("Potchefstroom", -26.7145, 27.0970), ("Mmabatho", -25.8369, 25.6170)]),
        _province("Free State", ("Bloemfontein", -29.1181, 26.2232), 0.15, 0.05, (-30.7, -26.6, 24.3, 29.8),
                  [("Welkom", -27.9864, 26.7066), ("Bethlehem", -28.2308, 28.3071), ("Sasolburg", -26.8136, 27.8169),
                   ("Botshabelo", -29.2353, 26.7047)]),
        _province("Northern Cape", ("Kimberley", -28.7282, 24.7499), 1.8, 0.02, (-32.9, -24.7, 16.4, 25.5),
                  [("Upington", -28.4478, 21.2561), ("Springbok", -29.6643, 17.8865), ("Kuruman", -27.4524, 23.4325),
                   ("De Aar", -30.6497, 24.0123)]),
    ),
)

REGIONS: dict[str, Region] = {SOUTH_AFRICA.key: SOUTH_AFRICA}

for _region in REGIONS.values():  # a region that names a deliverable domain is a bug, caught at import
    _unreserved = [d for d in _region.email_domains if not is_reserved_domain(d)]
    if _unreserved:
        raise ValueError(f"region {_region.key}: e-mail domains {_unreserved} are not reserved names (RFC 2606/6761)")
