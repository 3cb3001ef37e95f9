# The models took the glossary's names; their tables keep theirs (Meta.db_table),
# which the access-count triggers write to. Only Django's state changes: renaming
# each table and back would lock both against page views for nothing.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('visits', '0005_access_update_trigger'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameModel(
                    old_name='AccessCount',
                    new_name='AccessCountSlot',
                ),
                migrations.RenameModel(
                    old_name='HourlyAccessCount',
                    new_name='HourlyAccessCountSlot',
                ),
                migrations.AlterModelTable(
                    name='accesscountslot',
                    table='visits_accesscount',
                ),
                migrations.AlterModelTable(
                    name='hourlyaccesscountslot',
                    table='visits_hourlyaccesscount',
                ),
            ],
        ),
    ]
