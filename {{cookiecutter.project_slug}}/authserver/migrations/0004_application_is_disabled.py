# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0003_remembered_consent_and_sign_in_time"),
    ]

    operations = [
        migrations.AddField(
            model_name="application",
            name="is_disabled",
            field=models.BooleanField(
                default=False,
                help_text="Refuse this client everywhere: no authorization, no token, and its tokens no "
                "longer accepted at this server's resources.",
            ),
        ),
    ]
