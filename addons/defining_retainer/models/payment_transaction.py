from odoo import models
from odoo.tools import str2bool


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    def _check_amount_and_confirm_order(self):
        """Invoice at once the retainer top-ups that an online payment
        confirms, as Odoo's "Automatic Invoice" setting does for every order:
        sale's post-processing then posts the invoice and reconciles the
        payment with it, so the units are credited at once whatever the
        company's credit trigger (on confirmation, invoice posted or paid),
        and the customer's payment never waits unreconciled.

        Only orders this call confirms are invoiced: a payment notified twice
        (a provider retrying its webhook) confirms nothing the second time,
        and invoices nothing more.
        """
        confirmed = super()._check_amount_and_confirm_order()
        # sudo: reading a system parameter; sale reads it the same way.
        if str2bool(
            self.env["ir.config_parameter"].sudo().get_param("sale.automatic_invoice")
        ):
            return confirmed  # sale invoices every paid order itself
        topups = confirmed.filtered(
            lambda order: (
                order.retainer_id
                and any(order.order_line.mapped("retainer_product_units"))
            )
        )
        self.filtered(
            lambda tx: tx.state == "done" and tx.sale_order_ids & topups
        )._invoice_sale_orders()
        return confirmed
