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

    # === ONCHANGE METHODS === #

    @api.onchange("retainer_id")
    def _onchange_retainer_id(self):
        if self.retainer_id and not self.partner_id:
            self.partner_id = self.retainer_id.partner_id

    # === CONSTRAINT METHODS === #

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

    @api.constrains("retainer_id", "company_id")
    def _check_retainer_company(self):
        # The timesheets of a project are of its company: a retainer of
        # another company could never take them.
        for project in self.filtered("retainer_id"):
            if project.company_id != project.retainer_id.company_id:
                raise ValidationError(
                    self.env._(
                        "Project %(project)s belongs to %(company)s but retainer "
                        "%(retainer)s belongs to %(other)s: a project can only "
                        "use a retainer of its own company.",
                        project=project.name,
                        company=project.company_id.name or self.env._("no company"),
                        retainer=project.retainer_id.name,
                        other=project.retainer_id.company_id.name,
                    )
                )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("retainer_id") and "company_id" not in vals:
                vals["company_id"] = self._retainer_company_id(vals["retainer_id"])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("retainer_id") and "company_id" not in vals:
            # A project without company takes its new retainer's company.
            without_company = self.filtered(lambda project: not project.company_id)
            if without_company:
                company_id = self._retainer_company_id(vals["retainer_id"])
                super(ProjectProject, without_company).write(
                    vals | {"company_id": company_id}
                )
                return super(ProjectProject, self - without_company).write(vals)
        return super().write(vals)

    @api.model
    def _retainer_company_id(self, retainer_id):
        # sudo: only reads the company of the retainer being linked, so the
        # project gets it; the user's access to the retainer is checked as
        # usual on the project's own fields.
        return self.env["retainer.contract"].sudo().browse(retainer_id).company_id.id
