"""The demo and account commands a newcomer runs first."""
from sqlalchemy import func, select

from backoffice.cli.demo import demo_command, seed_demo_command
from backoffice.cli.staff import create_user_command
from backoffice.extensions import db
from backoffice.models.clients import Client
from backoffice.models.staff import StaffUser


def test_demo_no_serve_seeds_and_prints_logins(app_config, tmp_path):
    from backoffice import create_app

    # `demo` builds its schema from the migrations, so it gets a database of its own.
    app_config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}", DEMO_PASSWORD="demo-password-1")
    app = create_app(app_config)
    runner = app.test_cli_runner()
    result = runner.invoke(demo_command, ["--no-serve"])
    assert result.exit_code == 0, result.output
    for role in ("support", "manager", "supervisor", "admin"):
        assert f"{role}@demo.local" in result.output
    with app.app_context():
        assert db.session.execute(select(func.count(Client.id))).scalar() >= 200
    # Running it again adds nothing (idempotent).
    again = runner.invoke(seed_demo_command, [])
    assert again.exit_code == 0 and "Demo clients added: 0" in again.output


def test_create_user_from_environment(app, monkeypatch):
    monkeypatch.setenv("NEW_PW", "a-strong-password")
    result = app.test_cli_runner().invoke(create_user_command,
                                          ["dpo@bekair.kz", "--role", "manager", "--role", "supervisor",
                                           "--password-env", "NEW_PW"])
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(StaffUser).where(StaffUser.email == "dpo@bekair.kz")).scalar_one()
    assert user.role_set == {"manager", "supervisor"}


def test_create_user_refuses_weak_password_and_unknown_role(app, monkeypatch):
    monkeypatch.setenv("NEW_PW", "short")
    runner = app.test_cli_runner()
    assert runner.invoke(create_user_command, ["x@bekair.kz", "--role", "manager", "--password-env", "NEW_PW"]).exit_code != 0
    assert runner.invoke(create_user_command, ["x@bekair.kz", "--role", "wizard", "--password-env", "NEW_PW"]).exit_code != 0
    assert db.session.execute(select(func.count(StaffUser.id))).scalar() == 0


def test_demo_serves_on_localhost_5000(app_config, tmp_path, monkeypatch):
    import werkzeug.serving

    from backoffice import create_app

    served = []
    monkeypatch.setattr(werkzeug.serving, "run_simple", lambda host, port, app, **kw: served.append((host, port)))
    app_config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'demo.db'}", DEMO_PASSWORD="demo-password-1")
    result = create_app(app_config).test_cli_runner().invoke(demo_command, [])
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 5000)]
