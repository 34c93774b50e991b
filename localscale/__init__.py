"""LocalScale: a small emulator of PlanetScale's deploy-request API, for tests and the demo.

Modelled on SchemaBot's LocalScale (domain.md §7.2) without Vitess: branches hold lists of DDL
statements, deploy requests advance on a clock computed when they are read, and every call is
logged so tests can count what a client did. Its tables live in ternadmin's ``default`` database.
"""
