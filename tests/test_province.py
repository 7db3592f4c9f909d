"""The simulated province: each commune reaches both centre services over its own shaped links."""

from __future__ import annotations

import pytest

from netmon.lab.netns import Lab
from netmon.lab.province import ISP_EDGE, PROVINCIAL_DC, build_province

pytestmark = pytest.mark.netns


def test_each_commune_reaches_each_service_over_its_own_link(lab: Lab) -> None:
    province = build_province(lab, [(20, 100), (10, 50), (None, None)])
    for commune in province.communes:
        for link, address in (("leased", ISP_EDGE), ("tslcd", PROVINCIAL_DC)):
            assert "3 received" in commune.site.run("ping", "-c", "3", "-i", "0.05", "-W", "2", address).stdout
            # there: the commune's router sends it out of this link
            out = commune.router.run("ip", "route", "get", address).stdout
            assert f"dev {link} " in out
            # back: the centre answers from this service address over the same commune's link
            back = province.centre.run("ip", "route", "get", commune.site_ip, "from", address).stdout
            assert f"dev {commune.centre_if(link)} " in back


def test_a_commune_losing_its_uplink_does_not_affect_the_others(lab: Lab) -> None:
    province = build_province(lab, [(20, 100), (20, 100)])
    first, second = province.communes
    province.set_uplink_down(first)
    assert first.site.run("ping", "-c", "1", "-W", "1", PROVINCIAL_DC, check=False).returncode != 0
    assert "1 received" in second.site.run("ping", "-c", "1", "-W", "2", PROVINCIAL_DC).stdout
