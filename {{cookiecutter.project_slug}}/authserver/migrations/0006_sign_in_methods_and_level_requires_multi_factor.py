# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0005_tokengeneration"),
    ]

    operations = [
        # A code's record of how the user authenticated: auth_time, and now amr and acr too.
        migrations.RenameModel(old_name="SignInTime", new_name="SignIn"),
        migrations.RenameField(model_name="signin", old_name="signed_in_at", new_name="authenticated_at"),
        migrations.AddField(model_name="signin", name="methods", field=models.JSONField(default=list)),
        migrations.AddField(
            model_name="signin", name="level", field=models.CharField(blank=True, max_length=32)
        ),
        migrations.AddField(
            model_name="application",
            name="requires_multi_factor",
            field=models.BooleanField(
                default=False,
                help_text="Users of this client must have a second factor (an authenticator app or a security "
                "key) and use it before a code is issued; a password-only session is asked for it first.",
            ),
        ),
    ]
