from . import mail_message
from . import product_template
from . import res_company
from . import res_config_settings
from . import retainer_contract
from . import retainer_ledger_entry
