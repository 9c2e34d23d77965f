"""The items of the audits recorded before audits were records of their own
become the assets of a first audit of their retainer (see
``retainer.audit._retainer_adopt_legacy_lines``)."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["retainer.audit"]._retainer_adopt_legacy_lines()
