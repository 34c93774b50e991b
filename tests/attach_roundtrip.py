"""Write, read back, update and delete a row of every SchemaBot model, then print a JSON report.

Run in a separate process against an attached database (``python -m tests.attach_roundtrip``)
so that it goes through the same settings, checks and router as a real deployment.
"""

from __future__ import annotations

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ternadmin.settings")
    import django

    django.setup()
    from django.conf import settings

    from applies.models import SCHEMABOT_MODELS, Apply, ApplyOperation
    from tests import factories

    apply = factories.ApplyFactory.create(options={"defer_deploy": True, "volume": 4})
    operation = factories.ApplyOperationFactory.create(
        apply=apply, engine_resume_metadata={"branch_name": "b", "deploy_request_id": 7}
    )
    task = factories.TaskFactory.create(apply=apply, apply_operation=operation, rows_total=10)
    factories.ApplyLogFactory.create(apply=apply, task=task, metadata={"k": [1, 2]})
    factories.ApplyControlRequestFactory.create(apply=apply, metadata={})

    report: dict[str, object] = {}
    for model in SCHEMABOT_MODELS:
        manager = model.objects.using(settings.SCHEMABOT_DATABASE)
        row = manager.get()  # exactly one row each, read back through every mapped column
        values = {f.attname: getattr(row, f.attname) for f in model._meta.concrete_fields}
        report[model._meta.db_table] = {
            "columns": len(values),
            "created_at_set": values["created_at"] is not None,
        }
    loaded = Apply.objects.using(settings.SCHEMABOT_DATABASE).get(pk=apply.pk)
    operation_loaded = ApplyOperation.objects.using(settings.SCHEMABOT_DATABASE).get(
        pk=operation.pk
    )
    report["json_roundtrip"] = loaded.options == {
        "defer_deploy": True,
        "volume": 4,
    } and operation_loaded.engine_resume_metadata == {"branch_name": "b", "deploy_request_id": 7}
    updated = (
        Apply.objects.using(settings.SCHEMABOT_DATABASE)
        .filter(pk=apply.pk)
        .update(error_message="checked")
    )
    report["updated"] = updated
    deleted = 0
    for model in reversed(SCHEMABOT_MODELS):
        deleted += model.objects.using(settings.SCHEMABOT_DATABASE).all().delete()[0]
    report["deleted"] = deleted
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
