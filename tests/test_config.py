import pytest

from backoffice.config import ConfigError, load_config, normalise_database_url


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(ConfigError):
        load_config({"BACKOFFICE_ENV": "production"}, instance_path=tmp_path)
    with pytest.raises(ConfigError):
        load_config({"BACKOFFICE_ENV": "production", "SECRET_KEY": "x"}, instance_path=tmp_path)
    config = load_config({"BACKOFFICE_ENV": "production", "SECRET_KEY": "x", "BACKOFFICE_HASH_KEY": "y"},
                         instance_path=tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True


def test_defaults_are_embedded_mode(tmp_path):
    config = load_config({}, instance_path=tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'backoffice.db'}"
    assert config["REDIS_URL"] is None
    assert config["LANGUAGES"] == ["en", "ru", "kk"]
    # Development secrets are generated once and kept.
    assert load_config({}, instance_path=tmp_path)["SECRET_KEY"] == config["SECRET_KEY"]


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
