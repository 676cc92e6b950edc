"""Genuine life: a day of customers' payments, transfers and withdrawals, their web sessions (clickstream) and the
web acquisition funnel.
"""
