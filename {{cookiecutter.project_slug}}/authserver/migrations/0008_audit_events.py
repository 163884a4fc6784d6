# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0007_signin_level_room_for_acr_uris"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The audit trail of security events (authserver/audit.py).
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("time", models.DateTimeField(db_index=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("sign_in", "Signed in"),
                            ("sign_in_failed", "Sign-in failed"),
                            ("sign_out", "Signed out"),
                            ("locked_out", "Sign-in refused: too many failures"),
                            ("second_factor_added", "Second factor added"),
                            ("second_factor_removed", "Second factor removed"),
                            ("recovery_codes_reset", "Recovery codes regenerated"),
                            ("password_changed", "Password changed"),
                            ("password_reset", "Password reset"),
                            ("password_set", "Password set"),
                            ("email_added", "E-mail address added"),
                            ("email_verified", "E-mail address verified"),
                            ("email_primary_changed", "Primary e-mail address changed"),
                            ("email_removed", "E-mail address removed"),
                            ("consent_given", "Consent given"),
                            ("consent_withdrawn", "Consent withdrawn"),
                            ("token_issued", "Token issued"),
                            ("token_refreshed", "Token refreshed"),
                            ("token_revoked", "Token revoked"),
                            ("refresh_token_replayed", "Refresh token replayed: its family revoked"),
                            ("code_replayed", "Authorization code replayed: its tokens revoked"),
                            ("client_registered", "Client registered"),
                            ("client_changed", "Client changed"),
                            ("client_disabled", "Client disabled"),
                            ("client_deleted", "Client deleted"),
                            ("admin_change", "Change in the admin"),
                        ],
                        max_length=32,
                    ),
                ),
                ("actor_name", models.CharField(blank=True, max_length=150)),
                ("client_id", models.CharField(blank=True, db_index=True, max_length=255)),
                ("ip", models.CharField(blank=True, max_length=64)),
                ("user_agent", models.CharField(blank=True, max_length=300)),
                ("request_id", models.CharField(blank=True, max_length=128)),
                ("details", models.JSONField(blank=True, default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-time"],
                "indexes": [models.Index(fields=["kind", "time"], name="oauth_audit_kind_time")],
            },
        ),
    ]
