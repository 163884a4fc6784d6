"""The audit trail (authserver/audit.py): each security event as a row and a JSON log line."""

import json
import logging
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from authserver.middleware.request_logging import JSONFormatter, RequestIDFilter
from authserver.models import AuditEvent

from .support import PASSWORD, AuthenticatorApp, client_credentials_token, query_of, revoke, token_request

pytestmark = pytest.mark.django_db

Kind = AuditEvent.Kind
BROWSER = "Mozilla/5.0 (audit test)"


def events(kind):
    return list(AuditEvent.objects.filter(kind=kind).order_by("time", "pk"))


def only(kind):
    (event,) = events(kind)
    return event


def sign_in(client, login, password, **headers):
    return client.post(reverse("account_login"), {"login": login, "password": password}, **headers)


def reauthenticate(client):
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302


@pytest.fixture
def audit_log(caplog):
    """The audit logger's lines, as production writes them (JSON)."""
    caplog.set_level(logging.INFO, logger="authserver.audit")
    # The id of the request being served, as the console handler's filter adds it (settings LOGGING).
    caplog.handler.addFilter(RequestIDFilter())
    formatter = JSONFormatter()

    def lines():
        records = [record for record in caplog.records if record.name == "authserver.audit"]
        return [json.loads(formatter.format(record)) for record in records]

    return lines


def test_a_sign_in_is_one_row_and_one_json_line_with_who_when_where(client, user, audit_log):
    before = timezone.now()
    answer = sign_in(
        client, user.username, PASSWORD, HTTP_USER_AGENT=BROWSER, HTTP_X_REQUEST_ID="req-audit-1"
    )
    assert answer.status_code == 302
    event = only(Kind.SIGN_IN)
    assert event.actor == user and event.actor_name == "alice"
    assert event.ip == "127.0.0.1" and event.user_agent == BROWSER
    assert event.request_id == answer["X-Request-ID"] == "req-audit-1"
    assert event.time >= before and event.details == {"methods": ["password"]}
    (line,) = [line for line in audit_log() if line["event"]["kind"] == "sign_in"]
    assert line["logger"] == "authserver.audit" and line["request_id"] == "req-audit-1"
    assert line["event"] == {
        "id": event.pk,
        "kind": "sign_in",
        "actor_id": user.pk,
        "actor": "alice",
        "client_id": "",
        "ip": "127.0.0.1",
        "user_agent": BROWSER,
        "details": {"methods": ["password"]},
    }


def test_a_wrong_password_is_a_failed_sign_in_naming_the_login(client, user):
    assert sign_in(client, user.username, "not-the-password").status_code == 200
    event = only(Kind.SIGN_IN_FAILED)
    assert event.details == {"method": "password", "login": "alice"}
    assert "not-the-password" not in json.dumps(event.details)


def test_a_lockout_is_recorded_once_a_minute_not_per_refused_attempt(client, user, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "100/15m/ip,2/15m/key"}
    for _ in range(2):
        sign_in(client, user.username, "wrong")
    for _ in range(3):
        assert sign_in(client, user.username, PASSWORD).status_code == 200
    assert only(Kind.LOCKED_OUT).details == {"login": "alice"}


def test_second_factors_added_used_failed_and_removed(client, user, django_capture_on_commit_callbacks):
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    reauthenticate(client)
    page = client.get(reverse("mfa_activate_totp"))
    app = AuthenticatorApp(page.context["form"].secret)
    # allauth sends its signal once the request's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("mfa_activate_totp"), {"code": app.code()}).status_code == 302
    added = [event.details["type"] for event in events(Kind.SECOND_FACTOR_ADDED)]
    assert "totp" in added
    client.post(reverse("account_logout"))
    assert only(Kind.SIGN_OUT).actor == user

    # The password, a wrong code, then a recovery code.
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    assert client.post(reverse("mfa_authenticate"), {"code": "000000"}).status_code == 200
    failed = only(Kind.SIGN_IN_FAILED)
    assert failed.actor == user and failed.details["method"] == "totp"
    recovery_codes = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    code = RecoveryCodes(recovery_codes).get_unused_codes()[0]
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert events(Kind.SIGN_IN)[-1].details == {"methods": ["password", "recovery_code"]}

    reauthenticate(client)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("mfa_deactivate_totp")).status_code == 302
    # The recovery codes go with the last second factor.
    removed = {event.details["type"] for event in events(Kind.SECOND_FACTOR_REMOVED)}
    assert "totp" in removed


