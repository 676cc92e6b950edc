"""The bank's standing world: customers, accounts, cards, devices, payees, merchants, habits, geography, the
calendar and price levels, built once per scenario.
"""
