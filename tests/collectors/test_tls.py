"""The collector serves HTTPS itself when given a certificate; agents verify it with their CA file."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from netmon.lab.certs import make_ca
from netmon.lab.collector import lab_site, sample_batch, start_collector, write_central, write_registry
from tests.conftest import netmon_env


def test_https_with_a_lab_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path / "pki")
    issued = ca.issue(tmp_path / "pki", "collector", ["127.0.0.1"])
    registry = write_registry(tmp_path / "sites.yaml", [lab_site("26734")])
    config = write_central(tmp_path, registry, tls=(issued.cert_path, issued.key_path))
    with start_collector(config, env=netmon_env(), ca_file=ca.cert_path) as collector:
        assert collector.url.startswith("https://127.0.0.1:")
        token = collector.enrol("26734")
        assert collector.post_batch(token, sample_batch("26734", [1, 2]), gzipped=True)[1]["accepted"] == 2
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(collector.url + "/healthz", timeout=5, context=ssl.create_default_context())