def test_password_changed_and_reset(client, user):
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    new_password = PASSWORD + "-changed"
    changed = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
    )
    assert changed.status_code == 302, changed.context["form"].errors
    assert only(Kind.PASSWORD_CHANGED).actor == user

    client.post(reverse("account_logout"))
    assert client.post(reverse("account_reset_password"), {"email": user.email}).status_code == 302
    (message,) = mail.outbox
    link = next(word for word in message.body.split() if "/accounts/password/reset/key/" in word)
    form = client.get(link, follow=True)
    reset = client.post(form.redirect_chain[-1][0], {"password1": PASSWORD, "password2": PASSWORD})
    assert reset.status_code == 302
    assert only(Kind.PASSWORD_RESET).actor == user


def test_email_address_added_and_verified(client, user):
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    added = client.post(reverse("account_email"), {"email": "alice.new@example.com", "action_add": ""})
    assert added.status_code == 302
    assert only(Kind.EMAIL_ADDED).details == {"email": "alice.new@example.com"}
    link = next(word for word in mail.outbox[-1].body.split() if "/accounts/confirm-email/" in word)
    assert client.post(link).status_code == 302
    verified = only(Kind.EMAIL_VERIFIED)
    assert verified.actor == user and verified.details == {"email": "alice.new@example.com"}


def test_consent_given_and_withdrawn(client, authorize, user, demo_client):
    authorize(scope="openid read")
    given = only(Kind.CONSENT_GIVEN)
    assert given.actor == user and given.client_id == demo_client.client_id
    assert given.details == {"scopes": ["openid", "read"]}
    assert client.post("/accounts/consents/", {"client_id": demo_client.client_id}).status_code == 302
    withdrawn = only(Kind.CONSENT_WITHDRAWN)
    assert withdrawn.actor == user and withdrawn.client_id == demo_client.client_id


def test_tokens_issued_refreshed_and_revoked(client, authorize, exchange, user, demo_client, m2m_client):
    tokens = exchange(*authorize(scope="openid read")).json()
    issued = only(Kind.TOKEN_ISSUED)
    assert issued.actor == user and issued.client_id == demo_client.client_id
    assert issued.details == {
        "grant_type": "authorization_code",
        "scopes": ["openid", "read"],
        "refresh_token": True,
    }
    refreshed = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    assert only(Kind.TOKEN_REFRESHED).details["grant_type"] == "refresh_token"
    assert revoke(client, demo_client, token=refreshed.json()["refresh_token"]).status_code == 200
    revoked = only(Kind.TOKEN_REVOKED)
    assert revoked.client_id == demo_client.client_id and revoked.details == {"token_type_hint": ""}

    client_credentials_token(client, m2m_client, "read")
    machine = events(Kind.TOKEN_ISSUED)[-1]
    assert machine.actor is None and machine.client_id == m2m_client.client_id
    assert machine.details["grant_type"] == "client_credentials"


def test_checking_a_bearer_token_records_nothing(client, authorize, exchange):
    access_token = exchange(*authorize()).json()["access_token"]
    count = AuditEvent.objects.count()
    for _ in range(3):
        assert client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access_token}").status_code == 200
    assert AuditEvent.objects.count() == count


def test_a_replayed_refresh_token_and_a_replayed_code(client, authorize, exchange, user, demo_client):
    request, code = authorize()
    tokens = exchange(request, code).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert token_request(client, demo_client, **refresh).status_code == 200
    assert token_request(client, demo_client, **refresh).status_code == 400
    replayed = only(Kind.REFRESH_TOKEN_REPLAYED)
    assert replayed.actor == user and replayed.client_id == demo_client.client_id
    assert replayed.details["token_family"]
    # An unknown refresh token is no replay.
    assert (
        token_request(client, demo_client, grant_type="refresh_token", refresh_token="x" * 30).status_code
        == 400
    )
    assert len(events(Kind.REFRESH_TOKEN_REPLAYED)) == 1

    assert exchange(request, code).status_code == 400
    assert only(Kind.CODE_REPLAYED).client_id == demo_client.client_id


