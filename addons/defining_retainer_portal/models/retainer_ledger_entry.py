from datetime import timedelta

from odoo import models

from odoo.addons.defining_retainer.models.retainer_contract_block import (
    EXPIRING_SOON_DAYS,
)


class RetainerLedgerEntry(models.Model):
    _inherit = "retainer.ledger.entry"

    def _portal_description(self):
        """Customer-facing text of the entry.

        Usage shows the work description. Credits, adjustments and expiries
        show their reason: a manager writes it for the customer. The reasons
        of debits and reversals are internal ("Timesheet changed") and never
        shown.
        """
        self.ensure_one()
        if self.kind in ("credit", "adjustment", "expiry"):
            return self.reason or self.name or ""
        return self.name or ""

    def _portal_kind_label(self):
        """Customer-facing name of the kind of the entry."""
        self.ensure_one()
        if self.kind == "reversal":
            if self.effective_kind == "credit":
                return self.env._("Top-up cancelled")
            return self.env._("Correction")
        if self.kind == "credit" and self.block_entry_id:
            return self.env._("Rolled over")
        return {
            "credit": self.env._("Top-up"),
            "debit": self.env._("Usage"),
            "adjustment": self.env._("Adjustment"),
            "expiry": self.env._("Expiry"),
        }.get(self.kind, "")

    def _portal_documents(self):
        """Return ``{entry id: {"order": sale.order, "invoice": account.move}}``
        for the entries of ``self`` that come from an order or an invoice of
        their retainer's customer (posted invoices only).

        Records are returned as read by ``self`` (sudo on the portal, after
        its access check).
        """
        documents = {}
        for entry in self:
            customer = entry.contract_id.partner_id.commercial_partner_id
            found = {}
            order = entry.sale_line_id.order_id
            if order and order.partner_id.commercial_partner_id == customer:
                found["order"] = order
            invoice = entry.invoice_id
            if (
                invoice
                and invoice.state == "posted"
                and invoice.partner_id.commercial_partner_id == customer
            ):
                found["invoice"] = invoice
            if found:
                documents[entry.id] = found
        return documents

    def _portal_expiring(self, today):
        """Return ``[(expiry date, units)]``, by date, of the blocks of
        ``self`` whose remaining units expire within ``EXPIRING_SOON_DAYS``
        days of ``today`` (what the "N units expire on DATE" notices say).
        Reads the computed block figures of ``self`` (one replay)."""
        horizon = today + timedelta(days=EXPIRING_SOON_DAYS)
        expiring = {}
        for block in self:
            if (
                block.is_block
                and block.expiry_date
                and today <= block.expiry_date <= horizon
                and block.remaining_units
            ):
                expiring[block.expiry_date] = (
                    expiring.get(block.expiry_date, 0) + block.remaining_units
                )
        return sorted(expiring.items())
