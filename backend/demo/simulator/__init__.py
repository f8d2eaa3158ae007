"""The demo simulator: days of operations through the real services (ADR 0028).

``engine.Simulation`` runs days; ``booking`` and ``staffing`` live one business's day; ``traits`` holds the hidden
propensities of customers and workers; ``figures`` reads a day's line back from the database.
"""
