/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on TestTimesheetTour.test_timesheet_tour (tests/test_timesheet_tour.py):
// the task "Server move" is on a project whose retainer has 4 units (1 h)
// left, with the Allow and warn overdraft policy.

registry.category("web_tour.tours").add("defining_retainer_timesheet_tour", {
    steps: () => [
        {
            content: "The task of a retainer project shows its contact type",
            trigger: ".o_form_view .o_field_widget[name=retainer_contact_type] select",
        },
        {
            content: "Open the timesheets tab",
            trigger: ".o_notebook a[name=page_timesheets]",
            run: "click",
        },
        {
            content: "Time already logged shows its units, not today's balance as if it were its own",
            trigger: ".o_field_widget[name=timesheet_ids] .o_data_row:contains(Preparation):has(td[name=retainer_charged_units]:contains(52)):not(:has(td[name=retainer_balance_units]:contains(4)))",
        },
        {
            content: "Log time",
            trigger: ".o_field_widget[name=timesheet_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=timesheet_ids] .o_selected_row .o_field_widget[name=name] input",
            run: "edit Server move, first part",
        },
        {
            trigger: ".o_field_widget[name=timesheet_ids] .o_selected_row .o_field_widget[name=unit_amount] input",
            run: "edit 02:00 && press Tab",
        },
        {
            content: "Before saving: the time overdraws the retainer",
            trigger: ".modal .modal-body:contains(has 4 units (1 h) left and this time needs 8 units (2 h): saving overdraws it)",
        },
        {
            trigger: ".modal .modal-footer button:contains(Close)",
            run: "click",
        },
        {
            content: "The new line costs 8 units",
            trigger: ".o_field_widget[name=timesheet_ids] .o_data_row td[name=retainer_charged_units]:contains(8)",
        },
        {
            content: "Save the task",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
        {
            content: "Saved rows show what they used, and no balance that is not theirs",
            trigger: ".o_field_widget[name=timesheet_ids] .o_data_row:contains(Server move, first part):has(td[name=retainer_charged_units]:contains(8)):not(:has(td[name=retainer_balance_units]:contains(-4)))",
        },
    ],
});
