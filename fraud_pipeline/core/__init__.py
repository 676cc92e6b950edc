"""Low-level building blocks every part of the bank uses: keyed random streams, time, columns, rows, table schemas,
the findings of checks, labels and the plotting style. Imports nothing else of the project.
"""
