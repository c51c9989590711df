from __future__ import annotations

import subprocess
import sys

import pytest

from server.settings import SettingsError, load_settings


def test_defaults_run_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("JIANGTANG_DATABASE_URL", "JIANGTANG_S3_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings()
    assert settings.embedded_db and settings.embedded_s3
    assert "mp4" in settings.allowed_extensions


def test_invalid_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIANGTANG_PORT", "eighty")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "JIANGTANG_PORT" in str(err.value)
    assert "\n" not in str(err.value)


def test_production_refuses_default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIANGTANG_ENV", "production")
    monkeypatch.delenv("JIANGTANG_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        load_settings()


def test_s3_endpoint_needs_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIANGTANG_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("JIANGTANG_S3_ACCESS_KEY", raising=False)
    with pytest.raises(SettingsError, match="S3_ACCESS_KEY"):
        load_settings()


def test_database_url_must_be_postgres(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIANGTANG_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(SettingsError, match="JIANGTANG_DATABASE_URL"):
        load_settings()


def test_cli_reports_bad_setting_without_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "server.cli", "migrate"], capture_output=True, text=True,
                            env={"JIANGTANG_PORT": "0x", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode == 2
    assert "JIANGTANG_PORT" in result.stderr
    assert "Traceback" not in result.stderr
