from odoo import models


class RetainerLedgerEntry(models.Model):
    _inherit = "retainer.ledger.entry"

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
