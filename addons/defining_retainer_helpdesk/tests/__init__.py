from . import test_portal_tickets
from . import test_portal_ticket_tour
from . import test_portal_ticket_screenshots
