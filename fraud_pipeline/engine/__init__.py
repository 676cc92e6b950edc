"""A day end to end: genuine life, fraud and the ledger in order, and the state stored between days."""
