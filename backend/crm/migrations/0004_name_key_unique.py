from django.db import migrations, models


class Migration(migrations.Migration):
    """Names unique per organization on the case-folded key, in its own transaction after the keys are filled
    (PostgreSQL refuses to alter a table with row changes pending in the same transaction)."""

    dependencies = [
        ("crm", "0003_name_key_column"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='clientgroup',
            constraint=models.UniqueConstraint(fields=('organization', 'name_key'), name='crm_group_org_name_key_uniq', violation_error_message='This name is taken.'),
        ),
        migrations.AddConstraint(
            model_name='clientsource',
            constraint=models.UniqueConstraint(fields=('organization', 'name_key'), name='crm_source_org_name_key_uniq', violation_error_message='This name is taken.'),
        ),
    ]
