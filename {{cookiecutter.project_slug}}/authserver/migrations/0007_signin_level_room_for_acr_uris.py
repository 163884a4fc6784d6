# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0006_sign_in_methods_and_level_requires_multi_factor"),
    ]

    operations = [
        # acr values the adapter names may be URIs (OIDC Core §2), longer than the default names.
        migrations.AlterField(
            model_name="signin", name="level", field=models.CharField(blank=True, max_length=255)
        ),
    ]
