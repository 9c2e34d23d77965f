from . import portal_ticket
