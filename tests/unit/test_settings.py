"""Settings: secrets stay secret types and are refused by name when malformed; bad job defaults fail
at start naming their variable, instead of every run message being refused for them."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.cloud import wiring
from shared.config import logs
from shared.config.settings import Settings, load_settings
from shared.errors import ConfigurationError

WEBHOOK = "hooks.slack.example/services/T0UNIT/B0UNIT/unitWEBHOOKsecret81f3"
MONGO = "127.0.0.1:27017/flexrun?password=unitMONGOsecret2c9d"


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("GCP_PROJECT_ID", "p")
    return monkeypatch


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_WEBHOOK_URL", WEBHOOK),  # no https://
        ("SLACK_WEBHOOK_URL", f"http://{WEBHOOK}"),  # plain HTTP off loopback
        ("MONGODB_URL", MONGO),  # no mongodb://
        ("SUPABASE_KEY", "sb unitSUPABASE secret"),
    ],
)
def test_a_malformed_secret_fails_at_start_naming_the_variable_never_the_value(env, variable, value):
    env.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert "secret" not in str(caught.value).lower().replace("(the value is not shown)", "")
    assert logs.scrub(f"quoted by a client: {value}") == f"quoted by a client: {logs.REDACTED}"


def test_secrets_stay_secret_types_until_the_client_takes_them(env):
    env.setenv("SLACK_WEBHOOK_URL", f"https://{WEBHOOK}")
    env.setenv("MONGODB_URL", "mongodb://user:unitMONGOpass77@127.0.0.1:9/flexrun")
    settings = load_settings()
    assert isinstance(settings.slack_webhook_url, SecretStr) and isinstance(settings.mongodb_url, SecretStr)
    assert WEBHOOK not in repr(settings) and "unitMONGOpass77" not in repr(settings)
    assert logs.scrub("auth failed for unitMONGOpass77") == f"auth failed for {logs.REDACTED}"
    assert wiring.notifier(settings) is wiring.notifier(settings)  # built once per instance


def test_local_stand_ins_may_use_plain_http_on_loopback(env):
    env.setenv("SLACK_WEBHOOK_URL", "http://127.0.0.1:8123/services/local/flexrun/hook")
    env.setenv("SUPABASE_URL", "http://127.0.0.1:8124")
    env.setenv("SUPABASE_KEY", "local-key")
    assert load_settings().supabase_url == "http://127.0.0.1:8124"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"VERTEX_AI_GPU_TYPE": "NVIDIA_FOO"}, "VERTEX_AI_GPU_TYPE"),
        ({"VERTEX_AI_GPU_TYPE": "NVIDIA_L4", "VERTEX_AI_MACHINE_TYPE": "a2-highgpu-1g"}, "VERTEX_AI_MACHINE_TYPE"),
        ({"VERTEX_AI_GPU_COUNT": "3"}, "VERTEX_AI_GPU_COUNT"),
        ({"FLEXRUN_FALLBACK_CHAIN": "L4@nowhere"}, "FLEXRUN_FALLBACK_CHAIN"),
        ({"FLEXRUN_FALLBACK_CHAIN": "L4, T4:FLEX_START"}, "FLEXRUN_FALLBACK_CHAIN"),  # DWS does not serve T4
    ],
)
def test_a_bad_job_default_fails_at_start_naming_the_variable(env, changes, variable):
    for name, value in changes.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_the_defaults_the_local_cloud_uses_are_accepted(env):
    env.setenv("VERTEX_AI_GPU_TYPE", "L4")
    env.setenv("VERTEX_AI_MACHINE_TYPE", "g2-standard-4")
    assert load_settings().vertex_ai_gpu_type == "NVIDIA_L4"


def test_a_slack_client_error_carries_no_url():
    from shared.errors import TransientError
    from shared.notify.slack import SlackMessage, SlackNotifier

    with pytest.raises(TransientError) as caught:
        SlackNotifier(SecretStr(WEBHOOK)).send(SlackMessage(text="hello"))  # no scheme: ValueError quoting the URL
    assert WEBHOOK not in str(caught.value) and caught.value.__suppress_context__  # no traceback shows the URL
    assert "unitWEBHOOKsecret81f3" not in repr(caught.value)


def test_a_misspelt_fallback_class_fails_at_start_instead_of_never_falling_back(env):
    env.setenv("FLEXRUN_FALLBACK_ON", "stockout,quota_exeeded")
    with pytest.raises(ConfigurationError, match="FLEXRUN_FALLBACK_ON.*quota_exeeded"):
        load_settings()


def test_settings_read_each_field_from_its_variable_in_any_case_and_explicit_values_win(env):
    # The rules pydantic-settings' BaseSettings(case_sensitive=False) applied, kept without importing it.
    env.setenv("gcp_region", "europe-west4")
    env.setenv("FLEXRUN_MAX_EVENT_AGE", "2h")
    env.setenv("GCP_STAGING_BUCKET", "staging")
    env.setenv("NOT_A_SETTING", "ignored")
    settings = Settings(GCP_BUCKET_NAME="given", gcp_staging_bucket=None)
    assert (settings.gcp_project_id, settings.gcp_region, settings.flexrun_max_event_age) == ("p", "europe-west4", 7200)
    assert (settings.gcp_bucket_name, settings.gcp_staging_bucket) == ("given", None)
    assert Settings.model_validate({"gcp_region": "us-east1"}).gcp_project_id == "p"


def test_a_bad_variable_is_refused_naming_it(env):
    env.setenv("VERTEX_AI_GPU_COUNT", "two")
    with pytest.raises(ConfigurationError, match="VERTEX_AI_GPU_COUNT"):
        load_settings()
    assert Settings(vertex_ai_gpu_count=1).vertex_ai_gpu_count == 1  # an explicit value replaces the variable
