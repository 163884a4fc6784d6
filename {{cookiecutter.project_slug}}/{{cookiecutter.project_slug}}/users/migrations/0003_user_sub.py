import uuid

from django.db import migrations, models


def give_every_user_a_subject_identifier(apps, schema_editor):
    # One random value per row: a field default would give every existing row the same one.
    User = apps.get_model("users", "User")
    for user in User.objects.filter(sub__isnull=True).only("pk"):
        User.objects.filter(pk=user.pk).update(sub=uuid.uuid4())


class Migration(migrations.Migration):
    """Existing users get their opaque `sub` here, once; it stays theirs from then on."""

    dependencies = [
        ("users", "0002_user_updated_at"),
    ]

    operations = [
        migrations.AddField(model_name="user", name="sub", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(give_every_user_a_subject_identifier, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="user",
            name="sub",
            field=models.UUIDField(
                default=uuid.uuid4, editable=False, unique=True, verbose_name="subject identifier"
            ),
        ),
    ]
