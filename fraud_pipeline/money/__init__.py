"""Money: each customer's budget and channel mix, the ledger that authorises, declines and posts, and the state
carried from one day to the next.
"""
