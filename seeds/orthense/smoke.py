#!/usr/bin/env python3
"""Smoke check of an Orthense environment on Azure: the two APIs' health endpoints and the SPAs answer.

Environment (catalog/orthense.yaml, step `smoke`):
  MEDICAL_API_URL          base URL of the medical-data API (api-medical.api_url), e.g. https://app-...azurewebsites.net
  ACCOUNTS_API_URL         base URL of the accounts API (api-accounts.api_url)
  SPA_ORIGINS              the SPAs' origins (spas.spa_origins): a JSON list, or comma-separated
  SMOKE_HEALTH_PATH        optional: the APIs' health path (default /health, App Service's health check path)
  SMOKE_TIMEOUT            optional: seconds per request (default 10)
  SMOKE_ATTEMPTS           optional: attempts per check (default 5; App Service and serverless SQL wake up slowly)
  SMOKE_RETRY_DELAY        optional: seconds before the first retry, doubled each retry, capped at 60 (default 5)
  NIGHTSHIFT_OUTPUTS_FILE  optional: where to write a JSON object of outputs (HTTP statuses, counts)

Each check is an HTTP GET that passes on a 2xx answer (redirects followed); anything else (4xx, 5xx, timeout,
connection or TLS error) is retried, then fails. Prints one line per check ("ok   <check>: <detail>" or
"FAIL <check>: <detail>") and a summary; exits 0 only when every check passed, 1 when a check failed, 2 when the
environment is incomplete (nothing is requested then).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

USER_AGENT = "nightshift-smoke/1 (orthense)"
BODY_EXCERPT = 120


def fail_config(message: str) -> int:
    print(f"FAIL config: {message}")
    print("smoke: 0 passed, 1 failed (configuration)")
    return 2


def base_url(name: str) -> str:
    """An http(s) URL without a trailing slash, or ValueError naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        raise ValueError(f"{name} is not set (the catalog passes it from the stack outputs)")
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name}={raw!r} is not an http(s) URL")
    return raw.rstrip("/")


def spa_origins() -> list[str]:
    raw = os.environ.get("SPA_ORIGINS", "").strip()
    if not raw:
        raise ValueError("SPA_ORIGINS is not set (the catalog passes spas.spa_origins)")
    if raw.startswith("["):
        try:
            origins = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"SPA_ORIGINS is not a valid JSON list: {e}") from None
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ValueError("SPA_ORIGINS must be a JSON list of strings")
    else:
        origins = raw.split(",")
    origins = [o.strip().rstrip("/") for o in origins if o.strip()]
    if not origins:
        raise ValueError("SPA_ORIGINS holds no origin")
    for o in origins:
        parts = urllib.parse.urlsplit(o)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"SPA_ORIGINS: {o!r} is not an http(s) origin")
    return origins


def number(name: str, default: float, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ValueError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def get_once(url: str, timeout: float) -> tuple[int | None, str]:
    """(HTTP status or None, detail) of one GET."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) checked above)
            body = response.read(4096).decode("utf-8", "replace")
            return response.status, body
    except urllib.error.HTTPError as e:
        body = e.read(4096).decode("utf-8", "replace") if e.fp else ""
        return e.code, body
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            return None, f"no answer within {timeout:g}s"
        return None, f"cannot connect: {e.reason}"
    except TimeoutError:
        return None, f"no answer within {timeout:g}s"
    except OSError as e:
        return None, f"connection error: {e}"


def excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= BODY_EXCERPT else text[: BODY_EXCERPT - 3] + "..."


class Smoke:
    def __init__(self, timeout: float, attempts: int, delay: float) -> None:
        self.timeout = timeout
        self.attempts = attempts
        self.delay = delay
        self.passed = 0
        self.failed = 0
        self.outputs: dict[str, int | str] = {}

    def get(self, name: str, url: str) -> int | None:
        """GET url until it answers 2xx or the attempts are spent; prints one line; returns the last status."""
        delay = self.delay
        status: int | None = None
        detail = ""
        started = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            status, body = get_once(url, self.timeout)
            if status is not None and 200 <= status < 300:
                elapsed = time.monotonic() - started
                tries = f", attempt {attempt}/{self.attempts}" if attempt > 1 else ""
                print(f"ok   {name}: GET {url} -> {status} in {elapsed:.1f}s{tries}")
                self.passed += 1
                return status
            if status is None:
                detail = body
            else:
                detail = f"HTTP {status}" + (f" {excerpt(body)!r}" if body.strip() else "")
            if attempt < self.attempts:
                time.sleep(delay)
                delay = min(delay * 2, 60.0)
        print(f"FAIL {name}: GET {url} -> {detail} (after {self.attempts} attempt{'s' if self.attempts > 1 else ''})")
        self.failed += 1
        return status


def main() -> int:
    try:
        medical = base_url("MEDICAL_API_URL")
        accounts = base_url("ACCOUNTS_API_URL")
        origins = spa_origins()
        health_path = "/" + os.environ.get("SMOKE_HEALTH_PATH", "/health").strip().lstrip("/")
        timeout = number("SMOKE_TIMEOUT", 10.0, 0.1)
        attempts = int(number("SMOKE_ATTEMPTS", 5, 1))
        delay = number("SMOKE_RETRY_DELAY", 5.0, 0.0)
    except ValueError as e:
        return fail_config(str(e))

    smoke = Smoke(timeout, attempts, delay)
    statuses = {
        "medical_api_health_status": smoke.get("medical API health", medical + health_path),
        "accounts_api_health_status": smoke.get("accounts API health", accounts + health_path),
    }
    spas_ok = 0
    for origin in origins:
        status = smoke.get(f"SPA {urllib.parse.urlsplit(origin).netloc}", origin + "/")
        spas_ok += status is not None and 200 <= status < 300

    smoke.outputs = {k: v if v is not None else 0 for k, v in statuses.items()}
    smoke.outputs.update(
        spa_count=len(origins),
        spas_ok=spas_ok,
        checks_passed=smoke.passed,
        checks_failed=smoke.failed,
        healthy="true" if smoke.failed == 0 else "false",
    )
    outputs_file = os.environ.get("NIGHTSHIFT_OUTPUTS_FILE")
    if outputs_file:
        with open(outputs_file, "w", encoding="utf-8") as f:
            json.dump(smoke.outputs, f, sort_keys=True)
            f.write("\n")

    print(f"smoke: {smoke.passed} passed, {smoke.failed} failed")
    return 0 if smoke.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
