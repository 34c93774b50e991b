"""The PlanetScale driver: resume a claimed apply from its persisted engine state, one step at a
time (upstream resumeApplyWithTasks and pkg/engine/planetscale/apply.go ``resumeApply``).

``planetscale`` (the step function and its factory) · ``ps_stop`` (a pending stop first) ·
``ps_branch`` (branch, DDL, validation, deploy request) · ``ps_deploy`` (deploy, follow,
finish) · ``snapshot`` (what a step re-reads) · ``step_context`` · ``writer`` (every
lease-guarded write) · ``crash`` (crash points for the crash matrix). What runs the steps, when
and where, is ``applies.drives``.
"""
