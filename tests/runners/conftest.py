"""Fixtures of the runner tests."""

import socket
from types import SimpleNamespace

import pytest

JOB_ID = "2026-01-02_03_04_05-1234567890123456789"


@pytest.fixture
def offline(monkeypatch) -> list[str]:
    """Refuses non-loopback connections, DNS lookups and credential lookups; lists attempts."""
    import google.auth

    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def loopback(host: object) -> bool:
        return str(host) in ("localhost", "127.0.0.1", "::1")

    def getaddrinfo(host, *args, **kwargs):
        if not loopback(host):
            attempts.append(f"dns {host}")
            raise OSError(f"test: no network ({host})")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if isinstance(address, tuple) and not loopback(address[0]):
            attempts.append(f"connect {address}")
            raise OSError(f"test: no network ({address})")
        return real_connect(sock, address)

    def no_credentials(*args, **kwargs):
        attempts.append("google.auth.default")
        raise OSError("test: no credentials")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(google.auth, "default", no_credentials)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return attempts


@pytest.fixture
def fake_submission(monkeypatch) -> dict:
    """Replaces the Dataflow API call (staging included) by a job with a fixed id."""
    from apache_beam.runners.dataflow import dataflow_runner
    from apache_beam.runners.dataflow.internal import apiclient

    calls = {"submitted": 0, "waited": 0}

    def create_job(self, job):
        calls["submitted"] += 1
        calls["options"] = job.options
        return SimpleNamespace(id=JOB_ID, current_state=None)

    def wait_until_finish(self, duration=None):
        calls["waited"] += 1
        return "FAILED"

    monkeypatch.setattr(apiclient.DataflowApplicationClient, "create_job", create_job)
    monkeypatch.setattr(
        dataflow_runner.DataflowPipelineResult, "wait_until_finish", wait_until_finish
    )
    return calls