def admin_form_data(page):
    """What the admin's change form would post back unchanged."""
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value in (None, False):
            continue
        data[name] = "on" if value is True else value
    return data


def test_a_client_disabled_in_the_admin_names_the_admin(client, django_user_model, demo_application):
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(admin)
    url = f"/admin/oauth/application/{demo_application.pk}/change/"
    data = {**admin_form_data(client.get(url)), "is_disabled": "on"}
    answer = client.post(url, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors
    disabled = only(Kind.CLIENT_DISABLED)
    assert disabled.actor == admin and disabled.client_id == demo_application.client_id
    change = only(Kind.ADMIN_CHANGE)
    assert change.actor == admin and change.details["action"] == "changed"
    assert change.details["model"] == "application" and "Is disabled" in change.details["change"]


def test_clients_registered_changed_and_deleted(db, application_model):
    client = application_model.objects.create(
        name="A new client",
        client_type=application_model.CLIENT_PUBLIC,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://rp.example/cb",
    )
    registered = only(Kind.CLIENT_REGISTERED)
    assert registered.client_id == client.client_id and registered.details["source"] == "manual"
    client.name = "Renamed"
    client.save()
    assert only(Kind.CLIENT_CHANGED).details["name"] == "Renamed"
    client_id = client.client_id
    client.delete()
    assert only(Kind.CLIENT_DELETED).client_id == client_id


def test_the_admin_lists_and_filters_events_and_changes_none(client, django_user_model, user):
    sign_in(client, user.username, "wrong")
    event = only(Kind.SIGN_IN_FAILED)
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(admin)
    listed = client.get("/admin/oauth/auditevent/", {"kind__exact": "sign_in_failed"})
    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == [event]
    assert client.get("/admin/oauth/auditevent/add/").status_code == 403
    page = client.get(f"/admin/oauth/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(f"/admin/oauth/auditevent/{event.pk}/delete/").status_code == 403


@override_settings(OAUTH_AUDIT_RETENTION_DAYS=30)
def test_cleartokens_prunes_events_past_the_retention_period(user, client):
    sign_in(client, user.username, "wrong")
    sign_in(client, user.username, "wrong")
    old, recent = AuditEvent.objects.order_by("pk")
    AuditEvent.objects.filter(pk=old.pk).update(time=timezone.now() - timedelta(days=31))
    call_command("cleartokens", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert list(AuditEvent.objects.all()) == [recent]


def test_no_secret_in_any_event(client, authorize, exchange, user, demo_client, audit_log):
    """A whole flow, then every stored event and log line searched for every secret it used."""
    seeded = AuditEvent.objects.count()  # the demo clients, registered before the flow
    sign_in(client, user.username, "a-wrong-password-guess")
    request, code = authorize()
    tokens = exchange(request, code).json()
    refreshed = token_request(
        client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    token_request(client, demo_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    exchange(request, code)
    revoke(client, demo_client, token=refreshed.json()["access_token"])
    client.post("/accounts/consents/", {"client_id": demo_client.client_id})
    secrets = [
        PASSWORD,
        "a-wrong-password-guess",
        demo_client.client_secret,
        code,
        request.code_verifier,
        tokens["access_token"],
        tokens["refresh_token"],
        tokens["id_token"],
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        query_of(request.url)["state"],
    ]
    stored = [
        json.dumps(
            [event.actor_name, event.client_id, event.ip, event.user_agent, event.request_id, event.details]
        )
        for event in AuditEvent.objects.all()
    ]
    logged = [json.dumps(line) for line in audit_log()]
    kinds = set(AuditEvent.objects.values_list("kind", flat=True))
    assert {
        Kind.SIGN_IN,
        Kind.SIGN_IN_FAILED,
        Kind.CONSENT_GIVEN,
        Kind.TOKEN_ISSUED,
        Kind.TOKEN_REFRESHED,
        Kind.REFRESH_TOKEN_REPLAYED,
        Kind.CODE_REPLAYED,
        Kind.TOKEN_REVOKED,
        Kind.CONSENT_WITHDRAWN,
    } <= kinds
    assert len(logged) == len(stored) - seeded
    for secret in secrets:
        assert not [text for text in stored + logged if secret in text], secret
