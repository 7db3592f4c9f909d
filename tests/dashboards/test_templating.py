"""Grafana's interpolation of InfluxQL variables and its interval arithmetic, on known cases."""

from __future__ import annotations

from netmon.dashboards.templating import Variable, format_value, interpolate
from netmon.lab.grafana_interval import grafana_interval_seconds
from tests.dashboards.selections import all_selected, several


def test_values_are_regex_escaped_and_multi_values_grouped() -> None:
    assert format_value(Variable.single("Hồ Chí Minh")) == "Hồ Chí Minh"
    assert format_value(Variable.single("26740.2")) == r"26740\.2"
    assert format_value(Variable.single("a/b(c)")) == r"a\/b\(c\)"
    assert format_value(several(["26734", "26740.2"])) == r"(26734|26740\.2)"
    assert format_value(all_selected()) == ".*"


def test_every_variable_syntax_and_the_backend_macros() -> None:
    query = ('SELECT mean("x") FROM "m" WHERE "s" =~ /^$site$/ AND "l" =~ /^${link}$/ AND "p" =~ /^[[province]]$/ '
             "AND $timeFilter GROUP BY time($__interval) -- $__interval_ms $unknown")
    variables = {"site": several(["1", "2"]), "link": all_selected(), "province": Variable.single("P")}
    assert interpolate(query, variables, time_from_ms=1000, time_to_ms=2000, interval_seconds=300) == (
        'SELECT mean("x") FROM "m" WHERE "s" =~ /^(1|2)$/ AND "l" =~ /^.*$/ AND "p" =~ /^P$/ '
        "AND time >= 1000ms and time <= 2000ms GROUP BY time(5m) -- 300000 $unknown")


def test_interval_is_rounded_like_grafana() -> None:
    assert grafana_interval_seconds(6 * 3600, 100) == 300  # 216 s -> 5m
    assert grafana_interval_seconds(3600, 900, 10) == 10  # 4 s -> 5 s, raised to the datasource's 10 s
    assert grafana_interval_seconds(3600, 100, 60) == 60  # 36 s -> 30 s, raised to the panel's 1m
    assert grafana_interval_seconds(30 * 86400, 1800) == 1200  # 1440 s -> 20m
