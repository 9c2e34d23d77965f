/** @odoo-module **/

import { registry } from "@web/core/registry";

// Relies on the data of RetainerBuyCommon (tests/test_portal_buy.py): the
// customer's retainer has 40 units left, its company sells "Portal retainer
// day" (28 units) on the portal and the demo provider is its only provider.

function buyOneDaySteps(simulatedState) {
    return [
        {
            content: "The retainer page shows the balance before buying",
            trigger: ".o_retainer_balance_units:contains('40')",
        },
        {
            content: "Buy one day: the offer shows its units and price",
            trigger: ".o_retainer_buy_form:contains('Portal retainer day'):contains('28 units')",
        },
        {
            trigger:
                ".o_retainer_buy_form:contains('Portal retainer day') .o_retainer_buy_submit",
            run: "click",
        },
        {
            content: "Odoo's quotation page asks for the payment",
            trigger: "#o_sale_portal_paynow",
            run: "click",
        },
        {
            content: "Enter the demo card",
            trigger: "#modalaccept #customer_input",
            run: "edit 4242424242424242",
        },
        {
            content: `The demo provider answers '${simulatedState}'`,
            trigger: "#modalaccept #simulated_payment_state",
            run: `select ${simulatedState}`,
        },
        {
            trigger: "#modalaccept button[name='o_payment_submit_button']:enabled",
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("defining_retainer_portal_buy_tour", {
    steps: () => [
        ...buyOneDaySteps("done"),
        {
            content: "Back on the retainer page: paid, 28 more units",
            trigger: ".o_retainer_purchase_paid:contains('28 units')",
        },
        {
            trigger: ".o_retainer_balance_units:contains('68')",
        },
    ],
});

registry.category("web_tour.tours").add("defining_retainer_portal_buy_failed_tour", {
    steps: () => [
        ...buyOneDaySteps("error"),
        {
            content: "Back on the retainer page: the payment failed, balance unchanged",
            trigger: ".o_retainer_purchase_failed:contains('did not go through')",
        },
        {
            trigger: ".o_retainer_balance_units:contains('40')",
        },
    ],
});
