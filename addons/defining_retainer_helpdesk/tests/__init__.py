from . import test_portal_tickets
