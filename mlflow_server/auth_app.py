"""The tracking server's app with basic auth and a team policy: ``mlflow server --app-name brats-auth``.

MLflow's own ``basic-auth`` app gives authenticated users ``default_permission`` on existing experiments and
models, but lets every authenticated user *create* experiments and registered models (and become their
manager). For a team that shares one server that is too open, so this app is MLflow's basic-auth app plus one
rule, read from ``BRATS_AUTH_USERS_CAN_CREATE`` (set by ``server start`` from ``tracking.server_users_can_create``):

* ``false`` (default): only admins create experiments and registered models; other users get 403 with a message
  saying who may (an admin creates the experiment, then grants EDIT with MLflow's permission API).
* ``true``: MLflow's behaviour (any authenticated user may create).
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request

CREATE_ENDPOINTS = ("/experiments/create", "/registered-models/create")


def _creation_guard():
    if request.method != "POST" or not request.path.endswith(CREATE_ENDPOINTS):
        return None
    from mlflow.server import auth

    user = auth.authenticate_request()  # MLflow's hook has already refused anonymous requests (401)
    username = getattr(user, "username", None)
    if username and auth.store.get_user(username).is_admin:
        return None
    what = "experiments" if "experiments" in request.path else "registered models"
    resp = jsonify({"error_code": "PERMISSION_DENIED",
                    "message": f"user {username!r} may not create {what} on this server: only admins create them "
                               "(tracking.server_users_can_create is false); ask an admin to create it and grant you EDIT"})
    resp.status_code = 403
    return resp


def create_app(app: Flask | None = None):
    from mlflow.server import app as mlflow_app
    from mlflow.server.auth import create_app as basic_auth_app

    flask_app = app or mlflow_app
    served = basic_auth_app(flask_app)  # registers MLflow's authentication / permission hooks first
    if os.environ.get("BRATS_AUTH_USERS_CAN_CREATE", "false").lower() not in ("1", "true", "yes"):
        flask_app.before_request(_creation_guard)  # runs after MLflow's hooks, on requests they let through
    return served
