import time

import pytest

from brats_mlops.config.schema import Params
from brats_mlops.errors import UserError
from brats_mlops.tuning.study import make_storage
from brats_mlops.utils.db import check_database, redact
from tests.mlflow_server.conftest import free_port as _free_port


def test_redact_hides_only_the_password():
    assert redact("postgresql+psycopg2://bob:S3cret@db.lab:5432/mlflow") == "postgresql+psycopg2://bob:***@db.lab:5432/mlflow"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_an_unreachable_database_is_one_error_naming_host_and_port_fast(tmp_path):
    port = _free_port()
    url = f"postgresql+psycopg2://bob:S3cret-pw@127.0.0.1:{port}/optuna"
    t0 = time.time()
    with pytest.raises(UserError, match=f"cannot reach the postgresql server at 127.0.0.1:{port} .*database 'optuna', user 'bob'") as e:
        check_database(url)
    assert time.time() - t0 < 10 and "S3cret-pw" not in str(e.value)
    # an Optuna study on it fails the same way, before any trial (the CLI prints it as one `error:` line)
    with pytest.raises(UserError, match="cannot reach"):
        make_storage(Params.model_validate({"tune": {"storage": url}}))
    with pytest.raises(UserError, match="folder .* does not exist"):
        check_database(f"sqlite:///{tmp_path}/missing/optuna.db")
    check_database(f"sqlite:///{tmp_path}/optuna.db")  # a SQLite file in an existing folder is fine


def test_a_stage_or_command_on_an_unreachable_tracking_database_is_one_error(monkeypatch):
    from brats_mlops.tracking import use_store

    port = _free_port()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql://bob:pw-123456@127.0.0.1:{port}/mlflow")
    with pytest.raises(UserError, match=f"127.0.0.1:{port}"):
        use_store()
