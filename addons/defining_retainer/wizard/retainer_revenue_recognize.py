from odoo import fields, models


class RetainerRevenueRecognize(models.TransientModel):
    """ "Recognise revenue up to…": the monthly job, run by hand for any past
    date (a month end after a late correction, a first run)."""

    _name = "retainer.revenue.recognize"
    _description = "Recognise Retainer Revenue"

    date = fields.Date(
        string="Recognise up to",
        required=True,
        default=lambda self: self.env[
            "retainer.revenue.line"
        ]._retainer_last_closed_day(),
    )
    company_ids = fields.Many2many(
        "res.company",
        string="Companies",
        required=True,
        default=lambda self: self.env.companies.filtered("retainer_defer_revenue"),
        domain=lambda self: [("id", "in", self.env.user.company_ids.ids)],
    )

    def action_recognize(self):
        self.ensure_one()
        moves = self.env["retainer.revenue.line"]._retainer_recognize(
            self.date, self.company_ids
        )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_journal_line"
        )
        action["domain"] = [("id", "in", moves.ids)]
        action["context"] = {}
        if len(moves) == 1:
            action.update(
                {"res_id": moves.id, "views": [(False, "form")], "view_mode": "form"}
            )
        elif not moves:
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "type": "info",
                    "message": self.env._(
                        "Nothing to recognise: all retainer revenue up to %(date)s "
                        "is recognised.",
                        date=self.date,
                    ),
                    "next": {"type": "ir.actions.act_window_close"},
                },
            }
        return action
