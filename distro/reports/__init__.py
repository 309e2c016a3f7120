"""Send reports: what happened to every recipient of a send, in total and broken down.

``build_report`` reads the summary the event store keeps (``distro.tracking.summary``), so a
report costs the same whether the send had a hundred events or millions. Outputs: a table
(``distro.cli.report_view``), JSON (``SendReport.as_dict``), CSV (``distro.reports.csv_out``)
and a self-contained HTML page with SVG charts (``distro.reports.html``).
"""

from distro.reports.build import build_report, prepare_report, sends_to_prepare
from distro.reports.model import SendReport

__all__ = ["SendReport", "build_report", "prepare_report", "sends_to_prepare"]
