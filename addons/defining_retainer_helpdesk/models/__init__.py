from . import account_analytic_line
from . import helpdesk_sla
from . import helpdesk_ticket
from . import helpdesk_ticket_channel
from . import helpdesk_ticket_sla
from . import retainer_level
from . import retainer_contract
