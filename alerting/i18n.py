"""Message words in Vietnamese (default) and English; a title and a "what to check first" line per rule.

A custom rule brings its own through annotations: ``summary`` / ``check_first`` (any
language) or ``summary_vi`` / ``summary_en`` / ``check_first_vi`` / ``check_first_en``.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "critical": "NGHIÊM TRỌNG", "warning": "CẢNH BÁO", "resolved": "ĐÃ KHẮC PHỤC",
        "escalation": "CHUYỂN CẤP — chưa ai xác nhận sau {after}",
        "site": "Xã/phường", "province": "Tỉnh/TP", "district": "Khu vực", "link": "Đường truyền",
        "platform": "Nền tảng", "target": "Đích đo", "upstream": "Điểm tập trung", "since": "Từ lúc",
        "now": "Hiện tại", "limit": "ngưỡng", "last_good": "Giá trị tốt gần nhất", "check": "Kiểm tra trước",
        "dashboard": "Biểu đồ", "incident": "Sự cố", "ack_hint": "xác nhận: netmon alerts ack {id}",
        "lasted": "Kéo dài", "silent_for": "Không nhận dữ liệu", "communes": "Các xã/phường",
        "and_more": "và {n} xã/phường khác", "more_incidents": "… và {n} sự cố khác (xem: netmon alerts list)",
        "summary_new": "{n} sự cố mới", "summary_resolved": "{n} đã khắc phục", "summary_escalated": "{n} chuyển cấp",
        "changed": "có thay đổi", "ago": "trước",
        "meanwhile": "Trong thời gian đó (số liệu đến sau, sự cố đã hết, không báo riêng)",
        "lan": "mạng LAN nội bộ", "leased_line": "đường thuê bao Internet", "data_network": "mạng TSLCD",
        "second": "giây", "minute": "phút", "hour": "giờ", "day": "ngày",
    },
    "en": {
        "critical": "CRITICAL", "warning": "WARNING", "resolved": "RESOLVED",
        "escalation": "ESCALATED — not acknowledged after {after}",
        "site": "Commune", "province": "Province", "district": "District", "link": "Link",
        "platform": "Platform", "target": "Target", "upstream": "Upstream", "since": "Since",
        "now": "Now", "limit": "limit", "last_good": "Last good value", "check": "Check first",
        "dashboard": "Dashboard", "incident": "Incident", "ack_hint": "ack: netmon alerts ack {id}",
        "lasted": "Lasted", "silent_for": "No results for", "communes": "Communes",
        "and_more": "and {n} more", "more_incidents": "… and {n} more incidents (see: netmon alerts list)",
        "summary_new": "{n} new", "summary_resolved": "{n} resolved", "summary_escalated": "{n} escalated",
        "changed": "changed", "ago": "ago",
        "meanwhile": "Meanwhile (from results that came late; over, not sent on their own)",
        "lan": "office LAN", "leased_line": "leased Internet line", "data_network": "government data network",
        "second": "s", "minute": "min", "hour": "h", "day": "d",
    },
}

# rule -> language -> (title, what to check first)
RULES: dict[str, dict[str, tuple[str, str]]] = {
    "LinkUtilisationHigh": {
        "vi": ("Đường truyền sắp hết băng thông hợp đồng",
               "Xem thiết bị nào đang dùng nhiều băng thông (cập nhật phần mềm, camera, sao lưu); nếu tải cao "
               "thường xuyên, đề nghị nhà mạng nâng tốc độ hợp đồng."),
        "en": ("Link utilisation of the contracted rate high",
               "Find what is using the bandwidth (updates, cameras, backups); if the load is genuine and recurring, "
               "ask the carrier to raise the contracted rate."),
    },
    "LinkDown": {
        "vi": ("Mất kết nối đường truyền (máy đo vẫn hoạt động)",
               "Kiểm tra nguồn và đèn tín hiệu của modem/router của đường truyền này, rồi gọi tổng đài kỹ thuật "
               "của nhà mạng."),
        "en": ("Link down (the probe agent is still reporting)",
               "Check the power and signal lights of this link's modem/router, then call the carrier's support line."),
    },
    "LinkLossHigh": {
        "vi": ("Mất gói cao", "Kiểm tra dây cáp, cổng mạng và mức tải đường truyền; nếu đường truyền không tải mà "
                              "vẫn mất gói, báo nhà mạng."),
        "en": ("High packet loss", "Check cables, ports and the link's load; loss on an idle line is for the carrier."),
    },
    "LinkRttHigh": {
        "vi": ("Độ trễ cao", "Xem đường truyền có đang bị dùng hết băng thông không (biểu đồ sử dụng); nếu không, "
                             "báo nhà mạng kèm thời điểm."),
        "en": ("High latency", "See whether the link is saturated (utilisation graph); if not, report it to the "
                               "carrier with the times."),
    },
    "LinkJitterHigh": {
        "vi": ("Độ biến động trễ (jitter) cao — họp trực tuyến sẽ bị giật",
               "Kiểm tra tải đường truyền và Wi-Fi văn phòng; ưu tiên lưu lượng họp trực tuyến nếu router hỗ trợ."),
        "en": ("High jitter — online meetings will stutter",
               "Check the link's load and the office Wi-Fi; prioritise meeting traffic if the router supports it."),
    },
    "LinkRttAboveBaseline": {
        "vi": ("Độ trễ tăng bất thường so với thường ngày",
               "So với biểu đồ sử dụng: nếu đường truyền đầy thì giảm tải; nếu không, tuyến có thể đã bị đổi — "
               "báo nhà mạng."),
        "en": ("Latency far above this link's usual",
               "Compare with the utilisation graph: if the link is full, reduce the load; if not, the route may "
               "have changed — tell the carrier."),
    },
    "SiteSilent": {
        "vi": ("Mất liên lạc với máy đo tại xã (không nhận được dữ liệu)",
               "Gọi cán bộ CNTT của xã kiểm tra máy đo còn điện và mạng không; nếu nhiều xã cùng mất, kiểm tra "
               "tuyến trên."),
        "en": ("Site silent (no results arriving)",
               "Call the commune's IT contact to check the probe box has power and network; if many communes are "
               "silent, check the upstream."),
    },
    "PlatformUnreachable": {
        "vi": ("Không truy cập được nền tảng dùng chung",
               "Thử mở nền tảng từ máy khác tại xã; nếu chỉ xã này lỗi, kiểm tra đường truyền TSLCD và DNS; nếu "
               "nhiều xã cùng lỗi, báo trung tâm dữ liệu tỉnh."),
        "en": ("Shared platform unreachable",
               "Try the platform from another computer at the commune; if only this commune fails, check the "
               "data-network link and DNS; if many fail, call the provincial data centre."),
    },
    "PlatformSlow": {
        "vi": ("Nền tảng dùng chung phản hồi chậm",
               "Xem độ trễ và mức sử dụng đường truyền của xã; nếu đường truyền bình thường, báo trung tâm dữ liệu "
               "tỉnh."),
        "en": ("Shared platform slow",
               "Check the commune's latency and utilisation; if the link is fine, call the provincial data centre."),
    },
    "ThroughputBelowContract": {
        "vi": ("Tốc độ đo được thấp hơn nhiều so với hợp đồng",
               "Đo lại ngoài giờ cao điểm; nếu vẫn thấp, gửi kết quả đo cho nhà mạng để yêu cầu đúng tốc độ "
               "hợp đồng."),
        "en": ("Measured throughput far below the contracted rate",
               "Measure again off-peak; if still low, send the results to the carrier and ask for the "
               "contracted rate."),
    },
    "InterfaceErrors": {
        "vi": ("Lỗi trên cổng router tăng",
               "Kiểm tra, thay dây cáp/đầu nối hoặc module quang; xem tốc độ/duplex hai đầu có khớp không."),
        "en": ("Interface errors rising",
               "Check or replace the cable, connectors or optics; check speed/duplex match on both ends."),
    },
    "InterfaceDiscards": {
        "vi": ("Gói tin bị loại bỏ trên cổng router tăng",
               "Thường do đường truyền quá tải (xem biểu đồ sử dụng); nếu không tải, kiểm tra cấu hình router."),
        "en": ("Interface discards rising",
               "Usually a saturated link (see the utilisation graph); if it is idle, check the router's "
               "configuration."),
    },
    "LanGatewayDown": {
        "vi": ("Gateway mạng LAN văn phòng không phản hồi", "Kiểm tra nguồn và dây của router/modem văn phòng."),
        "en": ("Office LAN gateway not answering", "Check the power and cabling of the office router/modem."),
    },
    "GatewayMacChanged": {
        "vi": ("Địa chỉ MAC của gateway mạng LAN thay đổi",
               "Hỏi xem router có vừa được thay không; nếu không, có thể bị giả mạo ARP — tìm thiết bị lạ trong LAN."),
        "en": ("LAN gateway MAC address changed",
               "Ask whether the router was just replaced; if not, this may be ARP spoofing — look for "
               "unknown devices."),
    },
    "UpstreamDown": {
        "vi": ("Sự cố tuyến trên: {n} xã/phường sau {upstream} cùng lỗi",
               "Kiểm tra thiết bị và đường truyền tại điểm tập trung {upstream}; báo ngay nhà mạng — không cần "
               "xử lý từng xã."),
        "en": ("Upstream incident: {n} communes behind {upstream} failing",
               "Check the equipment and links at aggregation point {upstream}; call the carrier — no need to handle "
               "each commune."),
    },
    "PlatformAggregate": {
        "vi": ("Nền tảng {target}: {n} xã/phường cùng lỗi ({what})",
               "Sự cố ở nền tảng hoặc trung tâm dữ liệu tỉnh, không phải tại từng xã: báo đơn vị vận hành nền tảng."),
        "en": ("Platform {target}: {n} communes failing ({what})",
               "The fault is at the platform or the provincial data centre, not at each commune: call the "
               "platform's operator."),
    },
}


def word(language: str, key: str) -> str:
    return WORDS.get(language, WORDS["vi"]).get(key, key)


def rule_text(rule: str, language: str, annotations: dict[str, str]) -> tuple[str, str]:
    """(title, check-first line) for ``rule``: the rule's own annotations first, then ours."""
    builtin = RULES.get(rule, {}).get(language) or RULES.get(rule, {}).get("vi") or (rule, "")
    title = annotations.get(f"summary_{language}") or annotations.get("summary") or builtin[0]
    check = annotations.get(f"check_first_{language}") or annotations.get("check_first") or builtin[1]
    return title, check
