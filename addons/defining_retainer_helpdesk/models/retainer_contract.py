from collections import defaultdict

from odoo import models


class RetainerContract(models.Model):
    _inherit = "retainer.contract"

    def _statement_data_by_contract(self, date_from, date_to):
        """Add ``tickets`` to each statement: the usage of the period that
        came from tickets, per ticket (list of ``(ticket, timesheets, units,
        hours)``: the number of timesheets, the units and billed hours used
        net of corrections; by ticket number)."""
        statements = super()._statement_data_by_contract(date_from, date_to)
        Ledger = self.env["retainer.ledger.entry"]
        usage_by_statement = {
            contract_id: Ledger.concat(
                *(
                    entry
                    for entry, _balance in statement["lines"]
                    if entry.effective_kind == "debit"
                )
            )
            for contract_id, statement in statements.items()
        }
        # One read of all the statements' timesheets, one of their tickets.
        usage = Ledger.concat(*usage_by_statement.values())
        usage.timesheet_id.ticket_id.mapped("number")
        for contract_id, statement in statements.items():
            by_ticket = defaultdict(list)
            for entry in usage_by_statement[contract_id]:
                ticket = entry.timesheet_id.ticket_id
                if ticket:
                    by_ticket[ticket].append(entry)
            statement["tickets"] = [
                (
                    ticket,
                    len({entry.timesheet_id for entry in entries}),
                    -sum(entry.units for entry in entries),
                    sum(entry.billed_hours for entry in entries),
                )
                for ticket, entries in sorted(
                    by_ticket.items(), key=lambda item: item[0].number or ""
                )
            ]
        return statements
