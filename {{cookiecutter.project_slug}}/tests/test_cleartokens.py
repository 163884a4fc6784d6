"""`manage.py cleartokens`, the scheduled clean-up: expired rows go, live ones and replay evidence stay."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from jwcrypto import jws
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
IDToken = get_id_token_model()
Grant = get_grant_model()


def checksum(token):
    return hashlib.sha256(token.encode()).hexdigest()


def refresh(client, demo_client, refresh_token):
    response = client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=demo_client.basic_auth,
    )
    assert response.status_code == 200, response.content
    return response.json()


def client_credentials(client, m2m_client):
    response = client.post(
        "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=m2m_client.basic_auth
    )
    return response.json()["access_token"]


def jti(id_token):
    token = jws.JWS()
    token.deserialize(id_token)
    return json.loads(token.objects["payload"])["jti"]


def test_cleartokens_deletes_expired_rows_in_batches_and_keeps_the_rest(
    client, settings, authorize, exchange, demo_client, m2m_client
):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "CLEAR_EXPIRED_TOKENS_BATCH_SIZE": 1,
        "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL": 0,
    }
    now = timezone.now()
    refresh_lifetime = timedelta(seconds=settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"])
    long_ago = now - refresh_lifetime - timedelta(minutes=1)

    live = exchange(*authorize()).json()
    rotated_today = exchange(*authorize()).json()
    successor_today = refresh(client, demo_client, rotated_today["refresh_token"])
    rotated_long_ago = exchange(*authorize()).json()
    successor_long_ago = refresh(client, demo_client, rotated_long_ago["refresh_token"])
    dormant = exchange(*authorize()).json()
    live_machine_token = client_credentials(client, m2m_client)
    expired_machine_token = client_credentials(client, m2m_client)
    authorize()  # a code never redeemed

    # Age the rows as time would.
    RefreshToken.objects.filter(token_checksum=checksum(rotated_long_ago["refresh_token"])).update(
        revoked=long_ago
    )
    dormant_access = AccessToken.objects.filter(token_checksum=checksum(dormant["access_token"]))
    IDToken.objects.filter(access_token__in=dormant_access).update(expires=long_ago)
    dormant_access.update(expires=long_ago)
    AccessToken.objects.filter(token_checksum=checksum(expired_machine_token)).update(
        expires=now - timedelta(minutes=1)
    )
    # ID tokens of access tokens that a rotation replaced, once they expire.
    IDToken.objects.filter(access_token__isnull=True).update(expires=now - timedelta(minutes=1))
    Grant.objects.update(expires=now - timedelta(minutes=1))

    call_command("cleartokens")

    user_tokens = (live, successor_today, successor_long_ago)
    assert set(AccessToken.objects.values_list("token_checksum", flat=True)) == {
        *(checksum(tokens["access_token"]) for tokens in user_tokens),
        checksum(live_machine_token),
    }
    # A refresh token rotated today stays, revoked: replaying it must still revoke its family
    # (RFC 9700 §4.14.2). One rotated longer ago than a refresh token lives can go.
    assert set(RefreshToken.objects.values_list("token_checksum", flat=True)) == {
        *(checksum(tokens["refresh_token"]) for tokens in user_tokens),
        checksum(rotated_today["refresh_token"]),
    }
    assert {str(value) for value in IDToken.objects.values_list("jti", flat=True)} == {
        jti(tokens["id_token"]) for tokens in user_tokens
    }
    assert Grant.objects.count() == 0
