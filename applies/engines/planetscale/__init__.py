"""PlanetScale: the public API client and everything the driver needs to change a branch.

``config`` (settings) · ``transport`` (HTTP, retries) · ``types`` (API objects) · ``client``
(one method per endpoint) · ``metadata`` (persisted resume state) · ``schema_files`` (a plan's
desired schema) · ``normalize`` and ``diff`` (table shapes, what a branch lacks) ·
``branch_sql`` (a MySQL connection to a branch) · ``branch_changes`` (VSchema, then DDL).
The step function that drives an apply is ``applies.recovery.planetscale``.
"""
