# The engine's (authserver/): the template keeps it, `cruft update` updates it; do not edit (docs/layout.md).
"""
The audit trail (docs/operations.md, "Audit trail"): who did what, when, from where.

`record` writes each security event as one row (models.AuditEvent, read-only in the admin) and
one line on the "authserver.audit" logger (JSON in production, with the request id). The events
are recorded where they happen: allauth's signals (sign-in and its failures, second factors,
passwords, e-mail addresses; connected below), consent.py, the request validator (tokens issued,
refreshed and revoked, replays) and the model signals below (clients, the admin's changes).

Cheap on the hot paths: one INSERT per event, on requests that write already; checking a bearer
token records nothing. Never a secret: callers pass what names a thing (a client_id, scopes, a
grant type, an authenticator's type), never a token, code, password or client secret.
"""

import logging

from django.core.cache import cache
from django.utils import timezone

from .addresses import client_address
from .middleware.request_logging import NO_REQUEST, current_request, current_request_id
from .models import AuditEvent

Kind = AuditEvent.Kind
logger = logging.getLogger("authserver.audit")

# How often a lockout is recorded for one account at most: each refused attempt is not an
# event, so that an attacker hammering a locked account does not write a row per request.
LOCKOUT_RECORD_SECONDS = 60


def record(kind, *, actor=None, client=None, request=None, **details):
    """Record a security event of `kind` (AuditEvent.Kind). `actor` is the user who acted (or
    whom a token speaks for), `client` an Application or a client_id, `request` the HTTP
    request (default: the one being served); `details` are JSON values that hold no secret."""
    request = request if request is not None else current_request.get()
    if actor is not None and not actor.is_authenticated:
        actor = None
    request_id = current_request_id.get()
    event = AuditEvent.objects.create(
        time=timezone.now(),
        kind=kind,
        actor=actor,
        actor_name=actor.get_username()[:150] if actor is not None else "",
        client_id=(client if isinstance(client, str) else getattr(client, "client_id", ""))[:255],
        ip=client_address(request)[:64] if request is not None else "",
        user_agent=request.headers.get("User-Agent", "")[:300] if request is not None else "",
        request_id="" if request_id == NO_REQUEST else request_id,
        details=details,
    )
    logger.info(
        "%s actor=%s client=%s ip=%s",
        event.kind,
        event.actor_name or "-",
        event.client_id or "-",
        event.ip or "-",
        extra={
            "event": {
                "id": event.pk,
                "kind": event.kind,
                "actor_id": event.actor_id,
                "actor": event.actor_name,
                "client_id": event.client_id,
                "ip": event.ip,
                "user_agent": event.user_agent,
                "details": event.details,
            }
        },
    )
    return event


# Sign-in: allauth's records of how the session authenticated (sign_in.py), as method names.


def method_name(authentication_record):
    """A method an allauth authentication record names: password, totp, recovery_code, passkey
    (a security key signing in alone), security_key (as a second factor), login_code..."""
    method = authentication_record.get("method", "")
    if method != "mfa":
        return {"code": "login_code"}.get(method, method)
    kind = authentication_record.get("type", "")
    if kind == "webauthn":
        return "passkey" if authentication_record.get("passwordless") else "security_key"
    return {"recovery_codes": "recovery_code"}.get(kind, kind)


def signed_in(request, user, **kwargs):
    from allauth.account.authentication import get_authentication_records

    records = [entry for entry in get_authentication_records(request, user) if isinstance(entry, dict)]
    methods = list(dict.fromkeys(method_name(entry) for entry in records))
    record(Kind.SIGN_IN, actor=user, request=request, methods=methods)


def signed_out(request, user, **kwargs):
    if user is not None:
        record(Kind.SIGN_OUT, actor=user, request=request)


def password_failed(credentials, request=None, **kwargs):
    # Django's user_login_failed: the login typed (never the password, which Django masks).
    login = credentials.get("username") or credentials.get("email") or ""
    record(Kind.SIGN_IN_FAILED, request=request, method="password", login=str(login)[:150])


def second_factor_failed(request, user, authenticator, **kwargs):
    method = method_name({"method": "mfa", "type": authenticator.type})
    record(
        Kind.SIGN_IN_FAILED,
        actor=user,
        request=request,
        method=method,
        reauthentication=bool(kwargs.get("reauthentication")),
    )


