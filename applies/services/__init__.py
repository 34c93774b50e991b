"""Operator actions and manual fixes: validated, lease/target-lock aware, audited."""
