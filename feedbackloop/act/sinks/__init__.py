"""Sinks by name; a sink whose endpoint setting is empty is ``None`` (its actions wait, counted)."""

from __future__ import annotations

from feedbackloop.act.http import AttemptLog, RetryPolicy
from feedbackloop.act.sinks.base import Ref, Sink, Ticket
from feedbackloop.settings import Settings

# The setting that turns each sink on; docs and "not configured" messages name it.
ENDPOINT_SETTING = {
    "jira": "FEEDBACKLOOP_JIRA_URL",
    "servicenow": "FEEDBACKLOOP_SERVICENOW_URL",
    "slack": "FEEDBACKLOOP_SLACK_WEBHOOK_URL",
    "webhook": "FEEDBACKLOOP_ACTION_WEBHOOK_URL",
}


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        settings.action_max_attempts, settings.action_backoff_seconds, settings.action_backoff_max_seconds
    )


def open_sink(kind: str, settings: Settings, log: AttemptLog) -> Sink | None:
    policy, timeout = retry_policy(settings), settings.action_timeout_seconds
    if kind == "jira" and settings.jira_url:
        from feedbackloop.act.sinks.jira import JiraSink

        token = settings.jira_api_token.get_secret_value()
        return JiraSink(settings.jira_url, settings.jira_user_email, token, log, policy, timeout)
    if kind == "servicenow" and settings.servicenow_url:
        from feedbackloop.act.sinks.servicenow import ServiceNowSink

        password = settings.servicenow_password.get_secret_value()
        return ServiceNowSink(settings.servicenow_url, settings.servicenow_user, password, log, policy, timeout)
    if kind == "slack" and settings.slack_webhook_url.get_secret_value():
        from feedbackloop.act.sinks.slack import SlackSink

        return SlackSink(settings.slack_webhook_url.get_secret_value(), log, policy, timeout)
    if kind == "webhook" and settings.action_webhook_url:
        from feedbackloop.act.sinks.webhook import WebhookSink

        secret = settings.action_webhook_secret.get_secret_value()
        return WebhookSink(settings.action_webhook_url, secret, log, policy, timeout)
    return None


def not_configured(kind: str) -> str:
    if kind == "none":
        return "the decision matrix routes this action to no sink"
    return f"sink {kind} is not configured ({ENDPOINT_SETTING[kind]} is empty)"


__all__ = ["ENDPOINT_SETTING", "Ref", "Sink", "Ticket", "not_configured", "open_sink", "retry_policy"]
