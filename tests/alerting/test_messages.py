"""Message text: Vietnamese by default, English selectable, units from value names, within limits."""

from __future__ import annotations

from netmon.alerting.message import Message
from netmon.alerting.model import Member, Notice
from netmon.alerting.render import duration, quantity
from tests.alerting.harness import incident, message
from tests.alerting.helpers import T0


def test_units_follow_the_value_names() -> None:
    assert quantity("utilisation_ratio", 0.973, "vi") == "97,3 %"
    assert quantity("rtt_avg_seconds", 0.0512, "vi") == "51,2 ms"
    assert quantity("total_seconds", 3.25, "en") == "3.25 s"
    assert quantity("download_bps", 18.6e6, "vi") == "18,6 Mbit/s"
    assert quantity("in_errors_per_second", 2.5, "en") == "2.5/s"
    assert duration(3725, "vi") == "1 giờ 2 phút" and duration(45, "en") == "45 s"


def test_english_upstream_incident_lists_communes() -> None:
    upstream = incident(50, kind="upstream", rule="UpstreamDown", site_id=None, link=None, member_count=50,
                        upstream="dn-agg-bienhoa", value_name=None, value=None, threshold=None,
                        labels={"alertname": "UpstreamDown", "upstream": "dn-agg-bienhoa", "province": "Đồng Nai"})
    members = [Member(site_id=f"26{i:03d}", name=f"Xã Số {i}") for i in range(50)]
    notice = Notice(event="firing", incident=upstream, members=members)
    text = Message(notices=(notice,), team="rrt-dong-nai", language="en").text(2000)
    assert text.startswith("🔴 CRITICAL · Upstream incident: 50 communes behind dn-agg-bienhoa failing\n")
    assert "Communes (50): Xã Số 0, Xã Số 1" in text and "and 30 more" in text
    assert "no need to handle each commune" in text


def test_a_long_group_fits_zalo_and_says_how_many_were_left_out() -> None:
    text = message(40).text(2000)
    assert len(text) <= 2000
    assert text.startswith("netmon · rrt-dong-nai: 40 sự cố mới\n")
    shown = text.count("Sự cố #")
    assert 1 <= shown < 40 and f"… và {40 - shown} sự cố khác (xem: netmon alerts list)" in text


def test_one_huge_incident_is_cut_not_dropped() -> None:
    members = [Member(site_id=str(i), name="Xã " + "Dài" * 50) for i in range(200)]
    upstream = incident(1, kind="upstream", rule="UpstreamDown", site_id=None, member_count=200, upstream="core")
    text = Message(notices=(Notice(event="firing", incident=upstream, members=members),)).text(2000)
    assert len(text) <= 2000 and text.startswith("🔴 NGHIÊM TRỌNG · Sự cố tuyến trên: 200 xã/phường")


def test_resolve_text_and_subject() -> None:
    msg = message(1, event="resolved")
    text = msg.text(4096)
    assert text.splitlines()[0] == "✅ ĐÃ KHẮC PHỤC · Đường truyền sắp hết băng thông hợp đồng"
    assert "Kéo dài: 13 phút (08:02:00 01/07/2025 → 08:15:00 01/07/2025) · Hiện tại: 31 %" in text
    assert msg.subject() == "[netmon] ĐÃ KHẮC PHỤC: Đường truyền sắp hết băng thông hợp đồng — Phường Tân Phong 1"
    assert msg.created_at == T0 + 900
