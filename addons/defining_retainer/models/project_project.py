from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ProjectProject(models.Model):
    _inherit = "project.project"

    retainer_id = fields.Many2one(
        "retainer.contract",
        check_company=True,
        index="btree_not_null",
        tracking=True,
        domain="[('state', 'in', ('draft', 'audit', 'active', 'suspended'))]",
        help="New timesheets on this project consume this retainer. Time "
        "already recorded keeps the retainer it was logged on.",
    )

    @api.onchange("retainer_id")
    def _onchange_retainer_id(self):
        if self.retainer_id and not self.partner_id:
            self.partner_id = self.retainer_id.partner_id

    @api.constrains("retainer_id", "partner_id")
    def _check_retainer_partner(self):
        for project in self.filtered("retainer_id"):
            if (
                project.partner_id
                and project.partner_id.commercial_partner_id
                != project.retainer_id.partner_id.commercial_partner_id
            ):
                raise ValidationError(
                    self.env._(
                        "Project %(project)s is for %(customer)s but retainer "
                        "%(retainer)s belongs to %(owner)s.",
                        project=project.name,
                        customer=project.partner_id.display_name,
                        retainer=project.retainer_id.name,
                        owner=project.retainer_id.partner_id.display_name,
                    )
                )
