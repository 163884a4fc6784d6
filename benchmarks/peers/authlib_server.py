"""
Authlib 1.x's Flask authorization server, laid out as Authlib's example OAuth 2 server is (Flask,
Flask-SQLAlchemy models from Authlib's SQLAlchemy mixins, an AuthorizationServer and a
ResourceProtector), reduced to what the benchmark asks of it and written here in our own words.

How it is set up: the client-credentials grant, with 3600 s bearer tokens (opaque, random);
an RFC 7662 introspection endpoint that only the resource-server client may call; a JSON route
behind ResourceProtector that requires the "read" scope (Authlib's BearerTokenValidator: the
token looked up in the database, expiry, revocation and scope checked). Both clients
authenticate with client_secret_basic; their secrets are stored as given and compared directly
(secrets.compare_digest), Authlib's default: it has no secret hashing. SQLite in WAL mode
with synchronous=NORMAL (the project's own SQLite settings), under gunicorn with 2 processes x
4 threads (gthread, no access log, its default keep-alive), as the project's production command
runs; the resource route does not check that the token's client still exists (Authlib's
validator does not). The packages are pinned and installed into a throwaway virtualenv (`uv venv`, `uv pip install`) in the work directory.
"""

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from harness import free_port
from throughput import Server, write_files

from peers import Target
from peers.validation import validated_requests

PACKAGES = [
    "Authlib==1.9.10",
    "Flask==3.1.3",
    "Flask-SQLAlchemy==3.1.1",
    "SQLAlchemy==2.1.9",
    "Werkzeug==3.1.9",
    "gunicorn==27.0.1",
]
WORKERS, THREADS = 2, 4

FILES = {
    "oauth_server.py": """
        import os
        import time

        from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
        from authlib.integrations.sqla_oauth2 import (
            OAuth2ClientMixin,
            OAuth2TokenMixin,
            create_bearer_token_validator,
            create_query_client_func,
            create_save_token_func,
        )
        from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
        from authlib.oauth2.rfc7662 import IntrospectionEndpoint
        from flask import Flask, jsonify
        from flask_sqlalchemy import SQLAlchemy
        from sqlalchemy import Engine, event

        ISSUER = os.environ["OAUTH_ISSUER"]
        RESOURCE_SERVER_ID = os.environ["RESOURCE_SERVER_ID"]

        db = SQLAlchemy()


        @event.listens_for(Engine, "connect")
        def sqlite_settings(connection, record):
            # The project's own SQLite settings: concurrent readers beside one writer.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")


        class Client(db.Model, OAuth2ClientMixin):
            __tablename__ = "oauth2_client"
            id = db.Column(db.Integer, primary_key=True)


        class Token(db.Model, OAuth2TokenMixin):
            __tablename__ = "oauth2_token"
            id = db.Column(db.Integer, primary_key=True)
            # Client-credentials tokens have no user; the example's user table is left out.
            user_id = db.Column(db.Integer, nullable=True)


        class Introspection(IntrospectionEndpoint):
            def query_token(self, token_string, token_type_hint):
                return db.session.query(Token).filter_by(access_token=token_string).first()

            def check_permission(self, token, client, request):
                return client.client_id == RESOURCE_SERVER_ID

            def introspect_token(self, token):
                return {
                    "active": True,
                    "client_id": token.client_id,
                    "token_type": token.token_type,
                    "scope": token.get_scope(),
                    "iss": ISSUER,
                    "iat": token.issued_at,
                    "exp": token.issued_at + token.expires_in,
                }


        app = Flask(__name__)
        app.config.update(
            SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
            SQLALCHEMY_TRACK_MODIFICATIONS=False,
            OAUTH2_TOKEN_EXPIRES_IN={"client_credentials": 3600},
        )
        db.init_app(app)

        authorization = AuthorizationServer(
            app,
            query_client=create_query_client_func(db.session, Client),
            save_token=create_save_token_func(db.session, Token),
        )
        authorization.register_grant(ClientCredentialsGrant)
        authorization.register_endpoint(Introspection)

        require_oauth = ResourceProtector()
        require_oauth.register_token_validator(create_bearer_token_validator(db.session, Token)())


        @app.post("/oauth/token")
        def issue_token():
            return authorization.create_token_response()


        @app.post("/oauth/introspect")
        def introspect():
            return authorization.create_endpoint_response(Introspection.ENDPOINT_NAME)


        @app.get("/api/me")
        @require_oauth("read")
        def me():
            return jsonify(client_id=current_token.client_id, scope=current_token.scope)
    """,
    "setup_database.py": """
        import os
        import time

        from oauth_server import Client, app, db

        with app.app_context():
            db.create_all()
            for client_id, secret, grant_types, scope in (
                (os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], ["client_credentials"], "read"),
                (os.environ["RESOURCE_SERVER_ID"], os.environ["RESOURCE_SERVER_SECRET"], [], ""),
            ):
                client = Client(client_id=client_id, client_secret=secret, client_id_issued_at=int(time.time()))
                client.set_client_metadata(
                    {"grant_types": grant_types, "scope": scope, "token_endpoint_auth_method": "client_secret_basic"}
                )
                db.session.add(client)
            db.session.commit()
    """,
}


def run(command, cwd, env=None):
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if finished.returncode:
        command_line = " ".join(map(str, command))
        raise RuntimeError(f"Authlib's server: {command_line} failed:\n{finished.stderr[-3000:]}")


@contextlib.contextmanager
def start(bench, work_dir: Path, database: str):
    if database != "sqlite":
        raise ValueError(f"Authlib's server is measured on SQLite only, not {database}")
    app_dir = work_dir / "authlib-server"
    app_dir.mkdir()
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    run([uv, "venv", "--quiet", ".venv"], app_dir)
    run([uv, "pip", "install", "--quiet", "--python", ".venv/bin/python", *PACKAGES], app_dir)
    write_files(app_dir, FILES)
    port = free_port()
    client_id, client_secret = "benchmark-m2m", secrets.token_urlsafe(32)
    resource_server_id, resource_server_secret = "benchmark-resource-server", secrets.token_urlsafe(32)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")},
        "DATABASE_URL": f"sqlite:///{app_dir / 'db.sqlite3'}",
        "OAUTH_ISSUER": f"http://127.0.0.1:{port}",
        "CLIENT_ID": client_id,
        "CLIENT_SECRET": client_secret,
        "RESOURCE_SERVER_ID": resource_server_id,
        "RESOURCE_SERVER_SECRET": resource_server_secret,
    }
    run([str(app_dir / ".venv/bin/python"), "setup_database.py"], app_dir, env)
    command = [
        str(app_dir / ".venv/bin/gunicorn"),
        f"--workers={WORKERS}",
        "--worker-class=gthread",
        f"--threads={THREADS}",
        f"--bind=127.0.0.1:{port}",
        "oauth_server:app",
    ]
    name = f"Authlib 1.9 Flask server ({WORKERS} processes x {THREADS} threads, SQLite)"
    # Ready once the protected route answers, 401 without a token.
    with Server(name, command, app_dir, env, "/api/me", port) as server:
        paths = {"token": "/oauth/token", "introspection": "/oauth/introspect", "resource": "/api/me"}
        requests = validated_requests(
            server, paths, (client_id, client_secret), (resource_server_id, resource_server_secret)
        )
        yield Target(name, "authlib", database, server, requests)
