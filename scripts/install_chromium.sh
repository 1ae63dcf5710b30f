#!/usr/bin/env bash
# Debian's chromium and its matching chromedriver for the console's browser tests (pytest -m browser).
# Idempotent: does nothing when both are installed. Browsers are never downloaded by a test tool.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
chromium --version 2>/dev/null || true
