"""Values that belong to nobody: what the generator uses where a realistic value could be a real person's.

Each name, range or number here is set aside by a standard (or, for cards, published as test data), so
the data cannot reach, identify or charge anyone. The README's "Data that belongs to nobody" says the same.
"""

from __future__ import annotations

# E-mail domains. RFC 2606 §3 reserves the second-level domains example.com, example.net and example.org, and
# RFC 2606 §2 / RFC 6761 §6 the top-level domains .example, .test and .invalid; their subdomains are reserved with
# them. (example.co.za is NOT reserved: anyone may register it.) A mail to any of them is delivered to nobody.
RESERVED_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_EMAIL_TLDS = ("example", "test", "invalid")
# The same rule as a regular expression over a whole domain (lower case).
RESERVED_DOMAIN_PATTERN = (r"(?:[a-z0-9-]+\.)*example\.(?:com|net|org)"
                           r"|(?:[a-z0-9-]+\.)+(?:example|test|invalid)")


def is_reserved_domain(domain: str) -> bool:
    """Whether `domain` is one of the reserved names above or a subdomain of one."""
    labels = domain.lower().split(".")
    if len(labels) >= 2 and all(labels) and labels[-1] in RESERVED_EMAIL_TLDS:
        return True
    return any(domain.lower() == name or domain.lower().endswith("." + name) for name in RESERVED_EMAIL_DOMAINS)


# IP addresses. RFC 5737 sets aside three IPv4 blocks for documentation (TEST-NET-1/2/3) and RFC 3849 the IPv6 prefix
# 2001:db8::/32; neither is ever routed, so no address in them is anyone's. The three /24s hold only 762 hosts: the
# world puts its shared pools (mobile carriers' NAT addresses, VPN exits) there and gives each home, each address
# abroad and each ring's own address a /64 of its own in 2001:db8::/32.
DOCUMENTATION_IPV4 = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
DOCUMENTATION_IPV6 = "2001:db8::/32"
DOCUMENTATION_IPV4_HOSTS = tuple(f"{network.rsplit('.', 1)[0]}.{host}" for network in DOCUMENTATION_IPV4
                                 for host in range(1, 255))

# Card numbers. No standard reserves a Visa or Mastercard range for tests: ISO/IEC 7812-1 sets aside only IIN 00000
# (ISO/TC 68's test IIN, not network-shaped) and the ISO register of issued IINs is not public. What the industry
# shares as test data are the card numbers payment processors publish for their sandboxes, so the default BINs are
# the first six digits of such numbers, each listed by at least two of:
#   Stripe          https://docs.stripe.com/testing
#   Braintree       https://developer.paypal.com/braintree/docs/reference/general/testing
#   PayPal Payflow  https://www.paypalobjects.com/en_US/vhelp/paypalmanager_help/credit_card_numbers.htm
#   TabaPay         https://developers.tabapay.com/docs/sandbox-test-cards
# Numbers keep the network's shape (Visa 4…, Mastercard 51–55 or 2221–2720), 16 digits and a Luhn check digit; the
# nine digits between BIN and check digit are the simulated bank's serials, unique across all BINs.
PUBLISHED_TEST_CARDS = {
    "4242424242424242": "Stripe, TabaPay",
    "4111111111111111": "Braintree, PayPal Payflow, TabaPay",
    "4012888888881881": "Stripe, Braintree, PayPal Payflow",
    "5555555555554444": "Stripe, Braintree, PayPal Payflow, TabaPay",
    "5105105105105100": "Stripe, Braintree, PayPal Payflow, TabaPay",
    "2223003122003222": "Stripe, TabaPay (and 2223000048400011: Braintree, TabaPay)",
}
TEST_CARD_BINS = {"visa": ("424242", "411111", "401288"), "mastercard": ("555555", "510510", "222300")}
assert all(any(number.startswith(b) for number in PUBLISHED_TEST_CARDS) for bins in TEST_CARD_BINS.values()
           for b in bins)
assert len({len(bins) for bins in TEST_CARD_BINS.values()}) == 1  # as many per network: a rectangular table