def locked_out(request, login):
    """allauth refused a sign-in for too many failures (accounts.AccountAdapter.pre_authenticate);
    recorded once per account and LOCKOUT_RECORD_SECONDS."""
    if cache.add(f"audit-locked-out:{login.lower()}", True, LOCKOUT_RECORD_SECONDS):
        record(Kind.LOCKED_OUT, request=request, login=login[:150])


def authenticator_event(kind):
    def receiver(request, user, authenticator, **kwargs):
        record(kind, actor=user, request=request, type=authenticator.type, authenticator=authenticator.pk)

    return receiver


def user_event(kind):
    def receiver(request, user, **kwargs):
        record(kind, actor=user, request=request)

    return receiver


def email_event(kind):
    def receiver(request, email_address=None, to_email_address=None, user=None, **kwargs):
        address = email_address or to_email_address
        record(kind, actor=user or address.user, request=request, email=address.email)

    return receiver


# Clients: created, changed, disabled or deleted, wherever (the admin, registration, a
# command); by the signed-in user of the request, if any.


def request_user():
    request = current_request.get()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def client_saving(sender, instance, raw=False, **kwargs):
    # Whether a change disables the client: its stored state, read on the rare saves of a client.
    if not raw and instance.pk is not None:
        stored = sender.objects.filter(pk=instance.pk).values_list("is_disabled", flat=True)
        instance.audit_was_disabled = stored.first()


def client_saved(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    if created:
        kind = Kind.CLIENT_REGISTERED
    elif instance.is_disabled and not getattr(instance, "audit_was_disabled", False):
        kind = Kind.CLIENT_DISABLED
    else:
        kind = Kind.CLIENT_CHANGED
    record(
        kind,
        actor=request_user(),
        client=instance,
        name=instance.name,
        source=instance.registration_source,
        client_type=instance.client_type,
        grant_type=instance.authorization_grant_type,
        disabled=instance.is_disabled,
    )


def client_deleted(sender, instance, **kwargs):
    record(Kind.CLIENT_DELETED, actor=request_user(), client=instance, name=instance.name)


def admin_logged(sender, instance, created, raw=False, **kwargs):
    # Django's admin log: what an admin added, changed or deleted, and which fields (never values).
    if raw or not created:
        return
    record(
        Kind.ADMIN_CHANGE,
        actor=instance.user,
        action={1: "added", 2: "changed", 3: "deleted"}.get(instance.action_flag, str(instance.action_flag)),
        model=instance.content_type.model if instance.content_type_id else "",
        object_id=instance.object_id or "",
        object=instance.object_repr,
        change=instance.get_change_message(),
    )


def connect_signals():
    """Called from apps.py."""
    from allauth.account import signals as account
    from allauth.mfa import signals as mfa
    from django.contrib.admin.models import LogEntry
    from django.contrib.auth.signals import user_logged_out, user_login_failed
    from django.db.models.signals import post_delete, post_save, pre_save
    from oauth2_provider.models import get_application_model

    connections = [
        (account.user_logged_in, signed_in),
        (user_logged_out, signed_out),
        (user_login_failed, password_failed),
        (mfa.authentication_failed, second_factor_failed),
        (mfa.authenticator_added, authenticator_event(Kind.SECOND_FACTOR_ADDED)),
        (mfa.authenticator_removed, authenticator_event(Kind.SECOND_FACTOR_REMOVED)),
        (mfa.authenticator_reset, authenticator_event(Kind.RECOVERY_CODES_RESET)),
        (account.password_changed, user_event(Kind.PASSWORD_CHANGED)),
        (account.password_reset, user_event(Kind.PASSWORD_RESET)),
        (account.password_set, user_event(Kind.PASSWORD_SET)),
        (account.email_added, email_event(Kind.EMAIL_ADDED)),
        (account.email_confirmed, email_event(Kind.EMAIL_VERIFIED)),
        (account.email_changed, email_event(Kind.EMAIL_PRIMARY_CHANGED)),
        (account.email_removed, email_event(Kind.EMAIL_REMOVED)),
    ]
    for number, (signal, receiver) in enumerate(connections):
        # weak=False: the receivers made by the *_event functions have no other reference.
        signal.connect(receiver, weak=False, dispatch_uid=f"audit-{number}")
    application = get_application_model()
    pre_save.connect(client_saving, sender=application, dispatch_uid="audit-client-saving")
    post_save.connect(client_saved, sender=application, dispatch_uid="audit-client-saved")
    post_delete.connect(client_deleted, sender=application, dispatch_uid="audit-client-deleted")
    post_save.connect(admin_logged, sender=LogEntry, dispatch_uid="audit-admin-logged")
