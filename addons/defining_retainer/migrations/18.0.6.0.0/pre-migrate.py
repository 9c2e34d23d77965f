"""Audited items get a support status (from the catalogue, or set by staff
with a reason): the status of an item recorded before is its "supported"
tick, kept here before the new computed column would be filled from a
technology the item does not have."""

from odoo.tools import SQL


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        SQL(
            "ALTER TABLE retainer_audit_line "
            "ADD COLUMN IF NOT EXISTS support_status varchar"
        )
    )
    cr.execute(
        SQL(
            "UPDATE retainer_audit_line SET support_status = CASE WHEN supported "
            "IS FALSE THEN 'not_supported' ELSE 'supported' END "
            "WHERE support_status IS NULL"
        )
    )
