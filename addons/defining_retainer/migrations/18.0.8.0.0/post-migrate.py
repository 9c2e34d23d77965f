"""Sortable urgency: the retainer list sorts by run-out date and expiring
units, stored on each retainer (``urgency_forecast_date``,
``urgency_expiring_units``) and refreshed by the daily expiry job and by
postings that change blocks. Fill them once for the retainers in place."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["retainer.contract"]._cron_refresh_urgency()
