"""LocalScale: an emulator of PlanetScale's API v1 for tests and the demo, never for production.

Modelled on SchemaBot's LocalScale (upstream ``pkg/localscale``) without Vitess: each branch
keyspace is a database on a MySQL server it administers, or a schema-only model where there is
none; branch passwords reach their branch through the emulator's MySQL endpoint; deploy
requests advance on a clock computed when they are read; every call is logged so tests can
count what a client did. Its own tables live in ternadmin's ``default`` database.
"""
