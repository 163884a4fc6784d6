"""
A database made by an earlier release upgrades with `manage.py migrate`: the apps keep their
labels and tables wherever their code lives (the engine moved to authserver/ keeping the label
`oauth`), and the latest migration of each app applies to a database at the one before.
"""

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

# The tables that hold the clients, consents, sign-ins, the token generation and the users.
TABLES = {
    "oauth.Application": "oauth_application",
    "oauth.Consent": "oauth_consent",
    "oauth.SignIn": "oauth_signin",
    "oauth.TokenGeneration": "oauth_tokengeneration",
    "users.User": "users_user",
}
# The migrations earlier releases recorded in django_migrations, under the apps' labels.
RECORDED = {
    "oauth": [
        "0001_initial",
        "0002_application_allowed_scopes_resource_server",
        "0003_remembered_consent_and_sign_in_time",
        "0004_application_is_disabled",
        "0005_tokengeneration",
        "0006_sign_in_methods_and_level_requires_multi_factor",
    ],
    "users": ["0001_initial", "0002_user_updated_at", "0003_user_sub"],
}


def test_models_keep_their_labels_and_tables():
    assert {label: apps.get_model(label)._meta.db_table for label in TABLES} == TABLES
    assert apps.get_app_config("oauth").name == "authserver"


def test_earlier_migrations_keep_their_names():
    graph = MigrationLoader(None).graph
    for app, names in RECORDED.items():
        assert {(app, name) for name in names} <= set(graph.nodes), app


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_earlier_release_migrates_forward():
    executor = MigrationExecutor(connection)
    executor.migrate([("oauth", RECORDED["oauth"][-1])])
    assert ("oauth", RECORDED["oauth"][-1]) in MigrationRecorder(connection).applied_migrations()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert not MigrationExecutor(connection).migration_plan(executor.loader.graph.leaf_nodes())
